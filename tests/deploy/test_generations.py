"""Generations: the store, hot reload, skew protection and rolling deploys, in process."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from e2e_support import deploy_example
from mendel_py.cli.main import cli
from mendel_py.compiler import build_manifests
from mendel_py.config import load_config
from mendel_py.core import hashcodec
from mendel_py.core.generations import CONFIG_FILE, generation_config, generation_tag, manifest_tag
from mendel_py.core.manifest_cache import file_digest
from mendel_py.core.trees import MendelTrees
from mendel_py.deploy.publish import PublishingStore
from mendel_py.errors import ConfigError, HashError, ManifestError, MendelError
from mendel_py.serving.wsgi import MendelMiddleware, pass_through_app

REPO = Path(__file__).resolve().parents[2]
BUTTON = Path("examples/shop/src/variations/bucket_A/components/button.js")


def make_project(dest: Path) -> Path:
    shutil.copy(REPO / ".mendelrc", dest / ".mendelrc")
    shutil.copytree(REPO / "examples" / "shop" / "src", dest / "examples" / "shop" / "src")
    deploy(dest)
    return dest


def deploy(project: Path, marker: str | None = None) -> str:
    return deploy_example(project, marker)


def app(environ, start_response):  # a page that embeds the bundle URL
    resolver = environ["mendel"]
    resolver.set_variations(["bucket_A"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [resolver.bundle_url("main").encode()]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_build_publishes_a_current_generation(project: Path) -> None:
    store = PublishingStore.for_config(load_config(project))
    assert store is not None and store.exists()
    [info] = store.list()
    assert store.current_id() == info.id and set(info.bundles) == {"main", "css"}
    assert deploy(project) == info.id  # the same build is the same generation
    assert len(store.list()) == 1


def test_tagged_hashes_carry_their_own_manifests_tag(project: Path) -> None:
    """SPEC §4: the tag is the start of the digest of the bundle's own manifest."""
    trees = MendelTrees(str(project))
    chains = trees.variations_and_chains(["bucket_A"])[1]
    for bundle in ("main", "css"):
        decoded = hashcodec.decode(trees.find_tree_for_variations(bundle, chains).hash)
        digest = file_digest(str(Path(trees.store.path) / trees.generation / f"{bundle}.manifest.json"))
        assert decoded.generation == manifest_tag(digest) != generation_tag(trees.generation)


def test_a_deploy_keeps_the_urls_of_unchanged_bundles(project: Path) -> None:
    """A JS-only deploy leaves every CSS URL as it was; a change of experiment weights (the
    .mendelrc only) changes no URL at all."""
    chains_for = lambda t: t.variations_and_chains(["bucket_A"])[1]  # noqa: E731
    trees = MendelTrees(str(project))
    before = {b: trees.find_tree_for_variations(b, chains_for(trees)).hash for b in ("main", "css")}
    first = trees.generation
    deploy(project, "js only")
    trees.reload()
    after = {b: trees.find_tree_for_variations(b, chains_for(trees)).hash for b in ("main", "css")}
    assert trees.generation != first
    assert after["css"] == before["css"] and after["main"] != before["main"]
    rc = project / ".mendelrc"
    rc.write_text(rc.read_text() + "\n# weights changed\n")
    third = deploy(project)
    trees.reload()
    assert trees.generation == third not in (first,)
    assert {b: trees.find_tree_for_variations(b, chains_for(trees)).hash for b in ("main", "css")} == after


def test_urls_minted_with_the_old_generation_wide_tag_keep_decoding(project: Path) -> None:
    trees = MendelTrees(str(project))
    chains = trees.variations_and_chains(["bucket_A"])[1]
    tree = trees.find_tree_for_variations("main", chains)
    decoded = hashcodec.decode(tree.hash)
    old_form = hashcodec.get_format("v3", None, generation_tag(trees.generation))
    old_url = old_form.encode(decoded.branches, decoded.file_count, decoded.digest)
    deploy(project, "later")
    fresh = MendelTrees(str(project))  # another process, on the next generation
    assert fresh.find_tree_for_hash("main", old_url).files == tree.files


