"""The offline `mendel` command: inspect, validate, resolve, decode, diff and build.

Every command takes `--basedir` and `--json` (machine output on stdout; the human output is plain
aligned tables); those that write hashes also `--hash-format` (v3 | mendel-v1 | mendel-v2) and
`--hash-key` (keyed v3 hashes). Settings, output, errors and exit codes are shared by every
command (`mendel_py.cli_support`, re-exported here for commands registered from other modules):
0 ok, 1 a problem found, 2 bad usage. The questions the commands ask live in
`mendel_py.analysis`; this module only turns answers into tables and JSON.
"""
from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import click

from ..errors import MendelError
from .analysis import (
    file_changes,
    manifest_problems,
    missing_variation_folders,
    reachable_permutations,
    stale_manifests,
    unknown_variations,
    walk_problems,
)
from .support import (
    BASEDIR_KEY,
    CommandFailed,
    Options,
    Report,
    common_options,
    default_basedir,
    describe_os_error,
    emit,
    format_fields,
    format_table,
    host_setting,
    load_trees,
    project_options,
    reporting_errors,
    split_names,
)

if TYPE_CHECKING:
    from ..config.model import MendelConfig
    from ..core.trees import MendelTrees, Tree

__all__ = [
    "BASEDIR_KEY",
    "CommandFailed",
    "Options",
    "Report",
    "cli",
    "common_options",
    "default_basedir",
    "describe_os_error",
    "emit",
    "format_fields",
    "format_table",
    "host_setting",
    "load_trees",
    "main",
    "project_options",
    "reporting_errors",
    "split_names",
]


def package_version() -> str:
    try:
        return version("mendel_py")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def selected_bundles(trees: MendelTrees, bundles: Sequence[str]) -> tuple[str, ...]:
    """The bundles asked for (checked to exist), or every bundle when none is named."""
    for bundle in bundles:
        trees.manifest(bundle)
    return tuple(bundles) or tuple(trees.bundles)


# --------------------------------------------------------------------------- the group


@click.group(name="mendel")
@click.version_option(package_version(), "--version", prog_name="mendel", message="%(prog)s %(version)s")
def cli() -> None:
    """Inspect, check and build Mendel variation bundles offline."""


def main() -> None:
    """Console-script entry point: run the group with standalone exit codes."""
    cli.main(prog_name="mendel")


# --------------------------------------------------------------------------- inspect


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


@cli.command("inspect")
@common_options
def inspect_command(options: Options) -> None:
    """Show bundles, variations, branch points, permutations and sizes."""
    with reporting_errors(options):
        report = inspect_report(load_trees(options))
    emit(options, report, render_inspect)


# --------------------------------------------------------------------------- validate


def validate_report(options: Options) -> Report:
    """Load the config and every manifest, walk every bundle, compare manifests with sources."""
    from ..config import load_config

    try:
        config = load_config(options.basedir, env=options.env)
    except MendelError as error:
        return {"ok": False, "bundles": [], "problems": [error.to_dict()], "sources_checked": False}
    problems = manifest_problems(config)
    if not problems:
        problems = tree_problems(options, config)
    sources = sources_present(config)
    if sources and not problems:
        problems = source_problems(config)
    return {"ok": not problems, "bundles": list(config.bundles), "problems": problems, "sources_checked": sources}


def tree_problems(options: Options, config: MendelConfig) -> list[Report]:
    """Problems building the trees (e.g. the hash settings), configured variations without a
    folder, and problems walking any bundle."""
    from ..config.model import VariationProblems

    try:
        trees = load_trees(options, config)
    except VariationProblems as problems:  # each one once, on its own line
        return [problem.to_dict() for problem in problems.problems]
    except MendelError as error:
        return [error.to_dict()]
    walks = [problem for bundle in trees.bundles for problem in walk_problems(trees, bundle)]
    return missing_variation_folders(trees) + walks


def sources_present(config: MendelConfig) -> bool:
    """True when the base folder is on disk (a server may carry manifests without sources)."""
    import os

    return os.path.isdir(os.path.join(config.root, *config.base_dir.split("/")))


def source_problems(config: MendelConfig) -> list[Report]:
    """Manifests that don't match the sources (or sources that don't build)."""
    try:
        return stale_manifests(config)
    except MendelError as error:
        return [error.to_dict()]


def render_validate(report: Report) -> str:
    """Human form of `validate`."""
    if report["ok"]:
        checked = "up to date with the sources" if report["sources_checked"] else "(no sources to compare)"
        return (
            f"OK: config and {len(report['bundles'])} bundle manifests valid"
            f" ({', '.join(report['bundles'])}), {checked}"
        )
    lines = [f"{len(report['problems'])} problem(s) found:"]
    lines.extend(f"  {problem['message']}" for problem in report["problems"])
    return "\n".join(lines)


@cli.command("validate")
@common_options
def validate_command(options: Options) -> None:
    """Check the config, every manifest and variation folder, and that the manifests match the
    sources (when they are present); exit 1 listing every problem."""
    with reporting_errors(options):
        report = validate_report(options)
    emit(options, report, render_validate)
    if not report["ok"]:
        raise CommandFailed(f"{len(report['problems'])} problem(s) found")


# --------------------------------------------------------------------------- resolve


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
            ("Conflicts", f"{tree['conflicts']}" + (f" ({', '.join(tree['conflict_list'])})" if tree["conflict_list"] else "")),
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


@cli.command("resolve")
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


@cli.command("decode")
@click.option("--bundle", default=None, help="Walk this bundle by the hash and list its files.")
@click.argument("hash", metavar="HASH")
@common_options
def decode_command(options: Options, bundle: str | None, hash: str) -> None:
    """Decode a bundle hash (any known version); exit 1 with its error code if it is invalid."""
    with reporting_errors(options):
        report = decode_report(options, bundle, hash)
    emit(options, report, render_decode)


# --------------------------------------------------------------------------- diff


def diff_report(trees: MendelTrees, bundles: Sequence[str], names_from: Sequence[str], names_to: Sequence[str]) -> Report:
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


@cli.command("diff")
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


# Commands of other modules: one line each (they import their helpers from cli_support).
from .build import build_command  # noqa: E402
from .dev import dev_command  # noqa: E402
from .experiments import assign_command, qa_link_command, simulate_command  # noqa: E402
from .generations import generations_command, reload_command  # noqa: E402
from .sourcemap import sourcemap_command  # noqa: E402
from .store import store_command  # noqa: E402

for command in (
    build_command,
    dev_command,
    generations_command,
    reload_command,
    sourcemap_command,
    assign_command,
    simulate_command,
    qa_link_command,
    store_command,
):
    cli.add_command(command)
