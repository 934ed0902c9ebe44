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
`mendel generations activate|prune`, through `mendel_py.deploy.publish`); servers only read
(this module), and follow `CURRENT`. A generation is
checked against its id when a server loads it (`GenerationStore.verify`): a flipped byte in a
stored file is refused, never served. The record's `digests` are the manifests' own content
digests, whose first 4 bytes are the v3 URL tag of that bundle (SPEC §4): a server goes from a
URL's tag straight to a stored manifest (`GenerationStore.manifests`). Nothing here runs on
the request path but that index (re-read only when the store folder changed) and the load of a
past manifest a URL names.
"""
from __future__ import annotations

import builtins
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import blake3

from .._runtime.atomic import read_bytes
from ..config import config_from_file
from ..config.model import (
    DEFAULT_KEEP,
    DEFAULT_MAX_AGE_DAYS,
    BundleConfig,
    MendelConfig,
    manifest_file_name,
)
from ..errors import ConfigError, GenerationError, MendelError
from .hashcodec import MANIFEST_TAG_SIZE
from .manifest_cache import file_digest, manifest_digest

T = TypeVar("T")
_Store = TypeVar("_Store", bound="GenerationStore")

log = logging.getLogger(__name__)

STORE_VARIABLE = "MENDEL_GENERATIONS"
"""Environment variable naming the store folder (relative to the project root), or "off"."""
DEFAULT_STORE_DIR = "manifests/generations"
CURRENT_FILE = "CURRENT"
META_FILE = "generation.json"
CONFIG_FILE = "mendelrc"
_ID_BYTES = 16
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
    return bytes.fromhex(generation_id)[:MANIFEST_TAG_SIZE]


def manifest_tag(digest: bytes) -> bytes:
    """The 4 bytes a v3 hash carries (SPEC §4, flag bit 1): the start of the content digest of
    the bundle's own manifest, so an unchanged manifest keeps its URLs across deploys."""
    return digest[:MANIFEST_TAG_SIZE]


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

    @classmethod
    def for_config(cls: type[_Store], config: MendelConfig, setting: str | None = None) -> _Store | None:
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

    def manifests(self) -> builtins.list[StoredManifest]:
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


def generation_config(folder: str, project: MendelConfig) -> MendelConfig:
    """The config of the generation in `folder`: its own .mendelrc, read with the project's root
    (where the variation folders and templates live), and every manifest read from `folder`."""
    config = project
    stored_rc = os.path.join(folder, CONFIG_FILE)
    if os.path.isfile(stored_rc):
        config = replace(config_from_file(stored_rc, project.root, env=project.env), path=project.path)
    bundles = {bundle_id: _stored_bundle(bundle, folder) for bundle_id, bundle in config.bundles.items()}
    return replace(config, bundles=bundles)


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
