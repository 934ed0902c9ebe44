"""What a bundle weighs: raw and gzip bytes of a packed tree, per module and in total, for the
build's size report and budgets (`mendel build`), `mendel inspect --treemap` and the QA page.

gzip is measured at level 9 (what a CDN or `gzip_static` serves; budgets are gzip, as in
size-limit and bundlesize). A module's share is its source's bytes as the bundle holds them.
"""
from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .packer import pack_css, pack_js

if TYPE_CHECKING:
    from ..core.trees import MendelTrees, Tree


@dataclass(frozen=True)
class TreeSize:
    """One tree of a bundle: its variations (empty: base), hash, raw and gzip bytes."""

    variations: tuple[str, ...]
    hash: str
    raw: int
    gzip: int


@dataclass(frozen=True)
class ModuleSize:
    """One module of a tree as the bundle holds it: id, the folder its version came from, bytes."""

    id: str
    folder: str
    bytes: int


def packed(tree: Tree, is_css: bool) -> bytes:
    return pack_css(tree) if is_css else pack_js(tree)


def tree_size(trees: MendelTrees, bundle: str, variations: Sequence[str]) -> TreeSize:
    _matching, chains = trees.variations_and_chains(list(variations))
    tree = trees.find_tree_for_variations(bundle, chains)
    data = packed(tree, trees.config.bundles[bundle].is_css)
    return TreeSize(tuple(variations), tree.hash, len(data), len(gzip.compress(data, 9, mtime=0)))


def bundle_sizes(trees: MendelTrees, bundle: str) -> tuple[TreeSize, TreeSize]:
    """(the base tree, the largest tree of one variation's chain by gzip bytes; the base again
    when no variation changes the bundle)."""
    base = tree_size(trees, bundle, ())
    largest = base
    seen = {base.hash}
    for variation in trees.variations:
        size = tree_size(trees, bundle, (variation.id,))
        if size.hash not in seen and size.gzip > largest.gzip:
            largest = size
        seen.add(size.hash)
    return base, largest


def module_sizes(tree: Tree) -> list[ModuleSize]:
    """The tree's modules, largest first."""
    modules = tree.manifest.modules
    found = [
        ModuleSize(modules[m].id, modules[m].folders[j], len(modules[m].entries[j].utf8_source))
        for m, j in tree.selection
    ]
    return sorted(found, key=lambda item: (-item.bytes, item.id))


def format_bytes(count: int) -> str:
    """`812 B`, `14.2 kB`, `1.31 MB` (decimal units, as browsers' devtools and Vite print them)."""
    if count < 1000:
        return f"{count} B"
    if count < 1000 * 1000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1000 / 1000:.2f} MB"


def size_report(trees: MendelTrees) -> list[dict[str, object]]:
    """Per bundle: base and largest variation tree sizes, its budget (gzip bytes, or None) and
    whether the largest tree is over it."""
    rows: list[dict[str, object]] = []
    for bundle in trees.bundles:
        base, largest = bundle_sizes(trees, bundle)
        budget = (trees.config.bundles[bundle].options or {}).get("budget")
        rows.append({
            "bundle": bundle,
            "base": {"raw": base.raw, "gzip": base.gzip},
            "largest": {"variations": list(largest.variations), "raw": largest.raw, "gzip": largest.gzip},
            "budget": budget,
            "over_budget": budget is not None and max(base.gzip, largest.gzip) > budget,
        })
    return rows


def size_lines(rows: Sequence[dict[str, object]]) -> list[str]:
    """`mendel build`'s size lines, one per bundle."""
    lines = []
    for row in rows:
        base, largest = row["base"], row["largest"]
        assert isinstance(base, dict) and isinstance(largest, dict)
        text = f"  {row['bundle']}: {format_bytes(base['raw'])} ({format_bytes(base['gzip'])} gzip) base"
        if largest["variations"]:
            text += (f", largest {format_bytes(largest['raw'])} ({format_bytes(largest['gzip'])} gzip) "
                     f"with {','.join(largest['variations'])}")
        budget = row["budget"]
        if isinstance(budget, int):
            text += f"; budget {format_bytes(budget)} gzip" + (": OVER BUDGET" if row["over_budget"] else "")
        lines.append(text)
    return lines
