"""The deploy step's side of the generation store: adding a generation (`publish`), moving
`CURRENT` (`set_current`), retention (`prunable`, `prune`) and the whole `publish_project` that
`mendel build` and `mendel reload` run. Servers never import this module: they read the store
through `mendel_py.core.generations`, and follow `CURRENT` (`mendel_py.deploy.reloader`).
Each write step has a fault point (`mendel_py._runtime.faults`) the deploy tests crash at.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from typing import Any

from .._runtime.atomic import TEMP_PREFIX, write_atomically
from .._runtime.faults import fault_point
from ..config.model import (
    DEFAULT_KEEP,
    DEFAULT_MAX_AGE_DAYS,
    MANIFEST_SUFFIX,
    MendelConfig,
)
from ..core.assets import ASSETS_FOLDER, copy_store, store_dir
from ..core.generations import (
    CONFIG_FILE,
    CURRENT_FILE,
    META_FILE,
    GenerationInfo,
    GenerationStore,
    generation_config,
    generation_id,
    project_files,
)
from ..core.manifest import load_manifest
from ..core.manifest_cache import manifest_digest
from ..errors import MendelError

__all__ = [
    "DELETE_PREFIX",
    "PublishingStore",
    "TEMP_MAX_AGE",
    "publish_project",
    "remove_leftovers",
    "validate_generation",
]

log = logging.getLogger(__name__)

DELETE_PREFIX = ".del-"
TEMP_MAX_AGE = 3600.0
"""Seconds after which `prune` removes a leftover temporary file or folder (a killed build's):
older than any deploy step still running could be."""


class PublishingStore(GenerationStore):
    """A `GenerationStore` the deploy step writes: what the reading store does, plus adding
    generations, moving `CURRENT` and pruning."""

    def __init__(self, path: str, keep: int = DEFAULT_KEEP, max_age_days: float = DEFAULT_MAX_AGE_DAYS):
        super().__init__(path, keep, max_age_days)
        self.leftovers_removed: list[str] = []
        """Names of the temporary entries the last `prune` removed."""

    def publish(
        self, files: dict[str, bytes], validate: Callable[[str], Any] | None = None
    ) -> tuple[str, bool]:
        """Add a generation made of `files`; returns (id, added). `validate(folder)` runs on the
        written folder before it becomes visible and may raise: then nothing is added."""
        generation = generation_id(files)
        if self.has(generation):
            return generation, False
        _make_dirs(self.path)
        staging = os.path.join(self.path, f"{TEMP_PREFIX}{generation}-{os.getpid()}-{secrets.token_hex(4)}")
        _make_dirs(staging)
        try:
            for name, data in files.items():
                _write_file(os.path.join(staging, name), data)
                fault_point(f"store-file:{name}")
            if validate is not None:
                validate(staging)
            bundles = {name[: -len(MANIFEST_SUFFIX)]: name for name in files if name != CONFIG_FILE}
            meta = {
                "id": generation,
                "created": time.time(),
                "bundles": bundles,
                "size": sum(len(data) for data in files.values()),
                "digests": {bundle: manifest_digest(files[name]).hex() for bundle, name in bundles.items()},
            }
            _write_file(os.path.join(staging, META_FILE), json.dumps(meta, indent=1).encode())
            fault_point("store-staged")
            try:
                os.rename(staging, os.path.join(self.path, generation))
            except OSError:  # another process published the same generation first
                if not self.has(generation):
                    raise
                return generation, False
            return generation, True
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def set_current(self, generation: str) -> None:
        """Point `CURRENT` at a stored generation (an atomic replace: readers see old or new)."""
        if not self.has(generation):
            raise MendelError(f"generation {generation} is not in the store {self.path}")
        fault_point("current")
        path = os.path.join(self.path, CURRENT_FILE)
        try:
            write_atomically(path, (generation + "\n").encode("ascii"))
        except OSError as exc:
            raise named_os_error(exc, path) from None

    def prunable(self, now: float | None = None) -> list[GenerationInfo]:
        """Generations past retention, the one rule of every command and every automatic prune:
        a generation is kept while it is current, OR among the newest `keep`, OR younger than
        `max_age_days`; only one that is none of these goes."""
        now = time.time() if now is None else now
        current = self.current_id()
        oldest_kept = now - self.max_age_days * 86400
        return [
            info
            for rank, info in enumerate(self.list())
            if info.id != current and rank >= self.keep and info.created < oldest_kept
        ]

    def prune(self, now: float | None = None, temp_max_age: float = TEMP_MAX_AGE) -> list[GenerationInfo]:
        """Remove the generations past retention, and temporary files and folders a killed deploy
        step left (`.tmp-*`, `.del-*`) once older than `temp_max_age` seconds (a command: never
        called while serving)."""
        now = time.time() if now is None else now
        removed = self.prunable(now)
        for info in removed:
            doomed = os.path.join(self.path, f"{DELETE_PREFIX}{info.id}-{secrets.token_hex(4)}")
            os.rename(os.path.join(self.path, info.id), doomed)  # invisible first, then removed
            shutil.rmtree(doomed, ignore_errors=True)
        self.leftovers_removed = remove_leftovers(self.path, now - temp_max_age)
        return removed


def remove_leftovers(folder: str, older_than: float) -> list[str]:
    """Remove `.tmp-*` and `.del-*` entries of `folder` last changed before `older_than` (a time);
    returns their names."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.startswith((TEMP_PREFIX, DELETE_PREFIX)):
            continue
        path = os.path.join(folder, name)
        try:
            if os.lstat(path).st_mtime >= older_than:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            continue
        removed.append(name)
    return removed


def validate_generation(config: MendelConfig) -> None:
    """Load every manifest of `config` as a server would; raises the ManifestError it finds."""
    known: set[str] = set()
    for bundle in config.bundles.values():
        known.update(load_manifest(bundle.manifest_path, bundle.id, display=bundle.manifest).folders)
    config.variations(known)


def publish_project(config: MendelConfig) -> tuple[str, bool] | None:
    """Validate the project's manifests, add them to its store and make them current (what
    `mendel build` and `mendel reload` do: the deploy step, the only writer of the store);
    returns (generation id, newly added), or None when the store is off (MENDEL_GENERATIONS=off).
    `CURRENT` moves once, after the whole set is written, checked and renamed into place; then
    what retention no longer keeps is pruned (`GenerationStore.prunable`: the same rule as
    `mendel generations prune`)."""
    store = PublishingStore.for_config(config)
    if store is None:
        return None
    # the assets first, into the store's shared folder: no generation names one it lacks
    copy_store(store_dir(config.root, [b.manifest_path for b in config.bundles.values()]),
               os.path.join(store.path, ASSETS_FOLDER))
    generation, added = store.publish(
        project_files(config), validate=lambda folder: validate_generation(generation_config(folder, config))
    )
    fault_point("store-published")
    store.set_current(generation)
    log.info("mendel: generation %s is current in %s", generation, store.path)
    for info in store.prune():  # the one retention rule, as `mendel generations prune` applies it
        log.info("mendel: pruned generation %s (past retention)", info.id)
    return generation, added


def _write_file(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise named_os_error(exc, path) from None


def _make_dirs(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise named_os_error(exc, path) from None


def named_os_error(exc: OSError, path: str) -> OSError:
    """`exc` with the path it concerns: a failed write() names none, and "No space left on
    device" must say where."""
    return exc if exc.filename is not None else OSError(exc.errno, exc.strerror, path)
