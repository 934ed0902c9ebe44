"""MendelTrees: the long-lived per-process core (mendel-core's API, in snake_case).

Manifests are loaded and compiled once. Trees by `(bundle, lookup chains)` and by `(bundle, hash)`,
and walk plans by shape, are memoized in one thread-safe cache bounded in bytes (`cache_bytes`,
default 64 MiB), so a repeated request costs a lookup and no flood of distinct cookies or hashes can
grow the process beyond it; lookup chains by variation ids in a small memo keyed by configured ids
only. Keys hold only what the server defines: configured variation ids, and hashes proven valid
(a failed walk keeps nothing).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from ..config import config_from_dict, load_config
from ..config.model import MendelConfig, Variation
from ..errors import BundleNotFound, ConfigError, HashError, ManifestError, MendelError
from . import hashcodec, walk
from .cache import POINTER_BYTES, TUPLE_BYTES, Cache
from .generations import (
    CURRENT_FILE,
    STORE_VARIABLE,
    GenerationStore,
    StoredManifest,
    generation_tag,
    manifest_tag,
    project_generation_id,
)
from .manifest import Manifest, Module, load_manifest
from .manifest_cache import file_digest
from .walk import Walk, Walker, gatherer

log = logging.getLogger(__name__)

Chains = tuple[tuple[str, ...], ...]
T = TypeVar("T")

WALK_CACHE_BYTES = 64 * 1024 * 1024
"""Budget of one MendelTrees' memoized walks (chains, trees, plans): see README, "Memory"."""
DEFAULT_CACHE_BYTES = WALK_CACHE_BYTES
"""The old name of `WALK_CACHE_BYTES` (exported by `mendel_py.trees`; kept as an alias)."""
_TREE_OBJECT_BYTES = 500  # Tree, its __dict__, Walk
_MAP_ENTRY_BYTES = 40  # one entry of the variation map (keys and values are shared strings)
_NAME_BYTES = 64  # a variation id or folder in a memo key (the strings themselves are shared)
CHAINS_MEMO_SIZE = 1024
"""Entries of the lookup-chains memo: at most ~3 KB each with 45 variations configured."""


class Tree:
    """One resolved application tree of a bundle: which file each module resolved to.

    `files` are the resolved manifest entries (mendel-core calls them `deps`, a name that here
    means a file's own dependencies); `modules` the matching `manifest.Module`s.
    """

    def __init__(self, bundle: str, walk: Walk, manifest: Manifest):
        self.bundle = bundle
        self._walk = walk
        self._manifest = manifest

    @property
    def hash(self) -> str:
        return self._walk.hash

    @property
    def manifest(self) -> Manifest:
        """The compiled manifest this tree was resolved from."""
        return self._manifest

    @cached_property
    def selection(self) -> tuple[tuple[int, int], ...]:
        """(module index, entry index) of every walked module, in manifest index order."""
        firsts = list(gatherer(self._walk.plan.index_order)(self._manifest.first_choices))
        return self._in_index_order(firsts, lambda m, j: (m, j))

    @property
    def branches(self) -> tuple[int, ...]:
        """The entry index chosen at each branch point, in walk order."""
        return self._walk.branches

    @cached_property
    def chosen_folders(self) -> frozenset[str]:
        """The folders of the entries chosen at the walked branch points: which variations this
        tree really shows (an exposure is judged by it, `RequestResolver.arm_shows`)."""
        modules = self._manifest.modules
        return frozenset(modules[m].folders[j] for m, j in zip(self._walk.plan.branch_seq, self._walk.branches))

    @property
    def file_count(self) -> int:
        return len(self._walk.plan.order)

    @property
    def conflicts(self) -> int:
        return len(self._walk.conflicts)

    @cached_property
    def conflict_list(self) -> list[str]:
        """Ids of modules that two active variations both override, in walk order."""
        return [self._manifest.modules[m].id for m in self._walk.conflicts]

    @cached_property
    def modules(self) -> tuple[Module, ...]:
        """The walked modules in manifest index order (parallel to `files`)."""
        return gatherer(self._walk.plan.index_order)(self._manifest.modules)

    @cached_property
    def files(self) -> tuple[Mapping[str, Any], ...]:
        """The resolved data entries in manifest index order (the order a JS bundle is packed in):
        each a read-only mapping with "id", "file", "variation", "source", "sha", "blake3" and
        "deps" (that file's own dependencies)."""
        firsts = list(gatherer(self._walk.plan.index_order)(self._manifest.first_entries))
        return self._in_index_order(firsts, lambda m, j: self._manifest.modules[m].entries[j])

    @property
    def deps(self) -> tuple[Mapping[str, Any], ...]:
        """Deprecated: mendel-core's name of `files`."""
        warnings.warn("Tree.deps is deprecated; use Tree.files", DeprecationWarning, stacklevel=2)
        return self.files

    @cached_property
    def variation_map(self) -> Mapping[str, str]:
        """{module id: variation folder} for every walked module, in walk order."""
        entries = ((self._manifest.modules[m].id, self._entry(m)) for m in self._walk.plan.order)
        return {module_id: entry["variation"] for module_id, entry in entries if entry.get("variation")}

    def _in_index_order(self, firsts: list[T], chosen: Callable[[int, int], T]) -> tuple[T, ...]:
        """`firsts` (one item per walked module in index order, for its first entry) with the
        item of the chosen entry put in at every walked branch point that took another one."""
        index_order = self._walk.plan.index_order
        for m, j in self._walk.choices.items():
            if j:
                position = bisect_left(index_order, m)
                if position < len(index_order) and index_order[position] == m:
                    firsts[position] = chosen(m, j)
        return tuple(firsts)

    def _entry(self, m: int) -> Mapping[str, Any]:
        return self._manifest.modules[m].entries[self._walk.choices.get(m, 0)]

    def __repr__(self) -> str:
        return f"<Tree {self.bundle} {self.hash} files={self.file_count} conflicts={self.conflicts}>"

    def approx_bytes(self) -> int:
        """Memory this tree can come to hold, its plan included (plans are shared by trees of one
        shape, so a cache of trees over-counts rather than under-counts): the walk, and the
        `files`, `modules` and `variation_map` it fills in on first use."""
        files = self.file_count
        walk = self._walk
        own = (
            _TREE_OBJECT_BYTES
            + sys.getsizeof(walk.choices)
            + sys.getsizeof(walk.hash)
            + POINTER_BYTES * (len(walk.branches) + len(walk.conflicts))
            + 2 * (TUPLE_BYTES + POINTER_BYTES * files)
            + _MAP_ENTRY_BYTES * files
        )
        return own + walk.plan.approx_bytes()


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