def test_reload_swaps_and_old_urls_keep_their_bytes(project: Path) -> None:
    middleware = MendelMiddleware(app, str(project), reload_interval=None)
    client = Client(middleware)
    old_url = client.get("/").get_data(as_text=True)
    old = client.get(old_url, headers={"Accept-Encoding": "gzip"})
    old_identity = client.get(old_url)
    first = middleware.trees.generation

    second = deploy(project, "two")
    assert middleware.trees.reload() == second != first
    new_url = client.get("/").get_data(as_text=True)
    assert new_url != old_url
    assert b"deploy two" in client.get(new_url).data

    again = client.get(old_url, headers={"Accept-Encoding": "gzip"})
    assert again.status_code == 200 and again.data == old.data and again.headers["ETag"] == old.headers["ETag"]
    middleware.cache.clear()  # not from the bundle cache: rebuilt from the retained generation
    fresh = client.get(old_url)
    assert fresh.data == old_identity.data and fresh.headers["ETag"] == old_identity.headers["ETag"]
    assert b"deploy two" not in fresh.data


def test_a_new_process_serves_urls_of_every_retained_generation(project: Path) -> None:
    urls = []
    for n in range(4):
        deploy(project, f"gen{n}")
        middleware = MendelMiddleware(app, str(project), reload_interval=None)
        urls.append((Client(middleware).get("/").get_data(as_text=True), n))
    fresh = Client(MendelMiddleware(app, str(project), reload_interval=None))
    for url, n in urls:
        response = fresh.get(url)
        assert response.status_code == 200 and f"deploy gen{n}".encode() in response.data


def test_untagged_mendel_v1_hashes_fall_back_to_past_generations(project: Path) -> None:
    old = MendelTrees(str(project), hash_format="mendel-v1")
    chains = old.variations_and_chains(["bucket_A"])[1]
    old_hash = old.find_tree_for_variations("main", chains).hash
    deploy(project, "next")
    trees = MendelTrees(str(project), hash_format="mendel-v1")
    assert trees.find_tree_for_variations("main", chains).hash != old_hash
    tree = trees.find_tree_for_hash("main", old_hash)
    assert "deploy next" not in "".join(f["source"] for f in tree.files)


def test_unknown_generation_tag_is_hashmiss_and_a_404_no_store(project: Path) -> None:
    trees = MendelTrees(str(project))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains(["bucket_A"])[1])
    decoded = hashcodec.decode(tree.hash)
    fmt = hashcodec.get_format("v3", None, b"\x00\x11\x22\x33")
    stranger = fmt.encode(decoded.branches, decoded.file_count, decoded.digest)
    with pytest.raises(HashError) as caught:
        trees.find_tree_for_hash("main", stranger)
    assert caught.value.code == "HASHMISS"
    response = Client(MendelMiddleware(app, trees, reload_interval=None)).get(f"/mendel/{stranger}/main.js")
    assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"


def test_servers_never_publish_what_is_on_their_disk(project: Path) -> None:
    """Only the deploy step writes the store: a server with other (or broken) manifests on its
    disk keeps serving CURRENT, at start-up and on reload, and publishes nothing."""
    trees = MendelTrees(str(project))
    good = trees.generation
    store = trees.store
    manifest = project / "manifests" / "main.manifest.json"
    cart = project / "examples" / "shop" / "src" / "base" / "components" / "cart.js"
    cart.write_text(cart.read_text() + "\n// only built, not published\n")
    build_manifests(load_config(project))  # a build on this host without publishing
    assert trees.reload() == good and MendelTrees(str(project)).generation == good
    assert trees.status()["serving_from"] == "store"
    inspecting = MendelTrees(str(project), follow_current=False)  # what `mendel resolve` looks at
    assert inspecting.generation not in (None, good) and inspecting.store is not None
    manifest.write_text(manifest.read_text()[:500])  # truncated mid-write
    assert trees.reload() == good and MendelTrees(str(project)).generation == good
    assert store.current_id() == good and len(store.list()) == 1


