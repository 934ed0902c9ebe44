"""What variation sets resolve to: `mendel resolve` (the files of each bundle), `mendel decode`
(what a bundle hash says), `mendel diff` (the files two sets of variations differ by)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..config.names import split_variation_names as split_names
from .analysis import (
    file_changes,
    unknown_variations,
)
from .support import (
    Options,
    Report,
    common_options,
    emit,
    format_fields,
    format_table,
    load_trees,
    reporting_errors,
    selected_bundles,
)

if TYPE_CHECKING:
    from ..core.trees import MendelTrees, Tree


def resolved_files(tree: Tree) -> list[Report]:
    """Module id, file and variation folder of every resolved module, in manifest order."""
    return [{"module": entry["id"], "file": entry["file"], "variation": entry["variation"]} for entry in tree.files]


def tree_report(trees: MendelTrees, tree: Tree) -> Report:
    """The JSON shape of one resolved tree."""
    return {
        "bundle": tree.bundle,
        "hash": tree.hash,
        "url": trees.config.bundle_path(tree.bundle, tree.hash),
        "branches": list(tree.branches),
        "file_count": tree.file_count,
        "conflicts": tree.conflicts,
        "conflict_list": list(tree.conflict_list),
        "files": resolved_files(tree),
    }


def variation_selection(trees: MendelTrees, names: Sequence[str]) -> tuple[Report, list[list[str]]]:
    """The report of a variation list and the chains to walk with."""
    matching, chains = trees.variations_and_chains(list(names))
    selection = {
        "requested": list(names),
        "matching": list(matching),
        "ignored": unknown_variations(trees, names),
        "chains": [list(chain) for chain in chains],
    }
    return selection, chains


def warn_ignored(options: Options, selection: Report) -> None:
    """Tell a human which requested variation names are not configured."""
    if selection["ignored"] and not options.as_json:
        click.echo(f"Warning: unknown variations ignored: {', '.join(selection['ignored'])}", err=True)


def resolve_report(trees: MendelTrees, bundles: Sequence[str], names: Sequence[str]) -> Report:
    """Everything `mendel resolve` shows."""
    selection, chains = variation_selection(trees, names)
    trees_found = [trees.find_tree_for_variations(bundle, chains) for bundle in selected_bundles(trees, bundles)]
    return {"variations": selection, "bundles": [tree_report(trees, tree) for tree in trees_found]}


def render_tree(tree: Report) -> str:
    """Human form of one resolved tree."""
    fields = format_fields(
        [
            ("Bundle", tree["bundle"]),
            ("Hash", tree["hash"]),
            ("URL", tree["url"]),
            ("Files", tree["file_count"]),
            ("Conflicts", f"{tree['conflicts']}"
             + (f" ({', '.join(tree['conflict_list'])})" if tree["conflict_list"] else "")),
        ]
    )
    files = format_table(
        ("MODULE", "FILE", "VARIATION"),
        [(f["module"], f["file"], f["variation"]) for f in tree["files"]],
    )
    return f"{fields}\n\n{files}"


def render_resolve(report: Report) -> str:
    """Human form of `resolve`."""
    matching = format_fields([("Variations", ", ".join(report["variations"]["matching"]))])
    return "\n\n".join([matching, *(render_tree(tree) for tree in report["bundles"])])


@click.command("resolve")
@click.option("--bundle", "bundles", multiple=True, help="Bundle id (repeatable; default: all).")
@click.option("--variations", default="", help="Comma-separated variation ids, e.g. a,b.")
@common_options
def resolve_command(options: Options, bundles: tuple[str, ...], variations: str) -> None:
    """Resolve the tree of bundles for a set of variations: hash, URL, files, conflicts."""
    with reporting_errors(options):
        trees = load_trees(options)
        report = resolve_report(trees, bundles, split_names(variations))
    warn_ignored(options, report["variations"])
    emit(options, report, render_resolve)


# --------------------------------------------------------------------------- decode


def decode_report(options: Options, bundle: str | None, hash: str) -> Report:
    """Decode a hash; with a bundle, also walk the bundle by it and list the files."""
    from ..core.hashcodec import decode

    decoded = decode(hash)
    report: Report = {
        "hash": hash,
        "version": decoded.version,
        "keyed": bool(decoded.keyed),
        "branches": list(decoded.branches),
        "file_count": decoded.file_count,
    }
    if bundle is not None:
        trees = load_trees(options)
        tree = trees.find_tree_for_hash(bundle, hash)
        report.update(bundle=bundle, url=trees.config.bundle_path(bundle, hash), files=resolved_files(tree))
    return report


def render_decode(report: Report) -> str:
    """Human form of `decode`."""
    pairs = [
        ("Hash", report["hash"]),
        ("Version", report["version"]),
        ("Keyed", "yes" if report["keyed"] else "no"),
        ("Branches", " ".join(str(branch) for branch in report["branches"]) or "-"),
        ("Files", report["file_count"]),
    ]
    if "bundle" not in report:
        return format_fields(pairs)
    pairs[1:1] = [("Bundle", report["bundle"]), ("URL", report["url"])]
    files = format_table(
        ("MODULE", "FILE", "VARIATION"),
        [(f["module"], f["file"], f["variation"]) for f in report["files"]],
    )
    return f"{format_fields(pairs)}\n\n{files}"


@click.command("decode")
@click.option("--bundle", default=None, help="Walk this bundle by the hash and list its files.")
@click.argument("hash", metavar="HASH")
@common_options
def decode_command(options: Options, bundle: str | None, hash: str) -> None:
    """Decode a bundle hash (any known version); exit 1 with its error code if it is invalid."""
    with reporting_errors(options):
        report = decode_report(options, bundle, hash)
    emit(options, report, render_decode)


# --------------------------------------------------------------------------- diff


def diff_report(
    trees: MendelTrees, bundles: Sequence[str], names_from: Sequence[str], names_to: Sequence[str]
) -> Report:
    """Everything `mendel diff` shows."""
    selection_from, chains_from = variation_selection(trees, names_from)
    selection_to, chains_to = variation_selection(trees, names_to)
    results = []
    for bundle in selected_bundles(trees, bundles):
        before = trees.find_tree_for_variations(bundle, chains_from)
        after = trees.find_tree_for_variations(bundle, chains_to)
        results.append(
            {"bundle": bundle, "from_hash": before.hash, "to_hash": after.hash, "changes": file_changes(before, after)}
        )
    return {"from": selection_from, "to": selection_to, "bundles": results}


def render_diff(report: Report) -> str:
    """Human form of `diff`."""
    header = format_fields(
        [("From", ", ".join(report["from"]["matching"])), ("To", ", ".join(report["to"]["matching"]))]
    )
    sections = [header]
    for bundle in report["bundles"]:
        title = f"{bundle['bundle']}: {bundle['from_hash']} -> {bundle['to_hash']}"
        if not bundle["changes"]:
            sections.append(f"{title}\n(no differences)")
            continue
        table = format_table(
            ("MODULE", "FROM", "TO"),
            [(c["module"], c["from"] or "-", c["to"] or "-") for c in bundle["changes"]],
        )
        sections.append(f"{title}\n{table}")
    return "\n\n".join(sections)


@click.command("diff")
@click.option("--bundle", "bundles", multiple=True, help="Bundle id (repeatable; default: all).")
@click.option("--from", "names_from", default="", help="Comma-separated variation ids of the first set.")
@click.option("--to", "names_to", default="", help="Comma-separated variation ids of the second set.")
@common_options
def diff_command(options: Options, bundles: tuple[str, ...], names_from: str, names_to: str) -> None:
    """List the files that differ between two variation sets."""
    with reporting_errors(options):
        trees = load_trees(options)
        report = diff_report(trees, bundles, split_names(names_from), split_names(names_to))
    warn_ignored(options, report["from"])
    warn_ignored(options, report["to"])
    emit(options, report, render_diff)
