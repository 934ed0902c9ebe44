"""Smoke tests for the core benchmark: the synthetic project generator and the node harness."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mendel_py import MendelTrees

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


synth = _load("synth")
bench_core = _load("bench_core")


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> str:
    return synth.write_synthetic_project(str(tmp_path_factory.mktemp("tiny")), modules=60,
                                         variations=6, seed=3)


@pytest.fixture(scope="module")
def mid_project(tmp_path_factory: pytest.TempPathFactory) -> str:
    return synth.write_synthetic_project(str(tmp_path_factory.mktemp("mid")), modules=600,
                                         variations=15, seed=1)


def _manifest(project: str) -> dict:
    with open(os.path.join(project, synth.MANIFEST_PATH), encoding="utf-8") as handle:
        return json.load(handle)


def test_manifest_ids_sorted_and_indexes_consistent(mid_project: str) -> None:
    manifest = _manifest(mid_project)
    ids = [module["id"] for module in manifest["bundles"]]
    assert ids == sorted(ids)
    assert manifest["indexes"] == {module_id: n for n, module_id in enumerate(ids)}
    assert [module["index"] for module in manifest["bundles"]] == list(range(len(ids)))


def test_manifest_entries_match_their_folders_and_sources(mid_project: str) -> None:
    for module in _manifest(mid_project)["bundles"]:
        assert len(module["data"]) == len(module["variations"])
        for folder, entry in zip(module["variations"], module["data"]):
            assert entry["variation"] == folder
            assert entry["file"] == f"{folder}/{module['id']}"
            assert entry["sha"] == hashlib.sha1(entry["source"].encode("utf-8")).hexdigest()
            assert 900 <= len(entry["source"]) <= 4000


def test_deps_point_into_the_manifest_or_are_external(mid_project: str) -> None:
    manifest = _manifest(mid_project)
    externals = 0
    for module in manifest["bundles"]:
        for entry in module["data"]:
            for specifier, target in entry["deps"].items():
                if target is False:
                    externals += 1
                    continue
                assert target in manifest["indexes"]
                assert specifier.startswith(("./", "../"))
    assert externals > 0


def test_project_has_overrides_dep_changes_and_variation_only_files(mid_project: str) -> None:
    bundles = _manifest(mid_project)["bundles"]
    overridden = [m for m in bundles if len(m["data"]) > 1]
    variation_only = [m for m in bundles if m["variations"][0] != synth.BASE_DIR]
    changed = [m for m in overridden
               if any(list(e["deps"].items()) != list(m["data"][0]["deps"].items())
                      for e in m["data"][1:])]
    assert overridden and variation_only and changed
    assert any(len(m["data"]) > 2 for m in overridden)
    assert all(len(m["data"]) == 1 for m in variation_only)


def test_variation_folders_exist_on_disk(tiny_project: str) -> None:
    for layer in synth.variation_ids(6, 5):
        for variation_id in layer:
            assert os.path.isdir(os.path.join(tiny_project, synth.VARIATIONS_ROOT, variation_id))
    assert os.path.isdir(os.path.join(tiny_project, synth.BASE_DIR))


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = synth.write_synthetic_project(str(tmp_path / "a"), modules=80, variations=6, seed=9)
    second = synth.write_synthetic_project(str(tmp_path / "b"), modules=80, variations=6, seed=9)
    for name in (synth.MANIFEST_PATH, ".mendelrc"):
        assert Path(first, name).read_bytes() == Path(second, name).read_bytes()


def test_random_variation_sets_are_distinct_and_one_per_layer() -> None:
    layer_of = {vid: n for n, ids in enumerate(synth.variation_ids(45, 5)) for vid in ids}
    sets = list(synth.random_variation_sets(300, seed=4))
    assert len({frozenset(names) for names in sets}) == 300
    for names in sets:
        assert 1 <= len(names) <= 4
        assert len({layer_of[name] for name in names}) == len(names)


def test_layered_chains_inherit_the_previous_layer(tiny_project: str) -> None:
    trees = MendelTrees(basedir=tiny_project)
    deepest = synth.variation_ids(6, 5)[-1][0]
    _, chains = trees.variations_and_chains([deepest])
    assert len(chains[0]) == 5
    assert chains[-1] == [synth.BASE_DIR]


def test_tiny_project_loads_resolves_and_decodes(tiny_project: str) -> None:
    for hash_format in (None, "mendel-v1"):
        trees = MendelTrees(basedir=tiny_project, hash_format=hash_format)
        assert trees.bundles == (synth.BUNDLE_ID,)
        for names in synth.random_variation_sets(20, seed=2, variations=6):
            _, chains = trees.variations_and_chains(names)
            tree = trees.find_tree_for_variations(synth.BUNDLE_ID, chains)
            decoded = trees.find_tree_for_hash(synth.BUNDLE_ID, tree.hash)
            assert [d["file"] for d in decoded.files] == [d["file"] for d in tree.files]
            assert len(tree.files) >= 50


def test_bench_script_quick_run_without_node(capsys: pytest.CaptureFixture[str]) -> None:
    code = bench_core.main(["--quick", "--modules", "60", "--variations", "6", "--samples", "4",
                            "--no-node", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["mendel_core_skipped"] == "--no-node"
    assert report["mendel_py"]["cold_resolve"]["runs"] == 4
    assert report["mendel_py"]["warm_resolve"]["median_ns"] > 0


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm")
def test_mendel_core_agrees_with_our_mendel_v1_hashes(tiny_project: str, tmp_path: Path) -> None:
    bench_core.ensure_mendel_core()  # npm install into the gitignored benchmarks/.node, once
    sets = list(synth.random_variation_sets(30, seed=5, variations=6))
    chains = bench_core.chains_for(tiny_project, sets)
    node = bench_core.run_mendel_core(tiny_project, sets, chains, sets[:2], 3, str(tmp_path))
    assert node["mendel_core_version"] == "3.0.6"
    assert len(node["results"]) == len(sets)
    assert bench_core.cross_check(tiny_project, sets, chains, node) == []


def test_the_large_app_benchmark_runs_and_reports_each_measure(capsys) -> None:
    bench_large = _load("bench_large")
    assert bench_large.main(["--modules", "300", "--runs", "1", "--sets", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["modules"] == 300 and report["accelerated"] is True
    for key in ("load", "first_load", "rss_mib", "cold_resolve_ms", "decode_ms"):
        assert report[key] > 0


def test_the_pages_benchmark_runs_each_stack_and_reports_each_measure() -> None:
    """(In its own process: it sets up Django's settings.)"""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "benchmarks" / "bench_pages.py"),
         "--rounds", "1", "--requests", "5", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for stack in ("Flask", "Django", "Starlette"):
        assert figures[f"{stack} page Mendel (us)"] > 0 and figures[f"{stack} page plain (us)"] > 0
        assert figures[f"{stack} warm bundle (req/s)"] > 0


def test_the_page_instruction_count_runs_under_callgrind() -> None:
    """One case, few requests: the driver starts, switches counting on and is counted."""
    import re
    import shutil
    import subprocess
    import sys

    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        pytest.skip("valgrind is not installed (scripts/system-deps.sh installs it)")
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "benchmarks" / "page_instructions.py"),
         "starlette:plain", "--few", "2", "--many", "6"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    found = re.fullmatch(r"starlette\s+plain\s+([\d,]+) instructions per request\s*", result.stdout)
    assert found is not None, result.stdout
    assert 10_000 < int(found.group(1).replace(",", "")) < 10_000_000