def test_the_deploy_step_refuses_a_corrupt_manifest(project: Path) -> None:
    good = PublishingStore.for_config(load_config(project)).current_id()
    manifest = project / "manifests" / "main.manifest.json"
    manifest.write_text(manifest.read_text()[:500])
    result = CliRunner().invoke(cli, ["reload", "--basedir", str(project)])
    assert result.exit_code == 1 and "main.manifest.json" in result.output
    store = PublishingStore.for_config(load_config(project))
    assert store.current_id() == good and len(store.list()) == 1
    assert not [n for n in os.listdir(store.path) if n.startswith(".tmp-")]


def corrupt_stored(
    store: PublishingStore, generation: str, name: str = "main.manifest.json", how: str = "flip"
) -> Path:
    """Damage a stored file in place: one byte flipped (same length: bit rot, a bad copy), a
    same-length flip inside a dependency key, truncated to half, or emptied."""
    path = Path(store.path) / generation / name
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[data.index(b'"source"') + 12] ^= 0x01
    elif how == "dep-key":
        found = re.search(rb'"deps": ?\{\s*"', data)
        assert found is not None
        data[found.end()] ^= 0x01  # the first letter of a dependency specifier
    elif how == "truncate":
        del data[len(data) // 2:]
    else:
        data.clear()
    path.write_bytes(bytes(data))
    return path


def test_a_stored_generation_is_verified_against_its_id(project: Path, caplog) -> None:
    """A flipped byte in a generation about to be served is refused (logged once, the good one
    keeps serving); `activate` refuses it too, and CURRENT does not move."""
    first = MendelTrees(str(project)).generation
    second = deploy(project, "two")
    trees = MendelTrees(str(project))
    store = PublishingStore(trees.store.path)  # the deploy step's view of the same store
    corrupt_stored(store, first)
    refused = CliRunner().invoke(cli, ["generations", "--basedir", str(project), "activate", first])
    assert refused.exit_code == 1 and "does not match its id" in refused.output
    assert store.current_id() == second
    with caplog.at_level(logging.ERROR, logger="mendel_py.core.trees"):
        store.set_current(first)  # moved by hand, past the command's check
        assert trees.reload_if_changed() is None
        assert trees.reload_if_changed() is None
    assert trees.generation == second
    assert caplog.text.count("new generation refused") == 1 and first in caplog.text
    with pytest.raises(MendelError, match="does not match its id"):
        MendelTrees(str(project))  # a restart refuses to start on it: the process manager says so


@pytest.mark.parametrize("name,how", [
    ("main.manifest.json", "flip"), ("main.manifest.json", "dep-key"), ("main.manifest.json", "truncate"),
    ("main.manifest.json", "empty"), (CONFIG_FILE, "truncate"), ("generation.json", "empty"),
])
def test_a_corrupt_retained_generation_is_a_404_no_store_never_a_5xx(project: Path, caplog, name, how) -> None:
    """Its URLs, in a restarted process: a 404 `no-store`, logged once, never a 5xx or other bytes."""
    middleware = MendelMiddleware(app, str(project), reload_interval=None)
    old_url = Client(middleware).get("/").get_data(as_text=True)
    first = middleware.trees.generation
    deploy(project, "two")
    deploy(project, "three")
    store = PublishingStore.for_config(load_config(project))
    corrupt_stored(store, first, name, how)
    fresh = Client(MendelMiddleware(app, str(project), reload_interval=None))
    with caplog.at_level(logging.ERROR, logger="mendel_py.core.trees"):
        for _ in range(3):
            response = fresh.get(old_url)
            assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"
            assert b"HASHMISS" in response.data
    if name != "generation.json":  # an unreadable record: the generation is not listed at all
        assert caplog.text.count(f"stored generation {first} refused") == 1


def test_a_live_process_refuses_a_generation_corrupted_after_it_was_loaded_elsewhere(project: Path) -> None:
    """A worker that never loaded the corrupted generation yet, while others did: it checks the
    bytes it reads, not what they were when published."""
    middleware = MendelMiddleware(app, str(project), reload_interval=None)
    client = Client(middleware)
    old_url = client.get("/").get_data(as_text=True)
    first = middleware.trees.generation
    deploy(project, "two")
    middleware.trees.reload()
    assert client.get(old_url).status_code == 200  # kept loaded: served from memory, verified before
    live = Client(MendelMiddleware(app, str(project), reload_interval=None))  # started on "two"
    corrupt_stored(PublishingStore.for_config(load_config(project)), first, how="dep-key")
    response = live.get(old_url)
    assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"


def test_a_url_is_served_from_any_generation_holding_its_manifest(project: Path, caplog) -> None:
    """Generations one and two hold the same CSS manifest, three another. With two's copy
    corrupt, a CSS URL of one/two is answered from one's copy, with the same bytes."""
    middleware = MendelMiddleware(app, str(project), reload_interval=None)
    trees = middleware.trees
    css = trees.find_tree_for_variations("css", trees.variations_and_chains(["bucket_A"])[1]).hash
    url = f"/mendel/{css}/css.css"
    body = Client(middleware).get(url).data
    second = deploy(project, "two")  # JS only: the CSS manifest (and URL) unchanged
    styles = project / "examples" / "shop" / "src" / "base" / "styles" / "main.css"
    styles.write_text(styles.read_text() + "\n/* three */\n")
    deploy(project, "three")
    corrupt_stored(PublishingStore.for_config(load_config(project)), second, "css.manifest.json")
    fresh = MendelMiddleware(app, str(project), reload_interval=None)
    assert fresh.trees.find_tree_for_variations("css", trees.variations_and_chains(["bucket_A"])[1]).hash != css
    with caplog.at_level(logging.ERROR, logger="mendel_py.core.trees"):
        response = Client(fresh).get(url)
    assert response.status_code == 200 and response.data == body
    assert f"stored generation {second} refused" in caplog.text


def test_a_failed_reload_never_blocks_later_ones(project: Path, caplog, monkeypatch) -> None:
    """A refused reload is logged once, retried after a back-off, and the next good CURRENT is
    picked up at once."""
    import mendel_py.core.lifecycle as trees_module  # (the reload rules)
    monkeypatch.setattr(trees_module, "RETRY_MIN", 0.05)
    first = MendelTrees(str(project)).generation
    second = deploy(project, "two")
    third = deploy(project, "three")
    trees = MendelTrees(str(project))
    store = PublishingStore(trees.store.path)  # the deploy step's view of the same store
    rc = Path(store.path) / second / CONFIG_FILE
    good_rc = rc.read_bytes()
    rc.write_bytes(good_rc + b"\nvariation-config: {}\n")  # a duplicate key: fails to load
    with caplog.at_level(logging.ERROR, logger="mendel_py.core.trees"):
        store.set_current(second)
        assert trees.reload_if_changed() is None
        assert trees.reload_if_changed() is None  # not yet due again: nothing done, nothing logged
        rc.write_bytes(good_rc)  # the passing fault is gone (CURRENT unchanged)
        time.sleep(0.1)
        assert trees.reload_if_changed() == second  # retried after the back-off
        store.set_current(first)
        assert trees.reload_if_changed() == first
        store.set_current(third)
        assert trees.reload_if_changed() == third
    assert caplog.text.count("new generation refused") == 1


def test_a_store_without_current_serves_the_disk_unpublished(tmp_path: Path, caplog) -> None:
    shutil.copy(REPO / ".mendelrc", tmp_path / ".mendelrc")
    shutil.copytree(REPO / "examples" / "shop" / "src", tmp_path / "examples" / "shop" / "src")
    build_manifests(load_config(tmp_path))  # built, never published
    store_dir = tmp_path / "store"
    with caplog.at_level(logging.WARNING, logger="mendel_py.core.trees"):
        trees = MendelTrees(str(tmp_path), generations=str(store_dir))
    assert "no CURRENT yet" in caplog.text and not store_dir.exists()
    assert trees.status()["serving_from"] == "disk"
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
    disk = file_digest(str(tmp_path / "manifests" / "main.manifest.json"))
    assert hashcodec.decode(tree.hash).generation == manifest_tag(disk)  # what servers mint once published
    assert trees.find_tree_for_hash("main", tree.hash).hash == tree.hash


def test_activate_rolls_every_process_back(project: Path) -> None:
    first = MendelTrees(str(project)).generation
    second = deploy(project, "two")
    trees = MendelTrees(str(project))
    assert trees.generation == second
    PublishingStore(trees.store.path).set_current(first)
    assert trees.reload_if_changed() == first
    assert MendelTrees(str(project)).generation == first  # a restart keeps the rollback


def test_rolling_deploy_between_hosts_sharing_a_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MENDEL_GENERATIONS", str(tmp_path / "store"))
    hosts = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        hosts.append(make_project(tmp_path / name))
    a, b = (MendelMiddleware(app, str(host), reload_interval=None) for host in hosts)
    assert a.trees.generation == b.trees.generation
    deploy(hosts[0], "new")  # host a gets the new code first
    a.trees.reload()
    new_url = Client(a).get("/").get_data(as_text=True)
    served = Client(b).get(new_url)  # b still runs the old generation: it loads the new one
    assert served.status_code == 200 and b"deploy new" in served.data
    assert Client(a).get(new_url).data == served.data
    # b then follows CURRENT too (its watcher does this within a poll interval)
    assert b.trees.reload_if_changed() == a.trees.generation


def test_retention_is_newest_n_or_younger_than_t(project: Path) -> None:
    """One rule: kept while current, among the newest `keep`, or younger than `max_age_days`."""
    ids = [deploy(project, f"r{n}") for n in range(4)]  # plus the fixture's: 5, newest last
    store = PublishingStore(str(project / "manifests" / "generations"), keep=2, max_age_days=1)
    infos = {info.id: info for info in store.list()}
    newest_first = sorted(infos, key=lambda g: infos[g].created, reverse=True)
    day = 86400
    now = max(info.created for info in infos.values())
    assert store.prunable(now) == []  # all young
    later = now + 2 * day  # all old: only the newest two (one of them current) stay
    assert {i.id for i in store.prunable(later)} == set(newest_first[2:])
    store.set_current(newest_first[-1])
    assert {i.id for i in store.prunable(later)} == set(newest_first[2:-1])
    assert PublishingStore(store.path, keep=10, max_age_days=0).prunable(later) == []
    assert ids[-1] == newest_first[0]


def test_cli_prune_takes_the_rule_with_other_values_for_a_full_disk(project: Path) -> None:
    ids = [deploy(project, f"d{n}") for n in range(3)]
    runner = CliRunner()
    young = runner.invoke(cli, ["generations", "--basedir", str(project), "--json", "prune", "--keep", "1"])
    assert young.exit_code == 0 and json.loads(young.output)["removed"] == []  # all younger than 7 days
    now = runner.invoke(
        cli, ["generations", "--basedir", str(project), "--json", "prune", "--keep", "2", "--max-age-days", "0"]
    )
    assert now.exit_code == 0, now.output
    assert len(json.loads(now.output)["removed"]) == 2  # 4 generations: the newest 2 stay
    assert {info.id for info in PublishingStore.for_config(load_config(project)).list()} == set(ids[-2:])


def test_prune_removes_leftover_temporary_files(project: Path) -> None:
    store_path = project / "manifests" / "generations"
    stale = [store_path / ".tmp-0123-1-ab", project / "manifests" / ".tmp-xyz"]
    stale[0].mkdir()
    (stale[0] / "main.manifest.json").write_bytes(b"{")
    stale[1].write_bytes(b"{")
    young = store_path / ".tmp-young"
    young.write_bytes(b"")
    old = time.time() - 2 * 3600
    for path in stale:
        os.utime(path, (old, old))
    result = CliRunner().invoke(cli, ["generations", "--basedir", str(project), "--json", "prune"])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.output)["temporary_removed"]) == [".tmp-0123-1-ab", ".tmp-xyz"]
    assert not any(path.exists() for path in stale) and young.exists()  # may still be being written


