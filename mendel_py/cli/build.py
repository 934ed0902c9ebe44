"""The `build` click command (mounted by `mendel` and `flask mendel`).

Options, JSON errors and exit codes are the other commands' (`mendel_py.cli_support`): 0 ok, 1 a
build error (or, with --check, stale manifests), 2 bad usage.
"""
from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from .support import CommandFailed, Options, emit, project_options, reporting_errors

PROGRESS_THRESHOLD = 300


class ClickProgress:
    """A `click.progressbar` behind the BuildProgress protocol, shown only for big projects."""

    def __init__(self, stream: TextIO, threshold: int = PROGRESS_THRESHOLD):
        self.stream = stream
        self.threshold = threshold
        self.bar: Any = None

    def start(self, total: int) -> None:
        if total > self.threshold:
            self.bar = click.progressbar(length=total, label="Building manifests", file=self.stream)
            self.bar.__enter__()

    def advance(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("build")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a manifest is stale.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--strict", is_flag=True, help="Exit 1 when a bundle is over its `budget` (else a warning).")
@project_options
def build_command(options: Options, check: bool, quiet: bool, strict: bool) -> None:
    """Compile the project's sources into one Mendel manifest per bundle."""
    from ..compiler import build_manifests
    from ..config import load_config
    from ..deploy.publish import publish_project, validate_generation

    progress = ClickProgress(sys.stderr) if _wants_progress(quiet, options.as_json) else None
    try:
        with reporting_errors(options):
            config = load_config(options.basedir, env=options.env)
            report = build_manifests(config, check=check, progress=progress)
            published = None if check else publish_project(config)
            if published is None and not check:
                # no generation store: load the manifests as a server would, which also keeps
                # their compiled forms, so a server's first start doesn't parse them
                validate_generation(config)
    finally:
        if progress is not None:
            progress.close()
    sizes = [] if check else _sizes(options)
    over = [str(row["bundle"]) for row in sizes if row["over_budget"]]
    if options.as_json or not quiet:
        from ..packing.sizes import size_lines

        summary = report.to_dict()
        lines = report.summary_lines()
        if sizes:
            summary["sizes"] = sizes
            lines += ["sizes (raw, gzip):", *size_lines(sizes)]
        if published is not None:
            summary["generation"] = published[0]
            lines.append(f"generation {published[0]} is current")
        emit(options, summary, lambda _: "\n".join(lines))
    if report.stale:
        raise CommandFailed("stale manifests (run `mendel build`): " + " ".join(report.stale))
    if over:
        message = "over budget (gzip of the largest tree): " + " ".join(over)
        if strict:
            raise CommandFailed(message)
        click.echo(f"Warning: {message}", err=True)


def _sizes(options: Options) -> list[dict[str, Any]]:
    """Raw and gzip sizes of each bundle's base and largest variation tree (`packing.sizes`), of
    the manifests a server now loads (the current generation's, when there is a store)."""
    from ..core.trees import MendelTrees
    from ..packing.sizes import size_report

    with reporting_errors(options):
        return size_report(MendelTrees(options.basedir, env=options.env))


def _wants_progress(quiet: bool, as_json: bool) -> bool:
    return not (quiet or as_json) and sys.stderr.isatty()
