"""`mendel generations` (list, activate, prune) and `mendel reload`: deploys from the command line.

    mendel build                        # compile, validate, publish, make current: a deploy
    mendel reload                       # publish what is on disk now and make it current
    mendel generations publish          # the same, under the deploy-step name
    mendel generations                  # what the store holds (--json too)
    mendel generations activate ID      # roll back (or forward) every host sharing the store
    mendel generations prune            # drop what retention no longer keeps

These commands (and `mendel build`) are the deploy step: the only writers of the store and of
its `CURRENT`. Running servers only follow `CURRENT`: they notice a new one within their poll
interval and swap it in (see `MendelTrees.reload`), and a restarted one starts on it, so these
commands work from any machine that mounts the store, and a rollback stays until the next deploy.
"""
from __future__ import annotations

import os
import time
from typing import Any

import click

from ..config import load_config
from ..config.model import MendelConfig
from ..core.generations import GenerationInfo
from ..deploy.publish import (
    TEMP_MAX_AGE,
    PublishingStore,
    publish_project,
    remove_leftovers,
    validate_generation,
)
from ..errors import MendelError
from .support import (
    CommandFailed,
    Options,
    emit,
    format_table,
    project_options,
    reporting_errors,
)


def _store(options: Options) -> PublishingStore:
    config = load_config(options.basedir, env=options.env)
    store = PublishingStore.for_config(config)
    if store is None:
        raise CommandFailed("the generation store is off (MENDEL_GENERATIONS=off)")
    return store


def _rows(infos: list[GenerationInfo], current: str | None) -> list[dict[str, Any]]:
    return [{**info.to_dict(), "current": info.id == current} for info in infos]


def _render_list(report: dict[str, Any]) -> str:
    if not report["generations"]:
        return f"no generations in {report['store']} (run `mendel build`)"
    rows = [
        (
            "*" if row["current"] else "",
            row["id"],
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["created"])),
            ",".join(row["bundles"]),
            f"{row['size']:,}",
        )
        for row in report["generations"]
    ]
    return format_table(("", "id", "created (UTC)", "bundles", "bytes"), rows) + f"\nstore: {report['store']}"


@click.group("generations", invoke_without_command=True)
@project_options
@click.pass_context
def generations_command(ctx: click.Context, options: Options) -> None:
    """List the stored generations, newest first (* marks the current one)."""
    ctx.obj = {**(ctx.obj if isinstance(ctx.obj, dict) else {}), "options": options}
    if ctx.invoked_subcommand is not None:
        return
    with reporting_errors(options):
        store = _store(options)
        report: dict[str, Any] = {"store": store.path, "current": store.current_id(), "generations": []}
        report["generations"] = _rows(store.list(), report["current"])
    emit(options, report, _render_list)


def _parent_options(ctx: click.Context) -> Options:
    found = ctx.find_object(dict)
    if found is None:  # a subcommand always runs under the `generations` group, which sets it
        raise RuntimeError("mendel generations: subcommand run without its group")
    options: Options = found["options"]
    return options


@generations_command.command("activate")
@click.argument("generation")
@click.pass_context
def activate_command(ctx: click.Context, generation: str) -> None:
    """Make a stored generation current (every server sharing the store switches to it, and
    stays on it across restarts until the next deploy). The generation is loaded first, as a
    server would: one that is corrupt or invalid is refused and CURRENT does not move."""
    options = _parent_options(ctx)
    with reporting_errors(options):
        config = load_config(options.basedir, env=options.env)
        store = _store(options)
        matches = [info.id for info in store.list() if info.id.startswith(generation)]
        if len(matches) != 1:
            raise CommandFailed(f"{generation!r} names {len(matches)} stored generations; give more of the id")
        _check_loadable(store, matches[0], config)
        store.set_current(matches[0])
    emit(options, {"current": matches[0]}, lambda r: f"generation {r['current']} is current")


@generations_command.command("prune")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Newest generations kept whatever their age (default generations.keep).")
@click.option("--max-age-days", type=click.FloatRange(min=0), default=None,
              help="Generations younger than this are kept (default generations.max-age-days).")
@click.pass_context
def prune_command(ctx: click.Context, dry_run: bool, keep: int | None, max_age_days: float | None) -> None:
    """Remove generations past retention: kept while current, among the newest --keep, or
    younger than --max-age-days (the rule every publish applies, with the .mendelrc values; a
    full disk may need smaller ones for once)."""
    options = _parent_options(ctx)
    with reporting_errors(options):
        config = load_config(options.basedir, env=options.env)
        store = _store(options)
        if keep is not None:
            store.keep = keep
        if max_age_days is not None:
            store.max_age_days = max_age_days
        removed = store.prunable() if dry_run else store.prune()
        leftovers = [] if dry_run else store.leftovers_removed + _project_leftovers(config)
    report = {"removed": [info.id for info in removed], "dry_run": dry_run, "temporary_removed": leftovers}
    verb = "would remove" if dry_run else "removed"
    emit(options, report,
         lambda r: f"{verb} {len(r['removed'])} generation(s)" + "".join(f"\n  {i}" for i in r["removed"]))


def _check_loadable(store: PublishingStore, generation: str, config: MendelConfig) -> None:
    """Refuse (CommandFailed, exit 1) a generation a server could not serve: files that don't
    match its id, or manifests or a config that don't load."""
    try:
        store.verify(generation)
        validate_generation(store.config(generation, config))
    except MendelError as exc:
        raise CommandFailed(f"generation {generation} can't be activated, CURRENT not moved: {exc}") from None


def _project_leftovers(config: MendelConfig) -> list[str]:
    """Temporary files killed builds left next to the project's manifests (past the safe age)."""
    folders = {os.path.dirname(bundle.manifest_path) for bundle in config.bundles.values()}
    return [name for folder in sorted(folders) for name in remove_leftovers(folder, time.time() - TEMP_MAX_AGE)]


def _publish(options: Options) -> None:
    with reporting_errors(options):
        published = publish_project(load_config(options.basedir, env=options.env))
    if published is None:
        raise CommandFailed("the generation store is off (MENDEL_GENERATIONS=off): restart the servers instead")
    emit(options, {"current": published[0], "added": published[1]}, lambda r: f"generation {r['current']} is current")


@generations_command.command("publish")
@click.pass_context
def publish_command(ctx: click.Context) -> None:
    """Publish the project's manifests as they are on disk and make them current (`mendel
    reload` under its deploy-step name)."""
    _publish(_parent_options(ctx))


@click.command("reload")
@project_options
def reload_command(options: Options) -> None:
    """Publish the project's manifests as they are on disk and make them current (the explicit
    publish step: validated first, CURRENT moves once the whole set is stored); running servers
    swap them in without a restart."""
    _publish(options)