def test_no_space_left_names_the_path(tmp_path: Path, monkeypatch) -> None:
    from mendel_py._runtime import atomic
    from mendel_py.deploy.publish import _write_file

    with pytest.raises(OSError) as caught:
        _write_file("/dev/full", b"x" * 10)  # the store's writes: a write() that fails with ENOSPC
    assert caught.value.filename == "/dev/full" and "No space left" in str(caught.value)

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        return os.open("/dev/full", os.O_WRONLY), str(tmp_path / ".tmp-full")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full)
    target = tmp_path / "CURRENT"
    for write in (lambda: atomic.write_atomically(str(target), b"x" * 10),
                  lambda: atomic.write_set_atomically([(str(target), b"x" * 10)])):
        with pytest.raises(OSError) as caught:
            write()
        assert caught.value.filename == str(target) and caught.value.errno == 28


def test_cli_generations_publish_is_reload(project: Path) -> None:
    cart = project / "examples" / "shop" / "src" / "base" / "components" / "cart.js"
    cart.write_text(cart.read_text() + "\n// published by hand\n")
    build_manifests(load_config(project))
    result = CliRunner().invoke(cli, ["generations", "--basedir", str(project), "--json", "publish"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] and PublishingStore.for_config(load_config(project)).current_id() == report["current"]


def test_prune_keeps_the_newest_and_the_current(project: Path) -> None:
    ids = [deploy(project, f"p{n}") for n in range(5)]
    store = PublishingStore(str(project / "manifests" / "generations"), keep=2, max_age_days=0)
    store.set_current(ids[1])
    removed = {info.id for info in store.prune()}
    kept = {info.id for info in store.list()}
    assert kept == {ids[-1], ids[-2], ids[1]} and removed.isdisjoint(kept)
    young = PublishingStore(store.path, keep=1, max_age_days=7)
    assert young.prune() == []  # all younger than a week


def test_a_half_written_generation_is_invisible(project: Path) -> None:
    store = PublishingStore(str(project / "manifests" / "generations"))
    before = store.list()

    def refuse(folder: str) -> None:
        assert os.path.isfile(os.path.join(folder, "main.manifest.json"))
        raise ManifestError("refused in validation", "main.manifest.json")

    with pytest.raises(MendelError):
        store.publish({"main.manifest.json": b"{}"}, validate=refuse)
    assert store.list() == before
    assert not [name for name in os.listdir(store.path) if name.startswith(".")]


def test_cli_generations_activate_prune_and_reload(project: Path) -> None:
    runner = CliRunner()
    second = deploy(project, "two")
    listed = runner.invoke(cli, ["generations", "--basedir", str(project), "--json"])
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.output)
    assert report["current"] == second and len(report["generations"]) == 2
    first = next(g["id"] for g in report["generations"] if not g["current"])
    human = runner.invoke(cli, ["generations", "--basedir", str(project)])
    assert "* " in human.output and first in human.output

    activated = runner.invoke(cli, ["generations", "--basedir", str(project), "activate", first[:8]])
    assert activated.exit_code == 0 and first in activated.output
    assert PublishingStore(str(project / "manifests" / "generations")).current_id() == first

    assert MendelTrees(str(project)).generation == first  # a restarted server keeps the rollback
    reloaded = runner.invoke(cli, ["reload", "--basedir", str(project)])
    assert reloaded.exit_code == 0 and second in reloaded.output  # the manifests on disk

    pruned = runner.invoke(cli, ["generations", "--basedir", str(project), "prune", "--dry-run"])
    assert pruned.exit_code == 0 and "would remove 0" in pruned.output
    missing = runner.invoke(cli, ["generations", "--basedir", str(project), "activate", "ffff"])
    assert missing.exit_code == 1


