"""Generations: the store, hot reload, skew protection and rolling deploys, in process."""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from e2e_support import deploy_example

from mendel_py import hashcodec
from mendel_py.cli import cli
from mendel_py.config import load_config
from mendel_py.errors import ConfigError, HashError, ManifestError, MendelError
from mendel_py.generations import CONFIG_FILE, GenerationStore, generation_config, generation_tag
from mendel_py.trees import MendelTrees
from mendel_py.wsgi import MendelMiddleware

REPO = Path(__file__).resolve().parent.parent
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
    store = GenerationStore.for_config(load_config(project))
    assert store is not None and store.exists()
    [info] = store.list()
    assert store.current_id() == info.id and set(info.bundles) == {"main", "css"}
    assert deploy(project) == info.id  # the same build is the same generation
    assert len(store.list()) == 1


def test_tagged_hashes_name_their_generation(project: Path) -> None:
    trees = MendelTrees(str(project))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains(["bucket_A"])[1])
    decoded = hashcodec.decode(tree.hash)
    assert decoded.generation == generation_tag(trees.generation)


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


def test_a_corrupt_manifest_never_replaces_the_good_generation(project: Path, caplog) -> None:
    trees = MendelTrees(str(project))
    good = trees.generation
    manifest = project / "manifests" / "main.manifest.json"
    manifest.write_text(manifest.read_text()[:500])  # truncated mid-write
    with pytest.raises(ManifestError):
        trees.reload()
    assert trees.generation == good
    store = trees.store
    assert store is not None and store.current_id() == good and len(store.list()) == 1
    with caplog.at_level(logging.ERROR, logger="mendel_py.trees"):
        assert trees.reload_if_changed() is None
        assert trees.reload_if_changed() is None  # nothing changed since: no second log line
    assert caplog.text.count("new generation refused") == 1
    assert "main.manifest.json" in caplog.text


def test_the_same_refusal_is_logged_once_while_current_moves(project: Path, caplog) -> None:
    """A worker whose manifest is still broken sees the store's CURRENT move (another process
    published or rolled back): the watched files changed, the refusal did not."""
    first = MendelTrees(str(project)).generation
    second = deploy(project, "two")
    trees = MendelTrees(str(project))
    manifest = project / "manifests" / "main.manifest.json"
    good_bytes = manifest.read_bytes()
    manifest.write_bytes(good_bytes[:500])
    with caplog.at_level(logging.ERROR, logger="mendel_py.trees"):
        assert trees.reload_if_changed() is None
        trees.store.set_current(first)
        assert trees.reload_if_changed() is None
        trees.store.set_current(second)
        assert trees.reload_if_changed() is None
        assert caplog.text.count("new generation refused") == 1
        manifest.write_bytes(good_bytes)
        trees.reload_if_changed()
        manifest.write_bytes(good_bytes[:500])  # broken again after a good load: a new refusal
        assert trees.reload_if_changed() is None
    assert caplog.text.count("new generation refused") == 2
    assert trees.generation == second


def test_activate_rolls_every_process_back(project: Path) -> None:
    first = MendelTrees(str(project)).generation
    second = deploy(project, "two")
    trees = MendelTrees(str(project))
    assert trees.generation == second
    trees.store.set_current(first)
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


def test_prune_keeps_the_newest_and_the_current(project: Path) -> None:
    ids = [deploy(project, f"p{n}") for n in range(5)]
    store = GenerationStore(str(project / "manifests" / "generations"), keep=2, max_age_days=0)
    store.set_current(ids[1])
    removed = {info.id for info in store.prune()}
    kept = {info.id for info in store.list()}
    assert kept == {ids[-1], ids[-2], ids[1]} and removed.isdisjoint(kept)
    young = GenerationStore(store.path, keep=1, max_age_days=7)
    assert young.prune() == []  # all younger than a week


def test_a_half_written_generation_is_invisible(project: Path) -> None:
    store = GenerationStore(str(project / "manifests" / "generations"))
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
    assert GenerationStore(str(project / "manifests" / "generations")).current_id() == first

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
    store = GenerationStore.for_config(config)
    folder = Path(store.path) / store.current_id()
    stored = folder / CONFIG_FILE
    assert generation_config(str(folder), config).variations  # the stored copy reads as it was
    stored.write_text("outdir: a\noutdir: b\n")  # a duplicate key, as load_config refuses it
    with pytest.raises(ConfigError, match=r"line 2") as caught:
        generation_config(str(folder), config)
    assert caught.value.path == str(stored)
