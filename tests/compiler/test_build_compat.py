"""Manifests written by `mendel build` resolve the same in Yahoo's mendel-core 3.0.6 and MendelTrees.

Skipped unless `node` and `npm` exist. mendel-core is installed once into the gitignored
`benchmarks/.node` folder. The node side loads the manifests directly and runs mendel-core's own
walk (`MendelTrees.prototype._walkTree` from trees.js) with its `MendelVariationWalker` (hash by
variations) and `MendelHashWalker` (files by hash), so its .mendelrc reading is not involved;
both sides get the same lookup chains.
"""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = REPO_ROOT / "benchmarks" / ".node"
CORE_DIR = NODE_DIR / "node_modules" / "mendel-core"
CORE_VERSION = "3.0.6"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)

NODE_SCRIPT = r"""
'use strict';
const path = require('path');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const MendelTrees = require(path.join(input.core, 'trees.js'));
const VariationWalker = require(path.join(input.core, 'tree-variation-walker.js'));
const HashWalker = require(path.join(input.core, 'tree-hash-walker.js'));
const owner = { bundles: {} };
for (const [bundle, file] of Object.entries(input.manifests)) {
  owner.bundles[bundle] = JSON.parse(require('fs').readFileSync(file, 'utf8'));
}
const files = (deps) => deps.filter(Boolean).map((dep) => dep.file);
const results = input.queries.map(({ bundle, chains }) => {
  const byVariations = new VariationWalker(chains, input.base);
  MendelTrees.prototype._walkTree.call(owner, bundle, byVariations);
  const found = byVariations.found();
  const byHash = new HashWalker(found.hash);
  MendelTrees.prototype._walkTree.call(owner, bundle, byHash);
  const decoded = byHash.found();
  return {
    hash: found.hash,
    files: files(found.deps),
    conflicts: found.conflicts,
    hashFiles: decoded.error ? null : files(decoded.deps),
  };
});
process.stdout.write(JSON.stringify(results));
"""


def installed_core_version() -> str | None:
    try:
        return json.loads((CORE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def mendel_core() -> Path:
    if installed_core_version() != CORE_VERSION:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), f"mendel-core@{CORE_VERSION}"],
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0 or installed_core_version() != CORE_VERSION:
            pytest.skip(f"could not install mendel-core@{CORE_VERSION}: {done.stderr[-500:]}")
    return CORE_DIR


def run_mendel_core(core: Path, trees: Any, queries: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    script = tmp_path / "mendel_core_walk.js"
    script.write_text(NODE_SCRIPT)
    payload = {
        "core": str(core),
        "base": trees.config.base_dir,
        "manifests": {bundle: trees.config.bundles[bundle].manifest_path for bundle in trees.bundles},
        "queries": queries,
    }
    done = subprocess.run(
        ["node", str(script)], input=json.dumps(payload), capture_output=True, text=True, timeout=120,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def variation_lists(ids: list[str], limit: int = 60) -> list[list[str]]:
    """No variation, each alone, every pair, and some triples (both input orders for pairs)."""
    lists: list[list[str]] = [[]] + [[one] for one in ids]
    pairs = list(itertools.combinations(ids, 2))
    lists += [list(pair) for pair in pairs] + [list(reversed(pair)) for pair in pairs[:5]]
    lists += [list(triple) for triple in itertools.combinations(ids, 3)][:10]
    return lists[:limit]


def compare(core: Path, root: Path, tmp_path: Path) -> int:
    """Resolve many variation lists on both sides; return how many results matched."""
    from mendel_py import MendelTrees

    trees = MendelTrees(str(root), hash_format="mendel-v1")
    queries, ours = [], []
    for names in variation_lists([variation.id for variation in trees.variations]):
        _, chains = trees.variations_and_chains(names)
        for bundle in trees.bundles:
            tree = trees.find_tree_for_variations(bundle, chains)
            queries.append({"bundle": bundle, "chains": [list(chain) for chain in chains]})
            ours.append({
                "hash": tree.hash,
                "files": [entry["file"] for entry in tree.files],
                "conflicts": tree.conflicts,
                "hashFiles": [entry["file"] for entry in trees.find_tree_for_hash(bundle, tree.hash).files],
            })
    theirs = run_mendel_core(core, trees, queries, tmp_path)
    for query, mine, reference in zip(queries, ours, theirs):
        assert mine == reference, query
    assert len(theirs) == len(ours)
    return len(ours)


def test_example_project_matches_mendel_core(mendel_core: Path, tmp_path: Path) -> None:
    if not (REPO_ROOT / "examples" / "shop" / "src").exists():
        pytest.skip("the repository has no example project")
    from mendel_py.compiler import build_manifests
    from mendel_py.config import load_config

    project = tmp_path / "shop"
    project.mkdir()
    shutil.copy(REPO_ROOT / ".mendelrc", project / ".mendelrc")
    shutil.copytree(REPO_ROOT / "examples", project / "examples")
    build_manifests(load_config(str(project)), use_cache=False)
    assert compare(mendel_core, project, tmp_path) > 20


def test_generated_project_matches_mendel_core(mendel_core: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        from bench_build import generate_project
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    from mendel_py.compiler import build_manifests
    from mendel_py.config import load_config

    project = tmp_path / "generated"
    generate_project(str(project), files=400, variations=6, seed=3)
    report = build_manifests(load_config(str(project)), use_cache=False)
    assert report.module_count > 300
    assert compare(mendel_core, project, tmp_path) > 50