def test_without_a_store_reload_rereads_the_manifests(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MENDEL_GENERATIONS", "off")
    project = make_project(tmp_path)
    trees = MendelTrees(str(project))
    assert trees.store is None
    chains = trees.variations_and_chains(["bucket_A"])[1]
    old_hash = trees.find_tree_for_variations("main", chains).hash
    assert hashcodec.decode(old_hash).generation is None
    deploy(project, "two")
    trees.reload()
    assert trees.find_tree_for_variations("main", chains).hash != old_hash
    trees.cache.clear()
    assert trees.find_tree_for_hash("main", old_hash).hash == old_hash  # the loaded old one


def test_made_up_generation_tags_read_the_store_index_once(project: Path) -> None:
    trees = MendelTrees(str(project))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains(["bucket_A"])[1])
    decoded = hashcodec.decode(tree.hash)
    reads = []
    listing = trees.store.list
    trees.store.list = lambda: reads.append(1) or listing()  # type: ignore[method-assign]
    for n in range(50):
        fmt = hashcodec.get_format("v3", None, n.to_bytes(4, "big"))
        with pytest.raises(HashError):
            trees.find_tree_for_hash("main", fmt.encode(decoded.branches, decoded.file_count, decoded.digest))
    assert len(reads) <= 1
    deploy(project, "later")  # the store changed: a new tag is found at once
    trees.reload()
    assert trees.find_tree_for_hash("main", tree.hash).hash == tree.hash


