"""The offline `mendel` command: inspect, validate, resolve, decode and diff a project's bundles.

Every command takes `--basedir`, `--hash-format` (v3 | mendel-v1 | mendel-v2), `--hash-key` (for
keyed v3 hashes) and `--json` (machine output on stdout; the human output is plain aligned tables).

Defaults come from the host. Each of `MENDEL_BASEDIR`, `MENDEL_HASH_FORMAT`, `MENDEL_HASH_KEY` and
`MENDEL_ENV` (the `.mendelrc` env section to apply) is looked up, when its option is not given, in

1. the click context object of the command or any parent: a mapping with that key
   (`{"MENDEL_BASEDIR": "site"}`), Flask's `ScriptInfo` (its app's config: what
   `app.test_cli_runner()` passes), or an object with the lower-cased attribute
   (`mendel_basedir`); this is how a program that mounts the group passes its settings;
2. `current_app.config` of an active Flask application context (Flask pushes one for the commands
   it runs, so `flask mendel ...` follows the app's settings);
3. the process environment;

and otherwise the project folder is ".", the hash format the config's (else v3).

Exit codes: 0 ok, 1 a problem found (bad hash, invalid config or manifest, unknown bundle, ...),
2 bad usage. Errors are a single `Error: ...` line on stderr; with `--json` an
`{"error": {...}}` object is also written to stdout.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from .compiler.command import build_command
from .errors import HashError, MendelError
from .hashcodec import FORMATS as HASH_FORMATS

if TYPE_CHECKING:
    from .config import MendelConfig
    from .trees import MendelTrees, Tree

EXACT_PERMUTATION_LIMIT = 16
BASEDIR_KEY = "MENDEL_BASEDIR"

Report = dict[str, Any]


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """The options every command shares."""

    basedir: str
    hash_format: str | None
    hash_key: str | bytes | None
    env: str | None
    as_json: bool


def host_setting(name: str, ctx: click.Context | None = None) -> Any:
    """A MENDEL_* value from the host: context object, then the Flask app's config, then os.environ."""
    ctx = ctx or click.get_current_context(silent=True)
    for value in (setting_from_context(ctx, name), setting_from_flask_app(name), os.environ.get(name)):
        if value:
            return value
    return None


def setting_from_context(ctx: click.Context | None, name: str) -> Any:
    """The setting carried by the context object of `ctx` or one of its parents."""
    while ctx is not None:
        value = setting_from_object(ctx.obj, name)
        if value:
            return value
        ctx = ctx.parent
    return None


def setting_from_object(obj: Any, name: str) -> Any:
    """`obj[name]`, a Flask ScriptInfo's `app.config[name]`, or `obj.<name lowercased>`."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    if callable(getattr(obj, "load_app", None)):
        return obj.load_app().config.get(name)
    return getattr(obj, name.lower(), None)


def setting_from_flask_app(name: str) -> Any:
    """`current_app.config[name]`, if Flask is loaded and an app context is pushed."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return None
    return flask.current_app.config.get(name)


def default_basedir(ctx: click.Context | None = None) -> str:
    """The project folder when `--basedir` is not given (see the module docstring for the order)."""
    value = host_setting(BASEDIR_KEY, ctx)
    return os.fspath(value) if value else "."


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --basedir/--hash-format/--hash-key/--json and pass them as one `Options`."""

    @functools.wraps(command)
    def with_options(
        *args: Any,
        basedir: str | None,
        hash_format: str | None,
        hash_key: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> Any:
        options = Options(
            basedir=basedir or default_basedir(),
            hash_format=hash_format or host_setting("MENDEL_HASH_FORMAT"),
            hash_key=hash_key or host_setting("MENDEL_HASH_KEY"),
            env=host_setting("MENDEL_ENV"),
            as_json=as_json,
        )
        return command(options, *args, **kwargs)

    decorators = (
        click.option(
            "--basedir",
            type=click.Path(file_okay=False),
            default=None,
            help=f"Project folder (.mendelrc here or above). Default: {BASEDIR_KEY} or '.'.",
        ),
        click.option(
            "--hash-format",
            type=click.Choice(HASH_FORMATS),
            default=None,
            help="Hash format to write. Default: MENDEL_HASH_FORMAT, else the config's, else v3.",
        ),
        click.option("--hash-key", default=None, help="Secret for keyed v3 hashes. Default: MENDEL_HASH_KEY."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output."),
    )
    for decorate in reversed(decorators):
        with_options = decorate(with_options)
    return with_options


def split_names(text: str | None) -> list[str]:
    """`"a, b,,c"` -> `["a", "b", "c"]`."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


