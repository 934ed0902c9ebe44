"""The deploy lifecycle of a `MendelTrees`: which generation is current (the store's `CURRENT`,
or the project's manifests on disk), reloading it (`reload`, `reload_if_changed` with back-off
after a refusal), keeping past generations loaded and loading them by the manifest tag a URL
carries (skew protection), and the pool of compiled manifests the generations share.

`GenerationLifecycle` is that part of `MendelTrees` (`mendel_py.core.trees`, the memo front end):
a base class whose state is the trees' own, so resolving still reads one reference per call.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from ..config import config_from_dict, load_config
from ..config.model import MendelConfig, Variation
from ..errors import ConfigError, ManifestError, MendelError
from . import hashcodec
from .cache import Cache
from .generations import (
    CURRENT_FILE,
    STORE_VARIABLE,
    GenerationStore,
    StoredManifest,
    generation_tag,
    manifest_tag,
    project_generation_id,
)
from .manifest import load_manifest
from .manifest_cache import file_digest
from .walk import Walker

log = logging.getLogger("mendel_py.core.trees")  # one logger for MendelTrees, as before

Chains = tuple[tuple[str, ...], ...]

CHAINS_MEMO_SIZE = 1024
"""Entries of the lookup-chains memo: at most ~3 KB each with 45 variations configured."""
MAX_LOADED_GENERATIONS = 4
"""Past generations a process keeps loaded besides the current one (others load on demand)."""
MAX_LOADED_MANIFESTS = 16
"""Compiled manifests a process keeps loaded at least (by digest, shared by generations, the
current generation's included); with a store, as many as it retains, up to
MAX_LOADED_MANIFESTS_CAP, so URLs cycling over every retained generation load each past manifest
once, not once per request. Only manifests some URL asked for are loaded (a 2,000-module one
holds ~4.4 MB; loading one costs 30-80 ms of CPU)."""
MAX_LOADED_MANIFESTS_CAP = 64
"""The most manifests a process keeps loaded, however many its store retains."""
MAX_FALLBACK_GENERATIONS = 3
"""Past generations from the store an untagged (Mendel v1/v2) hash is tried against."""
RETRY_MIN = 1.0
RETRY_MAX = 30.0
"""Seconds before a refused reload of unchanged files is tried again (doubling between these)."""


class _StoreIndex:
    """The store's manifests by the v3 tags a URL may carry (built from the records the deploy
    step wrote, when the store changed; never per request)."""

    def __init__(self, manifests: Iterable[StoredManifest] = ()):
        self.by_tag: dict[tuple[str, bytes], list[StoredManifest]] = {}
        self.by_generation_tag: dict[tuple[str, bytes], list[StoredManifest]] = {}
        self.by_bundle: dict[str, list[StoredManifest]] = {}
        for stored in manifests:  # newest generation first
            self.by_tag.setdefault((stored.bundle, manifest_tag(stored.digest)), []).append(stored)
            self.by_generation_tag.setdefault((stored.bundle, generation_tag(stored.generation)), []).append(stored)
            self.by_bundle.setdefault(stored.bundle, []).append(stored)

    def newest(self, bundle: str, count: int) -> list[StoredManifest]:
        """The newest `count` distinct manifests of `bundle`."""
        found: dict[bytes, StoredManifest] = {}
        for stored in self.by_bundle.get(bundle, ()):
            found.setdefault(stored.digest, stored)
            if len(found) >= count:
                break
        return list(found.values())


class _ManifestPool:
    """Compiled manifests (and their walkers) by content digest, shared by the generations of one
    MendelTrees: a deploy that leaves a bundle's manifest unchanged loads nothing for it, and a
    URL of a past generation needs only its bundle's manifest, not the whole generation. Holds at
    most `limit` manifests beyond those the loaded generations hold (least recently used go);
    `limit` follows the store (every retained manifest fits, see `MendelTrees._store_manifests`),
    because URLs rotating over more manifests than are kept would load one per request."""

    def __init__(self, cache: Cache[Any], limit: int):
        self._cache = cache
        self.limit = limit
        self._loaded: OrderedDict[tuple[bytes, str, str], Walker] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, bundle: str, path: str, display: str, base_dir: str, expected: bytes | None = None
    ) -> tuple[bytes, Walker]:
        """(digest, walker) of the manifest at `path`; with `expected`, its bytes must have that
        digest (a stored manifest is checked against the record the deploy step wrote)."""
        try:
            digest = file_digest(path)
        except OSError:
            load_manifest(path, bundle, display=display)  # raises the error that says what to do
            raise
        if expected is not None and digest != expected:
            raise ManifestError(
                "content does not match the digest the deploy step recorded (changed or corrupted"
                " after publishing)",
                display,
            )
        key = (digest, bundle, base_dir)
        with self._lock:
            found = self._loaded.get(key)
            if found is None:
                manifest = load_manifest(path, bundle, display=display)
                found = Walker(manifest, base_dir, self._cache, scope=digest)
                self._loaded[key] = found
                while len(self._loaded) > self.limit:
                    self._loaded.popitem(last=False)
            else:
                self._loaded.move_to_end(key)
            return digest, found

    def loaded(self, bundle: str, tag: bytes) -> list[Walker]:
        """The loaded walkers of `bundle` whose manifest tag is `tag`."""
        with self._lock:
            return [w for (d, b, _), w in self._loaded.items() if b == bundle and manifest_tag(d) == tag]


class _Generation:
    """Everything one set of manifests defines; `MendelTrees` swaps it as one reference."""

    def __init__(
        self,
        config: MendelConfig,
        make_format: Callable[[bytes | None], hashcodec.HashFormat],
        pool: _ManifestPool,
        generation_id: str | None,
        tagged: bool,
        expected: Mapping[str, bytes] | None = None,
    ):
        self.id = generation_id
        self.tagged = tagged
        self.source = "disk"
        """Where it was loaded from: "store" (what CURRENT named, verified) or "disk"."""
        self.tag = generation_tag(generation_id) if generation_id else None
        """The generation-wide tag of v3 hashes minted before per-bundle tags (they keep decoding
        while this generation is loaded or stored)."""
        self.config = config
        loaded = {
            bundle_id: pool.get(
                bundle_id, bundle.manifest_path, bundle.manifest, config.base_dir,
                expected.get(bundle_id) if expected else None,
            )
            for bundle_id, bundle in config.bundles.items()
        }
        self.walkers = {bundle_id: walker for bundle_id, (_, walker) in loaded.items()}
        self.manifests = {bundle_id: walker.manifest for bundle_id, walker in self.walkers.items()}
        self.tags = {bundle_id: manifest_tag(digest) for bundle_id, (digest, _) in loaded.items()}
        """Each bundle's v3 tag: the start of its own manifest's digest (SPEC §4)."""
        self.formats = {bundle_id: make_format(tag if tagged else None) for bundle_id, tag in self.tags.items()}
        """The format each bundle's new hashes are written in (tagged per bundle with a store)."""
        known_folders = set().union(*(m.folders for m in self.manifests.values()))
        # a variation without a folder, or an experiment arm that changes no bundle, is a
        # VariationProblems here (SPEC §1): it would serve base while exposures name the arm
        self.variations: tuple[Variation, ...] = config.check_variations(known_folders, bundle_folders=known_folders)
        self.variation_ids = frozenset(v.id for v in self.variations)
        self.bundles: tuple[str, ...] = tuple(self.manifests)
        self.hash_format = next(iter(self.formats.values()), None) or make_format(None)
        # keys are sets of configured ids only and values are bounded by the config, so
        # CHAINS_MEMO_SIZE entries are a byte bound too; it is the first lookup of every page,
        # and functools' C memo costs a tenth of a Cache.get.
        self.chains_for = lru_cache(maxsize=CHAINS_MEMO_SIZE)(self._variations_and_chains)

    def has_tag(self, bundle: str, tag: bytes) -> bool:
        """A tagged hash of `bundle` may come from this generation (its tag, or the old
        generation-wide one)."""
        return bundle in self.walkers and (self.tags.get(bundle) == tag or self.tag == tag)

    def _variations_and_chains(self, names: frozenset[str]) -> tuple[tuple[str, ...], Chains]:
        base = self.config.base_dir
        chosen = [v for v in self.variations if v.id in names]
        matching = tuple(v.id for v in chosen) + (self.config.base_id,)
        chains = tuple(tuple(f for f in v.chain if f != base) for v in chosen) + ((base,),)
        return matching, chains