class MendelTrees:
    """Loads a project's manifests once and resolves trees by variations or by hash.

    With a generation store (`mendel_py.generations`) it serves the store's current generation,
    `reload()` swaps in a new one without dropping a request, and a hash minted by any retained
    generation keeps resolving to the tree it named (skew protection).
    """

    def __init__(
        self,
        basedir: str = ".",
        hash_format: str | None = None,
        hash_key: bytes | str | None = None,
        *,
        config: MendelConfig | Mapping[str, Any] | None = None,
        env: str | None = None,
        cache_bytes: int = WALK_CACHE_BYTES,
        cache_size: int | None = None,
        generations: str | None = None,
        follow_current: bool = True,
    ):
        """`cache_bytes` bounds the memoized walks; `cache_size` (an entry count) is deprecated
        and ignored. `generations`: the generation store folder (relative to the project root),
        or "off"; default the MENDEL_GENERATIONS variable, else the config's `generations.dir`,
        else `manifests/generations` once it exists. `follow_current=False` serves the project's
        manifests on disk even when the store has a CURRENT, still decoding URLs of stored
        generations (the `mendel` inspection commands: they look at the project, not the fleet)."""
        if cache_size is not None:
            warnings.warn(
                "MendelTrees(cache_size=) is deprecated and ignored: the walk cache is bounded in"
                " bytes (cache_bytes=)",
                DeprecationWarning,
                stacklevel=2,
            )
        self.hash_key = hash_key
        self._source = (basedir, config, env)
        self._format_name = hash_format
        self._store_setting = generations
        self._follow_current = follow_current
        self.cache: Cache[Any] = Cache(cache_bytes)
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

    # --- the current generation (one reference, read once per call) --------------------------

    @property
    def config(self) -> MendelConfig:
        return self._state.config

    @property
    def variations(self) -> tuple[Variation, ...]:
        return self._state.variations

    @property
    def bundles(self) -> tuple[str, ...]:
        return self._state.bundles

    @property
    def hash_format(self) -> hashcodec.HashFormat:
        """The format new hashes are written in (with a generation store, v3 hashes carry a tag
        per bundle: this is the first bundle's format; see `hash_format_for`)."""
        return self._state.hash_format

    def hash_format_for(self, bundle: str) -> hashcodec.HashFormat:
        """The format new hashes of `bundle` are written in (its own manifest tag with a store)."""
        state = self._state
        if bundle not in state.formats:
            self.manifest(bundle)
        return state.formats[bundle]

    @property
    def generation(self) -> str | None:
        """Id of the generation being served (a content digest of its manifests and config)."""
        return self._state.id

    def manifest(self, bundle: str) -> Manifest:
        """The compiled manifest of `bundle`."""
        try:
            return self._state.manifests[bundle]
        except (KeyError, TypeError):
            raise BundleNotFound(str(bundle), self.bundles) from None

    def variations_and_chains(self, names: Iterable[str]) -> tuple[list[str], list[list[str]]]:
        """Matching variation ids (config order, base last) and their lookup chains without base."""
        if isinstance(names, (str, bytes)):
            raise TypeError("variations_and_chains takes a list of variation ids, not a string")
        state = self._state
        # only configured ids reach the memo key: a flood of made-up names adds nothing to it
        known = state.variation_ids
        matching, chains = state.chains_for(frozenset(n for n in names if n in known))
        return list(matching), [list(chain) for chain in chains]

    def find_tree_for_variations(self, bundle: str, chains: Sequence[Sequence[str]]) -> Tree:
        """The tree a user with these lookup chains gets; raises WalkError for an unresolvable branch."""
        state = self._state
        if bundle not in state.manifests:
            self.manifest(bundle)
        key = tuple(tuple(chain) for chain in chains)
        return self._memo(
            ("tree", state.id, bundle, key), lambda: _resolve_chains(state, bundle, key), Tree.approx_bytes
        )

    def find_tree_for_hash(self, bundle: str, hash: str) -> Tree:
        """The tree a hash stands for, in whichever retained generation minted it; raises
        HashError (BADHASH, TRVRSL or HASHMISS)."""
        self.manifest(bundle)
        if not isinstance(hash, str):
            raise HashError("BADHASH", "a hash is a string")
        # a valid hash names its files exactly, so the memo needs no generation in its key;
        # only a hash that walked and re-encoded exactly is kept (an error keeps nothing)
        return self._memo(("hash", bundle, hash), lambda: self._resolve_hash(bundle, hash), Tree.approx_bytes)

    def server_variation_map(self, bundle: str, chains: Sequence[Sequence[str]]) -> dict[str, str]:
        """{module id: variation folder} of the tree for these chains (for server-side files)."""
        return dict(self.find_tree_for_variations(bundle, chains).variation_map)

    def clear_caches(self) -> None:
        """Forget memoized walks (used by benchmarks to measure cold paths)."""
        self.cache.clear()
        for state in (self._state, *self._retained.values()):
            state.chains_for.cache_clear()

    # --- generations ---------------------------------------------------------------------------

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

    def status(self) -> dict[str, Any]:
        """What this process serves: generation, loaded generations, store, cache use."""
        stats = self.cache.stats()
        return {
            "pid": os.getpid(),
            "generation": self._state.id,
            "tagged": self._state.tagged,
            "loaded": [self._state.id, *self._retained],
            "store": self.store.path if self.store is not None else None,
            "serving_from": self._state.source,
            "bundles": list(self.bundles),
            "cache": {"bytes": self.cache.total_bytes, "entries": len(self.cache), "hit_rate": stats.hit_rate},
            "walk_in_c": walk.ACCELERATED,  # False: the optional C extension isn't built here
        }

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
            wanted = len({(m.bundle, m.digest) for ms in index.by_bundle.values() for m in ms}) + len(self.bundles)
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
            walker = self._stored_walker(stored)
            if walker is not None and id(walker) not in tried:
                tried.add(id(walker))
                yield walker

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

    def _resolve_hash(self, bundle: str, hash: str) -> Tree:
        decoded = hashcodec.decode(hash)
        fmt = hashcodec.format_for(decoded, self.hash_key)
        tag = decoded.manifest_tag
        if tag is not None:
            for walker in self._walkers_for_tag(bundle, tag):
                try:
                    return Tree(bundle, walker.walk_hash(hash, decoded, fmt), walker.manifest)
                except HashError:
                    continue
            raise HashError("HASHMISS", "hash names a manifest this server does not have")
        try:
            return _resolve_hash_in(self._state, bundle, hash, decoded, fmt)
        except HashError as first:
            if first.code == "BADHASH":
                raise
            for walker in self._fallback_walkers(bundle):
                try:
                    return Tree(bundle, walker.walk_hash(hash, decoded, fmt), walker.manifest)
                except HashError:
                    continue
            raise

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

    def _memo(self, key: Hashable, make: Callable[[], T], size_of: Callable[[T], int]) -> T:
        """The cached value for `key`, made (and kept, if it fits) on a miss; errors keep nothing."""
        found = self.cache.get(key)
        if found is None:
            found = make()
            self.cache.put(key, found, size_of(found) + _key_bytes(key))
        return found


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
_LIVE: "weakref.WeakSet[MendelTrees]" = weakref.WeakSet()


