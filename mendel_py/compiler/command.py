"""The `build` click command (mounted by `mendel` and `flask mendel`).

Exit codes: 0 ok, 1 a build error (or, with --check, stale manifests), 2 bad usage.
"""
from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from ..errors import MendelError

PROGRESS_THRESHOLD = 300


class ClickProgress:
    """A `click.progressbar` behind the BuildProgress protocol, shown only for big projects."""

    def __init__(self, stream: IO[str], threshold: int = PROGRESS_THRESHOLD):
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
@click.option(
    "--basedir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="Project folder (.mendelrc here or above). Default: as the other mendel commands "
    "(MENDEL_BASEDIR of the Flask app or the environment), else '.'.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a manifest is stale.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def build_command(basedir: str | None, check: bool, quiet: bool, as_json: bool) -> None:
    """Compile the project's sources into one Mendel manifest per bundle."""
    from ..cli import default_basedir
    from ..config import load_config
    from . import build_manifests

    progress = ClickProgress(sys.stderr) if _wants_progress(quiet, as_json) else None
    try:
        config = load_config(basedir or default_basedir())
        report = build_manifests(config, check=check, progress=progress)
    except MendelError as error:
        _fail(error, as_json)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    elif not quiet:
        click.echo("\n".join(report.summary_lines()))
    if report.stale:
        if quiet and not as_json:
            click.echo("stale manifests: " + " ".join(report.stale), err=True)
        sys.exit(1)


def _wants_progress(quiet: bool, as_json: bool) -> bool:
    return not (quiet or as_json) and sys.stderr.isatty()


def _fail(error: MendelError, as_json: bool) -> None:
    if as_json:
        details = error.to_dict() if hasattr(error, "to_dict") else {"message": str(error)}
        click.echo(json.dumps({"ok": False, "error": details}, indent=2, sort_keys=True))
    click.echo(f"Error: {error}", err=True)
    sys.exit(1)