class GenerationLifecycle:
    """Following deploys: the generation served (`_state`, swapped as one reference), the ones
    kept for URLs they minted, the store, and the reload rules. `MendelTrees` is one."""

    cache: Cache[Any]
    hash_key: bytes | str | None

    def _follow_deploys(
        self,
        basedir: str,
        config: MendelConfig | Mapping[str, Any] | None,
        env: str | None,
        hash_format: str | None,
        generations: str | None,
        follow_current: bool,
    ) -> None:
        """Load the generation to serve at start-up (the deploy half of `MendelTrees.__init__`)."""
        self._format_name = hash_format
        self._source = (basedir, config, env)
        self._store_setting = generations
        self._follow_current = follow_current
        self._load_lock = threading.Lock()
        self._retained: OrderedDict[str, _Generation] = OrderedDict()
        self._pool = _ManifestPool(self.cache, MAX_LOADED_MANIFESTS)
        self._store_index: tuple[int | None, _StoreIndex] = (None, _StoreIndex())
        self._refused_stored: set[str] = set()  # stored generations refused (logged once each)
        self._unpublished_said = False
        self._retry_at: float | None = None  # when a failed reload is tried again
        self._retry_delay = 0.0
        project = _config(basedir, config, env)
        self.store = GenerationStore.for_config(project, generations)
        self._state = self._load(project, current=None)
        self._watch_paths = self._paths_to_watch(project)
        self._watched = self._disk_signature()
        self._refusal: str | None = None  # the refusal logged last (the same one is not logged again)
        self.reload_failures = 0
        """Reloads tried and refused since start-up (every attempt, logged or not): for metrics."""
        log.info("mendel: serving generation %s (pid %d)", self._state.id, os.getpid())
        _LIVE.add(self)

    def reload(self) -> str | None:
        """Load the generation to serve now and swap it in; returns its id.

        Without a generation store the project's `.mendelrc` and manifests are re-read. With one,
        the store's `CURRENT` alone decides what is served: a server never publishes, and what is
        on its own disk doesn't matter (only the deploy step, `mendel build` or `mendel reload`,
        writes the store; `mendel generations activate` rolls every server back, restarts
        included). A generation is checked against its id before it is served. A store with no
        `CURRENT` yet serves the manifests on disk, unpublished (and says so in the log).
        Loading happens in the caller's thread, off the request path; the swap is one reference
        assignment, so requests in flight finish on the generation they started with. A bad
        generation raises (a MendelError naming file, module and field) and the old one keeps
        serving.
        """
        with self._load_lock:
            basedir, config, env = self._source
            project = _config(basedir, config, env)
            if self.store is None:
                self.store = GenerationStore.for_config(project, self._store_setting)
            previous = self._state
            state = self._load(project, current=previous)
            self._watch_paths = self._paths_to_watch(project)
            if state is not previous:
                self._state = state
                self._keep_loaded(previous)
                log.info("mendel: now serving generation %s (was %s)", state.id, previous.id)
            return state.id

    def serve_disk_only(self) -> str | None:
        """Stop using a generation store: serve (and reload) the project's manifests on disk, as
        with MENDEL_GENERATIONS=off. `mendel dev` calls it: a development loop never reads or
        writes a production store. Returns the generation now served."""
        with self._load_lock:
            self._store_setting = "off"
            self.store = None
            self._store_index = (None, _StoreIndex())
        return self.reload()

    def reload_if_changed(self) -> str | None:
        """`reload()` when the project's files or the store's CURRENT changed since the last
        look (a few stat calls); returns the new generation id, or None when nothing changed.
        A refusal is logged once: the current generation keeps serving, and the same refusal
        again is not repeated. A failed reload never blocks later ones: the next change is
        tried at once, and the same files are tried again after a back-off (RETRY_MIN..
        RETRY_MAX seconds, doubling), so a passing fault (a store mount away, a file read
        mid-copy) leaves no worker behind."""
        signature = self._disk_signature()
        if signature == self._watched and (self._retry_at is None or time.monotonic() < self._retry_at):
            return None
        self._watched = signature
        before = self._state.id
        try:
            after = self.reload()
        except (MendelError, OSError) as exc:
            self.reload_failures += 1
            refusal = str(exc)
            if refusal != self._refusal:
                log.error("mendel: new generation refused, still serving %s: %s", before, refusal)
            self._refusal = refusal
            self._retry_delay = min(max(2 * self._retry_delay, RETRY_MIN), RETRY_MAX)
            self._retry_at = time.monotonic() + self._retry_delay
            return None
        self._refusal = None
        self._retry_at = None
        self._retry_delay = 0.0
        return after if after != before else None

    def _load(self, project: MendelConfig, current: _Generation | None) -> _Generation:
        """The generation to serve for this project: `current` (None at start-up) when it is
        still the one. With a store: the one its CURRENT names (verified), never published here."""
        store = self.store if self.store is not None and self._store_in_use(project) else None
        chosen = store.current_id() if store is not None and self._follow_current else None
        if chosen is None:
            if store is not None and self._follow_current and not self._unpublished_said:
                log.warning(
                    "mendel: the generation store %s has no CURRENT yet: serving the manifests on"
                    " disk, unpublished (`mendel build` or `mendel reload` publishes them)",
                    store.path,
                )
                self._unpublished_said = True
            generation = project_generation_id(project)
            if current is not None and current.id == generation:
                return current
            # with a store, hashes carry their manifest's tag all the same: the very URLs servers
            # mint once these manifests are published
            return self._new_generation(project, generation, tagged=store is not None)
        if current is not None and current.id == chosen:
            return current
        found = self._retained.pop(chosen, None)
        if found is not None:
            return found
        assert store is not None
        return self._stored_generation(store, chosen, project)

    def _stored_generation(self, store: GenerationStore, generation: str, project: MendelConfig) -> _Generation:
        """A stored generation, checked against its id (and each manifest against the digest its
        record holds) before anything of it is used."""
        info = store.verify(generation)
        expected = {bundle: bytes.fromhex(digest) for bundle, digest in (info.digests or {}).items()}
        state = self._new_generation(store.config(generation, project), generation, tagged=True, expected=expected)
        state.source = "store"
        return state

    def _store_in_use(self, project: MendelConfig) -> bool:
        """A store is used once it exists, or when it is asked for explicitly."""
        assert self.store is not None
        explicit = bool(self._store_setting or os.environ.get(STORE_VARIABLE)) or project.generations.dir is not None
        return explicit or self.store.exists()

    def _new_generation(
        self, config: MendelConfig, generation: str | None, tagged: bool, expected: Mapping[str, bytes] | None = None
    ) -> _Generation:
        def make_format(tag: bytes | None) -> hashcodec.HashFormat:
            return _hash_format(self._format_name, self.hash_key, config, tag)

        make_format(None)  # a bad format setting is refused even for a project without bundles
        return _Generation(config, make_format, self._pool, generation, tagged, expected)

    def _keep_loaded(self, state: _Generation) -> None:
        """Keep a generation loaded for URLs it minted; the least recently used beyond
        MAX_LOADED_GENERATIONS are dropped (a store can load them again on demand)."""
        self._retained[state.id or ""] = state
        self._retained.move_to_end(state.id or "")
        while len(self._retained) > MAX_LOADED_GENERATIONS:
            self._retained.popitem(last=False)

    def _store_manifests(self) -> _StoreIndex:
        """The store's manifests by tag. Re-read only when the store folder changed (one stat),
        so a flood of made-up tags reads no generation records."""
        assert self.store is not None
        try:
            stamp: int | None = os.stat(self.store.path).st_mtime_ns
        except OSError:
            stamp = None
        seen, index = self._store_index
        if stamp != seen or stamp is None:
            index = _StoreIndex(self.store.manifests())
            self._store_index = (stamp, index)
            # room for every retained manifest (and the current ones): retention, which the
            # operator sets, bounds the memory; a visitor can only ask for what is retained
            stored = {(m.bundle, m.digest) for ms in index.by_bundle.values() for m in ms}
            wanted = len(stored) + len(self._state.bundles)
            self._pool.limit = min(MAX_LOADED_MANIFESTS_CAP, max(MAX_LOADED_MANIFESTS, wanted))
            self._refused_stored = set()  # a generation published again gets another look
        return index

    def _walkers_for_tag(self, bundle: str, tag: bytes) -> Iterator[Walker]:
        """Walkers of `bundle` a hash with this v3 tag may come from, cheapest first: loaded
        generations, loaded manifests, then stored copies of the manifest (any generation holding
        it will do), then the manifest of a stored generation with that old-style tag."""
        tried: set[int] = set()
        for state in (self._state, *reversed(list(self._retained.values()))):
            if state.has_tag(bundle, tag) and id(state.walkers[bundle]) not in tried:
                tried.add(id(state.walkers[bundle]))
                yield state.walkers[bundle]
        for walker in self._pool.loaded(bundle, tag):
            if id(walker) not in tried:
                tried.add(id(walker))
                yield walker
        if self.store is None:
            return
        index = self._store_manifests()
        for stored in (*index.by_tag.get((bundle, tag), ()), *index.by_generation_tag.get((bundle, tag), ())):
            candidate = self._stored_walker(stored)
            if candidate is not None and id(candidate) not in tried:
                tried.add(id(candidate))
                yield candidate

    def _stored_walker(self, stored: StoredManifest) -> Walker | None:
        """The walker of a stored manifest, its generation verified first; None (logged once per
        generation) when it is missing, corrupt or invalid: its URLs are then a 404, or served from
        another generation holding the same manifest."""
        if stored.generation in self._refused_stored:
            return None
        assert self.store is not None
        try:
            self.store.verify(stored.generation)
            _, walker = self._pool.get(
                stored.bundle, stored.path, stored.path, self._state.config.base_dir, stored.digest
            )
        except (MendelError, OSError) as exc:
            self._refused_stored.add(stored.generation)
            log.error("mendel: stored generation %s refused for URLs it minted: %s", stored.generation, exc)
            return None
        return walker

    def _fallback_walkers(self, bundle: str) -> Iterator[Walker]:
        """Walkers an untagged hash (Mendel v1/v2, or v3 minted without a store) may come from,
        newest first: the loaded generations', then up to MAX_FALLBACK_GENERATIONS stored
        manifests of the bundle."""
        tried = {id(self._state.walkers.get(bundle))}
        for state in reversed(list(self._retained.values())):  # a snapshot: reload() may change it
            walker = state.walkers.get(bundle)
            if walker is not None and id(walker) not in tried:
                tried.add(id(walker))
                yield walker
        if self.store is None:
            return
        for stored in self._store_manifests().newest(bundle, MAX_FALLBACK_GENERATIONS + 1):
            walker = self._stored_walker(stored)
            if walker is not None and id(walker) not in tried:
                tried.add(id(walker))
                yield walker

    def _paths_to_watch(self, project: MendelConfig) -> tuple[str, ...]:
        """The project's .mendelrc and manifests, and the store's CURRENT (a changed .mendelrc
        reloads, and that re-reads which manifests there are)."""
        paths = [project.path] if project.path else []
        paths += [b.manifest_path for b in project.bundles.values()]
        if self.store is not None:
            paths.append(os.path.join(self.store.path, CURRENT_FILE))
        return tuple(paths)

    def _disk_signature(self) -> tuple[Any, ...]:
        """(mtime, size, inode) of every watched path."""
        return tuple(_stat(path) for path in self._watch_paths)


