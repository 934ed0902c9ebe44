"""The offline `mendel` command: inspect, validate, resolve, decode, diff and build.

Every command takes `--basedir` and `--json` (machine output on stdout; the human output is plain
aligned tables); those that write hashes also `--hash-format` (v3 | mendel-v1 | mendel-v2) and
`--hash-key` (keyed v3 hashes). Settings, output, errors and exit codes are shared by every
command (`mendel_py.cli.support`): 0 ok, 1 a problem found, 2 bad usage. The questions the
commands ask live in `mendel_py.cli.analysis`; each command module only turns answers into tables
and JSON. This module holds the group and mounts every command.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from .build import build_command
from .dev import dev_command
from .experiments import assign_command, qa_link_command, simulate_command
from .generations import generations_command, reload_command
from .inspect import inspect_command
from .render import render_command
from .resolve import decode_command, diff_command, resolve_command
from .sourcemap import sourcemap_command
from .store import store_command
from .validate import validate_command

__all__ = ["cli", "main", "package_version"]


def package_version() -> str:
    try:
        return version("mendel_py")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


# --------------------------------------------------------------------------- the group


@click.group(name="mendel")
@click.version_option(package_version(), "--version", prog_name="mendel", message="%(prog)s %(version)s")
def cli() -> None:
    """Inspect, check and build Mendel variation bundles offline."""


def main() -> None:
    """Console-script entry point: run the group with standalone exit codes."""
    cli.main(prog_name="mendel")


# The commands, one module per family (each imports its helpers from `support`).
for command in (
    inspect_command,
    validate_command,
    resolve_command,
    decode_command,
    diff_command,
    build_command,
    dev_command,
    generations_command,
    reload_command,
    sourcemap_command,
    assign_command,
    simulate_command,
    qa_link_command,
    store_command,
    render_command,
):
    cli.add_command(command)
