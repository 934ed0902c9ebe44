"""The generation store: every deployed set of manifests, kept immutable, named by its content.

A *generation* is one consistent set of manifests plus the `.mendelrc` that goes with them. Its id
is a blake3 digest of exactly those bytes, so the same build on two hosts is the same generation.
The store is a folder (default `manifests/generations`, shared by every host of a fleet):

    <store>/CURRENT                       the id of the generation to serve (replaced atomically)
    <store>/<id>/generation.json          {"id", "created", "bundles": {bundle: file}, "size",
                                           "digests": {bundle: blake3 hex of its manifest}}
    <store>/<id>/mendelrc                 the .mendelrc bytes of that build
    <store>/<id>/<bundle>.manifest.json   the manifests

A generation folder is written under a temporary name, validated there, then renamed into place,
so a half-written or invalid generation is never visible under its id, and `CURRENT` only ever
names a complete one. Only the deploy step writes here (`mendel build`, `mendel reload`,
`mendel generations activate|prune`); servers only read, and follow `CURRENT`. A generation is
checked against its id when a server loads it (`GenerationStore.verify`): a flipped byte in a
stored file is refused, never served. The record's `digests` are the manifests' own content
digests, whose first 4 bytes are the v3 URL tag of that bundle (SPEC §4): a server goes from a
URL's tag straight to a stored manifest (`GenerationStore.manifests`). Nothing here runs on
the request path but that index (re-read only when the store folder changed) and the load of a
past manifest a URL names.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import blake3

from .._runtime.atomic import TEMP_PREFIX, read_bytes, write_atomically
from .._runtime.faults import fault_point
from ..config import config_from_file
from ..config.model import (
    DEFAULT_KEEP,
    DEFAULT_MAX_AGE_DAYS,
    MANIFEST_SUFFIX,
    BundleConfig,
    MendelConfig,
    manifest_file_name,
)
from ..errors import ConfigError, GenerationError, MendelError
from .hashcodec import GENERATION_TAG_SIZE
from .manifest import load_manifest
from .manifest_cache import file_digest, manifest_digest

T = TypeVar("T")

log = logging.getLogger(__name__)

STORE_VARIABLE = "MENDEL_GENERATIONS"
"""Environment variable naming the store folder (relative to the project root), or "off"."""
DEFAULT_STORE_DIR = "manifests/generations"
CURRENT_FILE = "CURRENT"
META_FILE = "generation.json"
CONFIG_FILE = "mendelrc"
_ID_BYTES = 16
DELETE_PREFIX = ".del-"
TEMP_MAX_AGE = 3600.0
"""Seconds after which `prune` removes a leftover temporary file or folder (a killed build's):
older than any deploy step still running could be."""
_OFF = ("off", "none", "false", "0", "")


@dataclass(frozen=True)
class GenerationInfo:
    """What `mendel generations` lists about one stored generation."""

    id: str
    created: float
    bundles: dict[str, str]
    size: int
    digests: dict[str, str] | None = None
    """{bundle: blake3 hex of its manifest} (None in records written before it was kept)."""

    @property
    def tag(self) -> bytes:
        """The generation-wide tag URLs minted before per-bundle tags carry."""
        return generation_tag(self.id)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "bundles": sorted(self.bundles), "size": self.size}


def generation_tag(generation_id: str) -> bytes:
    """The 4 bytes of a generation id that v3 hashes minted before 2026-12 carry (decoded while
    that generation is retained; new hashes carry `manifest_tag`)."""
    return bytes.fromhex(generation_id)[:GENERATION_TAG_SIZE]


def manifest_tag(digest: bytes) -> bytes:
    """The 4 bytes a v3 hash carries (SPEC §4, flag bit 1): the start of the content digest of
    the bundle's own manifest, so an unchanged manifest keeps its URLs across deploys."""
    return digest[:GENERATION_TAG_SIZE]


@dataclass(frozen=True)
class StoredManifest:
    """One bundle manifest in the store, as the tag index names it."""

    generation: str
    bundle: str
    path: str
    digest: bytes


def store_dir(config: MendelConfig, setting: str | None = None) -> str | None:
    """The absolute store folder for a project: `setting` (the app's MENDEL_GENERATIONS), else the
    MENDEL_GENERATIONS environment variable, else `generations.dir` of the config, else the
    default; None when the setting or the variable is "off"."""
    chosen = setting if setting is not None else os.environ.get(STORE_VARIABLE)
    if chosen is not None and chosen.strip().lower() in _OFF:
        return None
    folder = chosen or config.generations.dir or DEFAULT_STORE_DIR
    return os.path.normpath(os.path.join(config.root, folder))


def project_files(config: MendelConfig) -> dict[str, bytes]:
    """The bytes that make up the project's generation on disk: its .mendelrc and manifests."""
    return {name: _on_disk(read_bytes, *where) for name, where in _project_paths(config).items()}


def project_generation_id(config: MendelConfig) -> str:
    """`generation_id(project_files(config))`, from the files' remembered digests: an unchanged
    manifest is not read again (see `manifest_cache.file_digest`)."""
    return _id({name: _on_disk(file_digest, *where) for name, where in _project_paths(config).items()})


def generation_id(files: Mapping[str, bytes]) -> str:
    """The content id of a generation: blake3 over every file's name and digest, in name order."""
    return _id({name: manifest_digest(data) for name, data in files.items()})


def _id(digests: Mapping[str, bytes]) -> str:
    combined = blake3.blake3()
    for name in sorted(digests):
        combined.update(b"%s\0" % name.encode())
        combined.update(digests[name])
    return combined.hexdigest(length=_ID_BYTES)


def _project_paths(config: MendelConfig) -> dict[str, tuple[str, str, str]]:
    """Each file of the project's generation: (path, name shown in errors, what it is)."""
    paths = {CONFIG_FILE: (config.path, config.path, "the config")} if config.path else {}
    for bundle in config.bundles.values():
        paths[manifest_file_name(bundle.id)] = (bundle.manifest_path, bundle.manifest, bundle.id)
    return paths


class GenerationStore:
    """A folder of immutable generations and the pointer to the current one."""

    def __init__(self, path: str, keep: int = DEFAULT_KEEP, max_age_days: float = DEFAULT_MAX_AGE_DAYS):
        self.path = path
        self.keep = keep
        self.max_age_days = max_age_days
        self.leftovers_removed: list[str] = []
        """Names of the temporary entries the last `prune` removed."""

    @classmethod
    def for_config(cls, config: MendelConfig, setting: str | None = None) -> GenerationStore | None:
        folder = store_dir(config, setting)
        if folder is None:
            return None
        return cls(folder, config.generations.keep, config.generations.max_age_days)

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.path, CURRENT_FILE))

    # --- reading ---------------------------------------------------------------------------

    def current_id(self) -> str | None:
        """The generation `CURRENT` names, or None when the store has none yet."""
        try:
            with open(os.path.join(self.path, CURRENT_FILE), encoding="ascii") as f:
                found = f.read().strip()
        except (OSError, UnicodeDecodeError):
            return None
        return found if self.has(found) else None

    def has(self, generation: str) -> bool:
        return _is_id(generation) and os.path.isfile(os.path.join(self.path, generation, META_FILE))

    def ids(self) -> list[str]:
        """Every complete generation in the store (unordered)."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return []
        return [name for name in names if self.has(name)]

    def info(self, generation: str) -> GenerationInfo:
        path = os.path.join(self.path, generation, META_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                meta = json.load(f)
            digests = meta.get("digests")
            return GenerationInfo(
                meta["id"], float(meta["created"]), dict(meta["bundles"]), int(meta["size"]),
                dict(digests) if isinstance(digests, dict) else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GenerationError(f"{path}: unreadable generation record ({exc})", path) from None

    def list(self) -> list[GenerationInfo]:
        """Stored generations, newest first; unreadable records are skipped (and logged)."""
        found = []
        for generation in self.ids():
            try:
                found.append(self.info(generation))
            except MendelError as exc:
                log.warning("mendel: %s", exc)
        return sorted(found, key=lambda info: (info.created, info.id), reverse=True)

    def config(self, generation: str, project: MendelConfig) -> MendelConfig:
        """The config of a stored generation (see `generation_config`)."""
        return generation_config(os.path.join(self.path, generation), project)

    def verify(self, generation: str) -> GenerationInfo:
        """Check a stored generation's files against its id (their digests are remembered while
        the files are unchanged, so a second check reads nothing); raises MendelError naming the
        generation when a file is missing, unreadable or changed since it was published."""
        info = self.info(generation)
        folder = os.path.join(self.path, generation)
        names = list(info.bundles.values())
        if os.path.exists(os.path.join(folder, CONFIG_FILE)):
            names.append(CONFIG_FILE)
        try:
            digests = {name: file_digest(os.path.join(folder, name)) for name in names}
        except OSError as exc:
            raise GenerationError(f"generation {generation} in {self.path}: {exc}", folder) from None
        if _id(digests) != generation:
            raise GenerationError(
                f"generation {generation} in {self.path} does not match its id: a stored file was"
                " changed or corrupted after publishing (refused; publish it again with `mendel build`)",
                folder,
            )
        return info

    def manifests(self) -> list[StoredManifest]:
        """Every stored bundle manifest with its digest, newest generation first (what a server
        indexes by tag). Records written before digests were kept get them computed here (once
        per file while it is unchanged)."""
        found = []
        for info in self.list():
            for bundle, name in info.bundles.items():
                path = os.path.join(self.path, info.id, name)
                try:
                    digest = bytes.fromhex(info.digests[bundle]) if info.digests else file_digest(path)
                except (OSError, KeyError, ValueError):
                    continue
                found.append(StoredManifest(info.id, bundle, path, digest))
        return found

    # --- writing -----------------------------------------------------------------------------

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
            raise _named(exc, path) from None

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
    removed = []
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


def generation_config(folder: str, project: MendelConfig) -> MendelConfig:
    """The config of the generation in `folder`: its own .mendelrc, read with the project's root
    (where the variation folders and templates live), and every manifest read from `folder`."""
    config = project
    stored_rc = os.path.join(folder, CONFIG_FILE)
    if os.path.isfile(stored_rc):
        config = replace(config_from_file(stored_rc, project.root, env=project.env), path=project.path)
    bundles = {bundle_id: _stored_bundle(bundle, folder) for bundle_id, bundle in config.bundles.items()}
    return replace(config, bundles=bundles)


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
    store = GenerationStore.for_config(config)
    if store is None:
        return None
    generation, added = store.publish(
        project_files(config), validate=lambda folder: validate_generation(generation_config(folder, config))
    )
    fault_point("store-published")
    store.set_current(generation)
    log.info("mendel: generation %s is current in %s", generation, store.path)
    for info in store.prune():  # the one retention rule, as `mendel generations prune` applies it
        log.info("mendel: pruned generation %s (past retention)", info.id)
    return generation, added


def _stored_bundle(bundle: BundleConfig, folder: str) -> BundleConfig:
    return replace(bundle, manifest_path=os.path.join(folder, manifest_file_name(bundle.id)))


def _is_id(name: str) -> bool:
    return len(name) == 2 * _ID_BYTES and all(c in "0123456789abcdef" for c in name)


def _on_disk(read: Callable[[str], T], path: str, display: str, what: str) -> T:
    """`read(path)` of a project file, its failures as ConfigErrors."""
    try:
        return read(path)
    except FileNotFoundError:
        raise ConfigError(
            f"{display}: manifest of bundle {what!r} not found; run `mendel build` first", path, None
        ) from None
    except OSError as exc:
        raise ConfigError(f"{display}: {exc.strerror}", path, None) from None


def _write_file(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise _named(exc, path) from None


def _make_dirs(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise _named(exc, path) from None


def _named(exc: OSError, path: str) -> OSError:
    """`exc` with the path it concerns: a failed write() names none, and "No space left on
    device" must say where."""
    return exc if exc.filename is not None else OSError(exc.errno, exc.strerror, path)