def _stat(path: str) -> tuple[float, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime, found.st_size, found.st_ino)


_LIVE: weakref.WeakSet[GenerationLifecycle] = weakref.WeakSet()


def reload_all_if_changed() -> None:
    """`reload_if_changed()` on every MendelTrees of this process: call it from gunicorn's
    `post_fork` hook, so workers forked from a preloaded master start on the current generation."""
    for trees in list(_LIVE):
        trees.reload_if_changed()


HASH_FORMAT_VARIABLE = "MENDEL_HASH_FORMAT"


def _hash_format(
    name: str | None, key: bytes | str | None, config: MendelConfig, generation: bytes | None = None
) -> hashcodec.HashFormat:
    """The format new hashes are written in: the argument, else MENDEL_HASH_FORMAT in the
    environment, else the config's `hash-format`, else v3. The key only keys v3 (decoding uses
    it either way)."""
    from_env = os.environ.get(HASH_FORMAT_VARIABLE)
    chosen = name or from_env or config.hash_format or hashcodec.DEFAULT_FORMAT
    try:
        if chosen != "v3":
            return hashcodec.get_format(chosen)
        return hashcodec.get_format(chosen, key, generation)
    except ValueError as exc:
        if name:
            where: tuple[str | None, str] = (None, "hash_format")
        elif from_env:
            where = (None, HASH_FORMAT_VARIABLE)
        else:
            where = (config.path, "hash-format")
        raise ConfigError(str(exc), *where) from None


def _config(basedir: str, config: MendelConfig | Mapping[str, Any] | None, env: str | None) -> MendelConfig:
    if config is None:
        return load_config(basedir, env=env)
    if isinstance(config, MendelConfig):
        return config
    return config_from_dict(dict(config), root=os.path.abspath(basedir), env=env)
