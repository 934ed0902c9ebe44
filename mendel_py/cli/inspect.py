"""`mendel inspect`: bundles, variations, branch points, permutations and sizes of a project."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .analysis import (
    reachable_permutations,
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
)

if TYPE_CHECKING:
    from ..core.trees import MendelTrees


def variation_rows(trees: MendelTrees) -> list[Report]:
    """Each configured (kept) variation with its lookup chain."""
    return [{"id": variation.id, "chain": list(variation.chain)} for variation in trees.variations]


def branch_point_rows(trees: MendelTrees, bundle: str) -> list[Report]:
    """Modules of a bundle with more than one data entry."""
    manifest = trees.manifest(bundle)
    rows = []
    for index in manifest.branch_points:
        module = manifest.modules[index]
        rows.append({"module": module.id, "entries": len(module.entries), "variations": list(module.folders)})
    return rows


def bundle_summary(trees: MendelTrees, bundle: str) -> Report:
    """Counts, sizes, branch points and permutations of one bundle."""
    bundle_config = trees.config.bundles[bundle]
    manifest = trees.manifest(bundle)
    return {
        "id": bundle,
        "manifest": bundle_config.manifest,
        "manifest_path": bundle_config.manifest_path,
        "serve_as": bundle_config.serve_as,
        "modules": len(manifest.modules),
        "files": sum(len(module.entries) for module in manifest.modules),
        "source_bytes": manifest.source_bytes,
        "branch_points": branch_point_rows(trees, bundle),
        "permutations": reachable_permutations(trees, bundle),
    }


def inspect_report(trees: MendelTrees) -> Report:
    """Everything `mendel inspect` shows."""
    bundles = [bundle_summary(trees, bundle) for bundle in trees.bundles]
    return {
        "root": trees.config.root,
        "config": trees.config.path,
        "hash_format": trees.hash_format.name,
        "base": {"id": trees.config.base_id, "dir": trees.config.base_dir},
        "bundles": bundles,
        "variations": variation_rows(trees),
        "totals": {
            "bundles": len(bundles),
            "modules": sum(bundle["modules"] for bundle in bundles),
            "files": sum(bundle["files"] for bundle in bundles),
            "source_bytes": sum(bundle["source_bytes"] for bundle in bundles),
        },
    }


def describe_permutations(permutations: Report) -> str:
    """`3` for an exact count, `<= 64 (upper bound)` otherwise."""
    if permutations["exact"]:
        return str(permutations["count"])
    return f"<= {permutations['count']} (upper bound)"


def render_inspect(report: Report) -> str:
    """Human form of `inspect`."""
    header = format_fields(
        [
            ("Root", report["root"]),
            ("Config", report["config"] or "-"),
            ("Hash format", report["hash_format"]),
            ("Base", f"{report['base']['id']} ({report['base']['dir']})"),
        ]
    )
    bundles = format_table(
        ("BUNDLE", "MANIFEST", "SERVE AS", "MODULES", "FILES", "SOURCE BYTES", "BRANCH POINTS", "PERMUTATIONS"),
        [
            (
                b["id"],
                b["manifest"],
                b["serve_as"],
                b["modules"],
                b["files"],
                b["source_bytes"],
                len(b["branch_points"]),
                describe_permutations(b["permutations"]),
            )
            for b in report["bundles"]
        ],
    )
    variations = format_table(
        ("VARIATION", "CHAIN"),
        [(v["id"], " > ".join(v["chain"])) for v in report["variations"]],
    )
    branch_points = format_table(
        ("BUNDLE", "BRANCH POINT", "ENTRIES", "FOLDERS"),
        [
            (b["id"], point["module"], point["entries"], ", ".join(point["variations"]))
            for b in report["bundles"]
            for point in b["branch_points"]
        ],
    )
    totals = report["totals"]
    summary = (
        f"{totals['bundles']} bundles, {totals['modules']} modules, {totals['files']} files, "
        f"{totals['source_bytes']} source bytes"
    )
    return "\n\n".join((header, bundles, variations, branch_points, summary))


def treemap_of(trees: MendelTrees, bundle: str, variations: list[str]) -> str:
    """The SVG treemap of `bundle`'s tree for `variations` (`mendel_py.packing.treemap`)."""
    from ..packing.sizes import module_sizes
    from ..packing.treemap import treemap_svg

    trees.manifest(bundle)  # BundleNotFound for an unknown bundle
    matching, chains = trees.variations_and_chains(variations)
    tree = trees.find_tree_for_variations(bundle, chains)
    title = f"{bundle} [{', '.join(matching) or 'base'}] {tree.hash}"
    return treemap_svg(module_sizes(tree), title, trees.config.base_dir)


@click.command("inspect")
@click.option("--treemap", "treemap", metavar="BUNDLE", default=None,
              help="Write an SVG treemap of BUNDLE's modules by size to stdout (`> out.svg`).")
@click.option("--variations", default="", help="With --treemap: comma-separated variation ids, e.g. a,b.")
@common_options
def inspect_command(options: Options, treemap: str | None, variations: str) -> None:
    """Show bundles, variations, branch points, permutations and sizes."""
    if treemap is not None:
        with reporting_errors(options):
            names = [name for name in variations.split(",") if name.strip()]
            click.echo(treemap_of(load_trees(options), treemap, [name.strip() for name in names]), nl=False)
        return
    with reporting_errors(options):
        report = inspect_report(load_trees(options))
    emit(options, report, render_inspect)
