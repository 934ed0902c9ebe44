"""`mendel validate`: the config, every manifest and variation folder, and that the manifests
match the sources; every problem listed, exit 1 when there is one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import MendelError
from .analysis import (
    manifest_problems,
    missing_variation_folders,
    stale_manifests,
    walk_problems,
)
from .support import (
    CommandFailed,
    Options,
    Report,
    common_options,
    emit,
    load_trees,
    reporting_errors,
)

if TYPE_CHECKING:
    from ..config.model import MendelConfig


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


@click.command("validate")
@common_options
def validate_command(options: Options) -> None:
    """Check the config, every manifest and variation folder, and that the manifests match the
    sources (when they are present); exit 1 listing every problem."""
    with reporting_errors(options):
        report = validate_report(options)
    emit(options, report, render_validate)
    if not report["ok"]:
        raise CommandFailed(f"{len(report['problems'])} problem(s) found")