def reload_all_if_changed() -> None:
    """`reload_if_changed()` on every MendelTrees of this process: call it from gunicorn's
    `post_fork` hook, so workers forked from a preloaded master start on the current generation."""
    for trees in list(_LIVE):
        trees.reload_if_changed()


def _resolve_chains(state: _Generation, bundle: str, chains: Chains) -> Tree:
    walk = state.walkers[bundle].walk_chains(chains, state.formats[bundle])
    return Tree(bundle, walk, state.manifests[bundle])


def _resolve_hash_in(
    state: _Generation, bundle: str, hash: str, decoded: hashcodec.DecodedHash, fmt: hashcodec.HashFormat
) -> Tree:
    walker = state.walkers.get(bundle)
    if walker is None:
        raise BundleNotFound(bundle, state.bundles)
    walk = walker.walk_hash(hash, decoded, fmt)
    return Tree(bundle, walk, state.manifests[bundle])


def _stat(path: str) -> tuple[float, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime, found.st_size, found.st_ino)


def _key_bytes(key: Hashable) -> int:
    """What a memo key holds: its tuples, names and hash text."""
    if isinstance(key, str):
        return sys.getsizeof(key)
    if isinstance(key, (tuple, frozenset)):
        return TUPLE_BYTES + sum(POINTER_BYTES + _key_bytes(part) for part in key)
    return POINTER_BYTES


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