# --------------------------------------------------------------------------- output


class CommandFailed(click.ClickException):
    """A problem found in the project or the input: one line on stderr, exit code 1."""

    exit_code = 1


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the header."""
    cells = [[str(cell) for cell in row] for row in (headers, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name  value` lines with the values aligned."""
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in pairs)


def emit(options: Options, report: Report, render: Callable[[Report], str]) -> None:
    """Write the report as JSON or as the human rendering."""
    if options.as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report))


def error_report(error: MendelError) -> Report:
    """The JSON shape of an error."""
    details: Report = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, HashError):
        details["code"] = error.code
    return {"error": details}


@contextmanager
def reporting_errors(options: Options) -> Iterator[None]:
    """Turn a MendelError (or an unreadable file) into one stderr line and exit code 1."""
    try:
        yield
    except MendelError as error:
        if options.as_json:
            click.echo(json.dumps(error_report(error), indent=2))
        raise CommandFailed(str(error)) from None
    except OSError as error:
        raise CommandFailed(describe_os_error(error)) from None


def describe_os_error(error: OSError) -> str:
    """`path: reason` for a file that can't be read."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def load_trees(options: Options, config: MendelConfig | None = None) -> MendelTrees:
    """The project's MendelTrees (from `config` if given), with the options' hash settings."""
    from .trees import MendelTrees

    return MendelTrees(options.basedir, options.hash_format, options.hash_key, config=config, env=options.env)


def selected_bundles(trees: MendelTrees, bundles: Sequence[str]) -> tuple[str, ...]:
    """The bundles asked for (checked to exist), or every bundle when none is named."""
    for bundle in bundles:
        trees.manifest(bundle)
    return tuple(bundles) or tuple(trees.bundles)


# --------------------------------------------------------------------------- the group


@click.group(name="mendel")
def cli() -> None:
    """Inspect and check Mendel variation bundles offline."""


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
        rows.append({"module": module.id, "entries": len(module.entries), "variations": list(module.variations)})
    return rows


def relevant_variations(trees: MendelTrees, bundle: str) -> list[str]:
    """Variations whose chain names a folder this bundle has files in; the others can't change it."""
    folders = trees.manifest(bundle).folders
    base_dir = trees.config.base_dir
    return [
        variation.id
        for variation in trees.variations
        if any(folder in folders for folder in variation.chain if folder != base_dir)
    ]


def tree_identity(tree: Tree) -> tuple[tuple[str, str], ...]:
    """What makes two trees the same: the folder each resolved module came from."""
    return tuple((entry["id"], entry["variation"]) for entry in tree.deps)


def count_distinct_trees(trees: MendelTrees, bundle: str, names: Sequence[str]) -> Report:
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


def permutation_bound(trees: MendelTrees, bundle: str) -> Report:
    """Product over branch points of their entry counts: an upper bound on distinct trees."""
    manifest = trees.manifest(bundle)
    bound = 1
    for index in manifest.branch_points:
        bound *= len(manifest.modules[index].entries)
    return {"count": bound, "exact": False}


def reachable_permutations(trees: MendelTrees, bundle: str) -> Report:
    """Distinct trees reachable over all variation subsets, exact when feasible, else a bound."""
    names = relevant_variations(trees, bundle)
    if len(names) <= EXACT_PERMUTATION_LIMIT:
        result = count_distinct_trees(trees, bundle, names)
    else:
        result = permutation_bound(trees, bundle)
    return {**result, "relevant_variations": len(names)}


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


def problem_from_error(error: MendelError) -> Report:
    """One problem entry, keeping the location fields an error carries."""
    problem: Report = {"type": type(error).__name__, "message": str(error)}
    for field in ("path", "key", "module", "field", "bundle", "code"):
        value = getattr(error, field, None)
        if value is not None:
            problem[field] = value
    return problem


def walk_problems(trees: MendelTrees, bundle: str) -> list[Report]:
    """Problems walking a bundle (base alone, each variation alone) and reading its hash back."""
    problems = []
    for names in ([], *([variation.id] for variation in trees.variations)):
        _, chains = trees.variations_and_chains(names)
        try:
            tree = trees.find_tree_for_variations(bundle, chains)
            trees.find_tree_for_hash(bundle, tree.hash)
        except MendelError as error:
            problems.append({**problem_from_error(error), "variations": names})
    return problems


