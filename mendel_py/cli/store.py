"""`mendel store verify`: check every file of the on-disk bundle store against its digest.

    mendel store verify --store-dir /srv/mendel-store        # remove what is bad; exit 1 if any
    mendel store verify --store-dir ... --keep --json        # report only

For a deploy step or cron, and above all when a web server serves the store's public tree
itself (examples/nginx.conf): a file it serves is never checked by the app. A removed file is
made again by the next request that needs it.
"""
from __future__ import annotations

import os
from typing import Any

import click

from ..serving.store import BundleStore
from .support import CommandFailed, Options, emit, host_setting

STORE_DIR_KEY = "MENDEL_STORE_DIR"


@click.group("store")
def store_command() -> None:
    """The on-disk bundle store (MENDEL_STORE_DIR)."""


def _render(report: dict[str, Any]) -> str:
    lines = [f"{row['name']}: {row['reason']}{' (removed)' if row['removed'] else ''}" for row in report["problems"]]
    summary = f"{report['checked']} files checked, " + (
        f"{len(report['problems'])} bad" if report["problems"] else "no problems"
    )
    return "\n".join([*lines, f"{summary} in {report['store']}"])


@store_command.command("verify")
@click.option("--store-dir", default=None, envvar=STORE_DIR_KEY, show_envvar=True,
              help="The bundle store folder. Default: the host's MENDEL_STORE_DIR.")
@click.option("--keep", is_flag=True, help="Report bad files only; don't remove them.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
def verify_command(store_dir: str | None, keep: bool, as_json: bool) -> None:
    """Check every stored bundle against its digest; exit 1 when a file was bad."""
    folder = store_dir or host_setting(STORE_DIR_KEY)
    if not folder:
        raise CommandFailed("no bundle store: give --store-dir or set MENDEL_STORE_DIR")
    if not os.path.isdir(folder):
        raise CommandFailed(f"{folder}: no such folder")
    try:
        checked, problems = BundleStore(folder).verify(remove=not keep)
    except OSError as error:
        raise CommandFailed(f"{error.filename or folder}: {error.strerror or error}") from None
    report = {
        "store": os.fspath(folder),
        "checked": checked,
        "problems": [{"name": p.name, "reason": p.reason, "removed": p.removed} for p in problems],
    }
    emit(Options(".", None, None, None, as_json), report, _render)
    if problems:
        raise SystemExit(1)
