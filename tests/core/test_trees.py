"""The public core API (MendelTrees), on the sample project of tests/helpers/factory.py."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from factory import SAMPLE_RC, write_project
from mendel_py import BundleNotFound, HashError, MendelTrees, WalkError
from mendel_py.core.hashcodec import decode

ALL = ["bucket_A", "feature_B", "partner_C", "bucket_D"]


@pytest.fixture
def trees(sample_project: Path) -> MendelTrees:
    return MendelTrees(basedir=str(sample_project))


def files(tree) -> list[str]:
    return [entry["file"] for entry in tree.files]


def test_variations_and_chains(trees: MendelTrees) -> None:
    assert trees.variations_and_chains([]) == (["base"], [["src/base"]])
    assert trees.variations_and_chains(["bucket_D", "nope", "bucket_A"]) == (
        ["bucket_A", "bucket_D", "base"],
        [["src/variations/bucket_A"], ["src/variations/bucket_D", "src/variations/partner_C"], ["src/base"]],
    )
    assert trees.variations_and_chains(["bucket_A", "bucket_D"]) == trees.variations_and_chains(["bucket_D", "bucket_A"])
    matching, _ = trees.variations_and_chains(["bucket_A"])
    matching.append("mutated")  # callers get their own lists
    assert trees.variations_and_chains(["bucket_A"])[0] == ["bucket_A", "base"]
    assert [v.id for v in trees.variations] == ALL
    assert trees.bundles == ("main", "css")


def test_resolve_picks_files_by_priority_and_reports_conflicts(trees: MendelTrees) -> None:
    _, chains = trees.variations_and_chains(["bucket_D", "feature_B"])
    tree = trees.find_tree_for_variations("main", chains)
    assert files(tree) == [
        "src/variations/feature_B/components/banner.js",
        "src/variations/bucket_D/components/button.js",
        "src/variations/feature_B/components/header.js",
        "src/variations/partner_C/lib/util.js",
        "src/base/main.js",
    ]
    assert tree.conflicts == 0 and tree.conflict_list == []
    assert [m.id for m in tree.modules] == [entry["id"] for entry in tree.files]
    _, chains = trees.variations_and_chains(["bucket_A", "bucket_D"])
    tree = trees.find_tree_for_variations("main", chains)
    assert files(tree)[0] == "src/variations/bucket_A/components/button.js"  # config order wins
    assert tree.conflicts == 1 and tree.conflict_list == ["components/button.js"]
    for entry in tree.files:
        assert set(entry) >= {"id", "file", "variation", "source", "sha", "deps", "blake3"}


@pytest.mark.parametrize("fmt", ["v3", "mendel-v1", "mendel-v2"])
def test_every_variation_set_round_trips_through_its_hash(sample_project: Path, fmt: str) -> None:
    trees = MendelTrees(basedir=str(sample_project), hash_format=fmt)
    seen = {}
    for mask in range(16):
        names = [name for bit, name in enumerate(ALL) if mask >> bit & 1]
        _, chains = trees.variations_and_chains(names)
        for bundle in trees.bundles:
            tree = trees.find_tree_for_variations(bundle, chains)
            assert decode(tree.hash).version == {"v3": 3, "mendel-v1": 1, "mendel-v2": 2}[fmt]
            back = trees.find_tree_for_hash(bundle, tree.hash)
            assert files(back) == files(tree)
            assert back.hash == tree.hash
            seen.setdefault((bundle, tree.hash), files(tree))
    # button.js from A, partner_C, bucket_D or base; util.js from partner_C (or via bucket_D) or base;
    # header.js from feature_B or base: (1 + 1 + 1) x 2 x 2 - (partner_C/bucket_D fix util.js) = 10
    assert len({h for b, h in seen if b == "main"}) == 10


def test_server_decodes_every_version(sample_project: Path) -> None:
    writer = MendelTrees(basedir=str(sample_project), hash_format="mendel-v1")
    server = MendelTrees(basedir=str(sample_project))
    _, chains = writer.variations_and_chains(["feature_B"])
    old = writer.find_tree_for_variations("main", chains)
    assert files(server.find_tree_for_hash("main", old.hash)) == files(old)
    assert server.find_tree_for_variations("main", chains).hash != old.hash


def test_hash_errors_have_codes(trees: MendelTrees) -> None:
    _, chains = trees.variations_and_chains(["feature_B"])
    good = trees.find_tree_for_variations("main", chains).hash
    for text, code in [("not-a-hash", "BADHASH"), ("", "BADHASH"), ("x" * 100_000, "BADHASH"),
                       (good[:-2] + ("AA" if good[-2:] != "AA" else "BA"), "HASHMISS")]:
        with pytest.raises(HashError) as raised:
            trees.find_tree_for_hash("main", text)
        assert raised.value.code == code
    with pytest.raises(HashError) as raised:
        trees.find_tree_for_hash("css", good)  # a main-bundle hash walks the css tree wrong
    assert raised.value.code in {"TRVRSL", "HASHMISS"}
    with pytest.raises(HashError):
        trees.find_tree_for_hash("main", None)  # type: ignore[arg-type]


def test_unknown_bundle(trees: MendelTrees) -> None:
    with pytest.raises(BundleNotFound, match="unknown bundle 'nope' \\(known: main, css\\)"):
        trees.find_tree_for_variations("nope", [["src/base"]])
    with pytest.raises(LookupError):
        trees.find_tree_for_hash("nope", "abc")


def test_unresolvable_branch_point_names_the_module(tmp_path: Path) -> None:
    modules = {
        "main.js": {"entry": True, "base": {"deps": {"./x": "x.js"}}},
        "x.js": {"bucket_A": {}, "feature_B": {}},
    }
    write_project(tmp_path, manifests={"main": modules, "css": {"a.css": {"entry": True, "base": {}}}})
    trees = MendelTrees(basedir=str(tmp_path))
    with pytest.raises(WalkError, match="module 'x.js': no lookup chain matches"):
        trees.find_tree_for_variations("main", [["src/base"]])
    _, chains = trees.variations_and_chains(["feature_B"])
    assert files(trees.find_tree_for_variations("main", chains))[1] == "src/variations/feature_B/x.js"


def test_results_are_memoized_and_bounded_in_bytes(sample_project: Path) -> None:
    probe = MendelTrees(basedir=str(sample_project))
    chains = [probe.variations_and_chains([name])[1] for name in ALL]
    tree_bytes = probe.find_tree_for_variations("main", chains[0]).approx_bytes()
    trees = MendelTrees(basedir=str(sample_project), cache_bytes=3 * tree_bytes)
    hot = trees.find_tree_for_variations("main", chains[0])
    assert trees.find_tree_for_variations("main", [list(c) for c in chains[0]]) is hot  # a hit
    scan = [trees.find_tree_for_variations("main", more) for more in chains[1:]]
    assert trees.cache.total_bytes <= 3 * tree_bytes
    assert trees.find_tree_for_variations("main", chains[0]) is hot  # survived the scan
    again = [trees.find_tree_for_variations("main", more) for more in chains[1:]]
    assert any(a is not b for a, b in zip(again, scan))  # not everything fits: some walked again
    assert probe.find_tree_for_hash("main", hot.hash) is probe.find_tree_for_hash("main", hot.hash)


def test_cache_size_is_deprecated(sample_project: Path) -> None:
    with pytest.warns(DeprecationWarning, match="cache_bytes"):
        MendelTrees(basedir=str(sample_project), cache_size=2)


def test_unknown_names_and_invalid_hashes_keep_nothing(trees: MendelTrees) -> None:
    trees.variations_and_chains([])
    kept = len(trees.cache), trees.cache.total_bytes, trees._state.chains_for.cache_info().currsize
    for n in range(500):
        trees.variations_and_chains([f"made-up-{n}", "x" * 7000])
    assert (len(trees.cache), trees.cache.total_bytes, trees._state.chains_for.cache_info().currsize) == kept
    _, chains = trees.variations_and_chains(["feature_B", "bucket_D"])
    good = trees.find_tree_for_variations("main", chains).hash
    trees.clear_caches()
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")  # same branches, wrong digest
    with pytest.raises(HashError):
        trees.find_tree_for_hash("main", tampered)
    assert len(trees.cache) == 0  # not even the walk plan the decode had to build
    trees.find_tree_for_hash("main", good)
    assert len(trees.cache) > 0


def test_threads_share_one_core(trees: MendelTrees) -> None:
    sets = [[name for bit, name in enumerate(ALL) if mask >> bit & 1] for mask in range(16)] * 20

    def resolve(names):
        _, chains = trees.variations_and_chains(names)
        tree = trees.find_tree_for_variations("main", chains)
        return names, tree.hash, files(trees.find_tree_for_hash("main", tree.hash))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(resolve, sets))
    fresh = MendelTrees(basedir=str(trees.config.root))
    for names, hash_text, found in results:
        _, chains = fresh.variations_and_chains(names)
        assert fresh.find_tree_for_variations("main", chains).hash == hash_text
        assert files(fresh.find_tree_for_variations("main", chains)) == found


def test_server_variation_map(trees: MendelTrees) -> None:
    _, chains = trees.variations_and_chains(["bucket_D"])
    assert trees.server_variation_map("main", chains) == {
        "main.js": "src/base",
        "components/header.js": "src/base",
        "lib/util.js": "src/variations/partner_C",
        "components/button.js": "src/variations/bucket_D",
    }


def test_keyed_v3_hashes(sample_project: Path) -> None:
    keyed = MendelTrees(basedir=str(sample_project), hash_key="s3cret")
    other = MendelTrees(basedir=str(sample_project), hash_key="other")
    plain = MendelTrees(basedir=str(sample_project))
    _, chains = keyed.variations_and_chains(["bucket_A"])
    tree = keyed.find_tree_for_variations("main", chains)
    assert decode(tree.hash).keyed
    assert files(keyed.find_tree_for_hash("main", tree.hash)) == files(tree)
    for server in (other, plain):
        with pytest.raises(HashError):
            server.find_tree_for_hash("main", tree.hash)
    with pytest.raises(HashError):
        keyed.find_tree_for_hash("main", plain.find_tree_for_variations("main", chains).hash)


def test_config_from_dict_and_mendelrc_hash_format(sample_project: Path) -> None:
    data = yaml.safe_load(SAMPLE_RC)
    trees = MendelTrees(basedir=str(sample_project), config=data)
    assert [v.id for v in trees.variations] == ALL
    (sample_project / ".mendelrc").write_text(SAMPLE_RC + "hash-format: mendel-v2\n")
    assert decode(MendelTrees(basedir=str(sample_project)).find_tree_for_variations("main", [["src/base"]]).hash).version == 2
    assert MendelTrees(basedir=str(sample_project / "manifests")).bundles == ("main", "css")  # found upward


def test_unknown_hash_format_is_a_config_error(sample_project: Path) -> None:
    from mendel_py import ConfigError

    with pytest.raises(ConfigError, match="hash_format: unknown hash format"):
        MendelTrees(basedir=str(sample_project), hash_format="v9")


def test_hash_format_from_the_environment(sample_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mendel_py import ConfigError

    (sample_project / ".mendelrc").write_text(SAMPLE_RC + "hash-format: v3\n")
    monkeypatch.setenv("MENDEL_HASH_FORMAT", "mendel-v1")
    trees = MendelTrees(basedir=str(sample_project))
    assert trees.hash_format.name == "mendel-v1"  # the deployment's choice beats the file's
    assert MendelTrees(basedir=str(sample_project), hash_format="mendel-v2").hash_format.name == "mendel-v2"
    monkeypatch.setenv("MENDEL_HASH_FORMAT", "v9")
    with pytest.raises(ConfigError, match="MENDEL_HASH_FORMAT: unknown hash format 'v9'"):
        MendelTrees(basedir=str(sample_project))


def test_status_says_what_it_serves_and_whether_walks_run_in_c(trees: MendelTrees) -> None:
    from mendel_py.core import walk

    status = trees.status()
    assert status["bundles"] == list(trees.bundles) and status["generation"] == trees.generation
    assert status["walk_in_c"] is walk.ACCELERATED is True  # `make setup` builds the extension