def validate_report(options: Options) -> Report:
    """Load the config and every manifest, collecting every problem found."""
    from .config import load_config

    try:
        config = load_config(options.basedir, env=options.env)
    except MendelError as error:
        return {"ok": False, "bundles": [], "problems": [problem_from_error(error)]}
    problems = manifest_problems(config)
    if not problems:
        problems = tree_problems(options, config)
    return {"ok": not problems, "bundles": list(config.bundles), "problems": problems}


def manifest_problems(config: MendelConfig) -> list[Report]:
    """Load each bundle's manifest on its own, so one broken file doesn't hide the next."""
    from .manifest import load_manifest

    problems = []
    for bundle_id, bundle in config.bundles.items():
        try:
            load_manifest(bundle.manifest_path, bundle_id, display=bundle.manifest)
        except MendelError as error:
            problems.append({**problem_from_error(error), "bundle": bundle_id})
    return problems


def tree_problems(options: Options, config: MendelConfig) -> list[Report]:
    """Problems building the trees (e.g. the hash settings) or walking any bundle."""
    try:
        trees = load_trees(options, config)
    except MendelError as error:
        return [problem_from_error(error)]
    return [problem for bundle in trees.bundles for problem in walk_problems(trees, bundle)]


def render_validate(report: Report) -> str:
    """Human form of `validate`."""
    if report["ok"]:
        return f"OK: config and {len(report['bundles'])} bundle manifests valid ({', '.join(report['bundles'])})"
    lines = [f"{len(report['problems'])} problem(s) found:"]
    lines.extend(f"  {problem['message']}" for problem in report["problems"])
    return "\n".join(lines)


@cli.command("validate")
@common_options
def validate_command(options: Options) -> None:
    """Check the config and every manifest; exit 1 listing every problem."""
    with reporting_errors(options):
        report = validate_report(options)
    emit(options, report, render_validate)
    if not report["ok"]:
        raise CommandFailed(f"{len(report['problems'])} problem(s) found")


# --------------------------------------------------------------------------- resolve


def resolved_files(tree: Tree) -> list[Report]:
    """Module id, file and variation folder of every resolved module, in manifest order."""
    return [{"module": entry["id"], "file": entry["file"], "variation": entry["variation"]} for entry in tree.deps]


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


def unknown_variations(trees: MendelTrees, names: Sequence[str]) -> list[str]:
    """Requested names that are not configured (kept) variations; they are ignored."""
    known = {variation.id for variation in trees.variations}
    return [name for name in names if name not in known]


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


def decode_report(options: Options, bundle: str | None, hash_: str) -> Report:
    """Decode a hash; with a bundle, also walk the bundle by it and list the files."""
    from .hashcodec import decode

    decoded = decode(hash_)
    report: Report = {
        "hash": hash_,
        "version": decoded.version,
        "keyed": bool(decoded.keyed),
        "branches": list(decoded.branches),
        "file_count": decoded.file_count,
    }
    if bundle is not None:
        trees = load_trees(options)
        tree = trees.find_tree_for_hash(bundle, hash_)
        report.update(bundle=bundle, url=trees.config.bundle_path(bundle, hash_), files=resolved_files(tree))
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
@click.argument("hash_", metavar="HASH")
@common_options
def decode_command(options: Options, bundle: str | None, hash_: str) -> None:
    """Decode a bundle hash (any known version); exit 1 with its error code if it is invalid."""
    with reporting_errors(options):
        report = decode_report(options, bundle, hash_)
    emit(options, report, render_decode)


# --------------------------------------------------------------------------- diff


def file_changes(before: Tree, after: Tree) -> list[Report]:
    """Modules whose resolved file differs between two trees (None where a module is absent)."""
    files_before = {entry["id"]: entry["file"] for entry in before.deps}
    files_after = {entry["id"]: entry["file"] for entry in after.deps}
    ordered_ids = [*files_before, *(module for module in files_after if module not in files_before)]
    return [
        {"module": module, "from": files_before.get(module), "to": files_after.get(module)}
        for module in ordered_ids
        if files_before.get(module) != files_after.get(module)
    ]


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


cli.add_command(build_command)