def test_a_stored_config_is_read_as_strictly_as_the_project_one(project: Path) -> None:
    config = load_config(project)
    store = PublishingStore.for_config(config)
    folder = Path(store.path) / store.current_id()
    stored = folder / CONFIG_FILE
    assert generation_config(str(folder), config).variations  # the stored copy reads as it was
    stored.write_text("outdir: a\noutdir: b\n")  # a duplicate key, as load_config refuses it
    with pytest.raises(ConfigError, match=r"line 2") as caught:
        generation_config(str(folder), config)
    assert caught.value.path == str(stored)


def test_urls_rotating_over_every_retained_generation_load_each_manifest_once(project: Path, monkeypatch) -> None:
    """More retained generations than the minimum kept loaded: a second rotation loads nothing."""
    import mendel_py.core.lifecycle as trees_module  # (the manifest pool)

    urls = []
    for n in range(trees_module.MAX_LOADED_MANIFESTS + 4):
        deploy(project, f"rot{n}")
        minting = MendelTrees(str(project))
        urls.append(minting.find_tree_for_variations("main", minting.variations_and_chains(["bucket_A"])[1]).hash)
    trees = MendelTrees(str(project))
    loads = []
    real_load = trees_module.load_manifest
    monkeypatch.setattr(trees_module, "load_manifest", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
    for rotation in range(2):
        for text in urls:
            trees.cache.clear()  # every request a walk-cache miss, as distinct URLs would be
            assert trees.find_tree_for_hash("main", text).hash == text
        if rotation == 0:
            first = len(loads)
    assert first == len(urls) - 1  # every past manifest once (the current one was loaded)
    assert len(loads) == first  # the second rotation loaded nothing


def test_a_returning_visitor_gets_the_new_generations_tags_from_the_memo(project: Path) -> None:
    """The request memo answers a returning visitor's tags from the raw Cookie header; after a
    deploy the same header must give the new generation's URL, and nothing of the old one stays."""
    middleware = MendelMiddleware(pass_through_app, str(project), visitor_choice=True, reload_interval=None,
                                  exposure_log="off")
    environ = {"HTTP_COOKIE": "mendel_variations=bucket_A; sid=1"}
    first_tag = middleware.resolver(dict(environ)).script_tag("main")
    assert middleware.resolver(dict(environ)).script_tag("main") == first_tag  # (now from the memo)
    assert len(middleware.input_memo) == 1

    second = deploy(project, "two")
    assert middleware.trees.reload() == second
    tag = middleware.resolver(dict(environ)).script_tag("main")
    fresh = MendelMiddleware(pass_through_app, str(project), visitor_choice=True, reload_interval=None,
                             exposure_log="off")
    assert tag != first_tag and tag == fresh.resolver(dict(environ)).script_tag("main")
    assert [key[0] for key in middleware.request_memo] == [second]
    assert [inputs[0] for inputs in middleware.input_memo] == [second]
    assert b"deploy two" in Client(middleware).get(str(tag).split('src="', 1)[1].split('"', 1)[0]).data
