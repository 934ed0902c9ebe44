"""Questions about a project that the offline tools ask of the core (no I/O, no output format).

Which variations can change a bundle, how many distinct trees the variations reach, what is wrong
with a project (unreadable manifests, unresolvable walks, configured variations without a folder,
manifests older than their sources), and which files differ between two trees. `mendel inspect`,
`validate` and `diff` turn these into tables and JSON.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MendelError

if TYPE_CHECKING:
    from ..config.model import MendelConfig
    from ..core.trees import MendelTrees, Tree

EXACT_PERMUTATION_LIMIT = 16

Problem = dict[str, Any]


# --------------------------------------------------------------------------- variations and trees


def relevant_variations(trees: MendelTrees, bundle: str) -> list[str]:
    """Variations whose chain names a folder this bundle has files in; the others can't change it."""
    folders = trees.manifest(bundle).folders
    base_dir = trees.config.base_dir
    return [
        variation.id
        for variation in trees.variations
        if any(folder in folders for folder in variation.chain if folder != base_dir)
    ]


def unknown_variations(trees: MendelTrees, names: Sequence[str]) -> list[str]:
    """Requested names that are not configured (kept) variations; they are ignored."""
    known = {variation.id for variation in trees.variations}
    return [name for name in names if name not in known]


def tree_identity(tree: Tree) -> tuple[tuple[str, str], ...]:
    """What makes two trees the same: the folder each resolved module came from."""
    return tuple((entry["id"], entry["variation"]) for entry in tree.files)


def count_distinct_trees(trees: MendelTrees, bundle: str, names: Sequence[str]) -> dict[str, Any]:
    """Walk the bundle for every subset of `names` and count the distinct trees reached."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    failures = 0
    for mask in range(1 << len(names)):
        subset = [name for bit, name in enumerate(names) if mask >> bit & 1]
        _, chains = trees.variations_and_chains(subset)
        try:
            seen.add(tree_identity(trees.find_tree_for_variations(bundle, chains)))
        except MendelError:
            failures += 1
    return {"count": len(seen), "exact": True, "subsets": 1 << len(names), "failed_subsets": failures}


def permutation_bound(trees: MendelTrees, bundle: str) -> dict[str, Any]:
    """Product over branch points of their entry counts: an upper bound on distinct trees."""
    manifest = trees.manifest(bundle)
    bound = 1
    for index in manifest.branch_points:
        bound *= len(manifest.modules[index].entries)
    return {"count": bound, "exact": False}


def reachable_permutations(trees: MendelTrees, bundle: str) -> dict[str, Any]:
    """Distinct trees reachable over all variation subsets, exact when feasible, else a bound."""
    names = relevant_variations(trees, bundle)
    if len(names) <= EXACT_PERMUTATION_LIMIT:
        result = count_distinct_trees(trees, bundle, names)
    else:
        result = permutation_bound(trees, bundle)
    return {**result, "relevant_variations": len(names)}


def file_changes(before: Tree, after: Tree) -> list[dict[str, Any]]:
    """Modules whose resolved file differs between two trees (None where a module is absent)."""
    files_before = {entry["id"]: entry["file"] for entry in before.files}
    files_after = {entry["id"]: entry["file"] for entry in after.files}
    ordered_ids = [*files_before, *(module for module in files_after if module not in files_before)]
    return [
        {"module": module, "from": files_before.get(module), "to": files_after.get(module)}
        for module in ordered_ids
        if files_before.get(module) != files_after.get(module)
    ]


# --------------------------------------------------------------------------- problems


def manifest_problems(config: MendelConfig) -> list[Problem]:
    """Load each bundle's manifest on its own, so one broken file doesn't hide the next (with the
    entries' `original`, which loading leaves to the source maps)."""
    from ..core.manifest import load_manifest
    from ..core.original import check_manifest

    problems = []
    for bundle_id, bundle in config.bundles.items():
        try:
            check_manifest(load_manifest(bundle.manifest_path, bundle_id, display=bundle.manifest))
        except MendelError as error:
            problems.append({**error.to_dict(), "bundle": bundle_id})
    return problems


def walk_problems(trees: MendelTrees, bundle: str) -> list[Problem]:
    """Problems walking a bundle (base alone, each variation alone) and reading its hash back."""
    problems = []
    for names in ([], *([variation.id] for variation in trees.variations)):
        _, chains = trees.variations_and_chains(names)
        try:
            tree = trees.find_tree_for_variations(bundle, chains)
            trees.find_tree_for_hash(bundle, tree.hash)
        except MendelError as error:
            problems.append({**error.to_dict(), "variations": names})
    return problems


def missing_variation_folders(trees: MendelTrees) -> list[Problem]:
    """Configured variations none of whose folders exists: every request for them gets base."""
    kept = {variation.id for variation in trees.variations}
    return [
        {
            "type": "MissingVariationFolder",
            "message": f"variation {spec.id!r} has no folder ({', '.join(spec.folders)}):"
            " requests for it get the base files",
            "path": trees.config.path,
            "variation": spec.id,
            "folders": list(spec.folders),
        }
        for spec in trees.config.variation_specs
        if spec.id not in kept and spec.id not in trees.config.empty_variations
    ]


def stale_manifests(config: MendelConfig) -> list[Problem]:
    """Manifests that `mendel build` would write differently from the current sources."""
    from ..compiler import build_manifests

    report = build_manifests(config, check=True, minify=config.minify)
    return [
        {
            "type": "StaleManifest",
            "message": f"{manifest}: older than its sources; run `mendel build`",
            "path": manifest,
        }
        for manifest in report.stale
    ]
