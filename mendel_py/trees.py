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
import warnings
import weakref
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from . import hashcodec
from .cache import Cache
from .config import MendelConfig, Variation, config_from_dict, load_config
from .errors import BundleNotFound, ConfigError, HashError, MendelError
from .generations import (
    CURRENT_FILE,
    STORE_VARIABLE,
    GenerationStore,
    generation_config,
    generation_id,
    generation_tag,
    project_files,
    project_generation_id,
)
from .manifest import Manifest, Module, load_manifest
from . import walk
from .walk import Walk, Walker, gatherer

log = logging.getLogger(__name__)

Chains = tuple[tuple[str, ...], ...]
T = TypeVar("T")

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
"""Budget of one MendelTrees' memoized walks (chains, trees, plans): see README, "Memory"."""
_POINTER_BYTES = 8
_TUPLE_BYTES = 56
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
            + _POINTER_BYTES * (len(walk.branches) + len(walk.conflicts))
            + 2 * (_TUPLE_BYTES + _POINTER_BYTES * files)
            + _MAP_ENTRY_BYTES * files
        )
        return own + walk.plan.approx_bytes()


class _Generation:
    """Everything one set of manifests defines; `MendelTrees` swaps it as one reference."""

    def __init__(
        self,
        config: MendelConfig,
        hash_format: hashcodec.HashFormat,
        cache: Cache[Any],
        generation_id: str | None,
        tagged: bool,
    ):
        self.id = generation_id
        self.tagged = tagged
        self.tag = generation_tag(generation_id) if generation_id else None
        """The 4 bytes of the id a v3 hash carries (set whether or not this generation's own
        hashes carry it, so a tagged URL finds it either way)."""
        self.config = config
        self.manifests = {
            bundle_id: load_manifest(bundle.manifest_path, bundle_id, display=bundle.manifest)
            for bundle_id, bundle in config.bundles.items()
        }
        known_folders = set().union(*(m.folders for m in self.manifests.values()))
        # a variation without a folder, or an experiment arm that changes no bundle, is a
        # VariationProblems here (SPEC §1): it would serve base while exposures name the arm
        self.variations: tuple[Variation, ...] = config.check_variations(known_folders, bundle_folders=known_folders)
        self.variation_ids = frozenset(v.id for v in self.variations)
        self.bundles: tuple[str, ...] = tuple(self.manifests)
        self.hash_format = hash_format
        # keys are sets of configured ids only and values are bounded by the config, so
        # CHAINS_MEMO_SIZE entries are a byte bound too; it is the first lookup of every page,
        # and functools' C memo costs a tenth of a Cache.get.
        self.chains_for = lru_cache(maxsize=CHAINS_MEMO_SIZE)(self._variations_and_chains)
        self.walkers = {
            bundle_id: Walker(manifest, config.base_dir, cache, scope=generation_id)
            for bundle_id, manifest in self.manifests.items()
        }

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
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        cache_size: int | None = None,
        generations: str | None = None,
    ):
        """`cache_bytes` bounds the memoized walks; `cache_size` (an entry count) is deprecated
        and ignored. `generations`: the generation store folder (relative to the project root),
        or "off"; default the MENDEL_GENERATIONS variable, else the config's `generations.dir`,
        else `manifests/generations` once it exists."""
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
        self.cache: Cache[Any] = Cache(cache_bytes)
        self._load_lock = threading.Lock()
        self._retained: OrderedDict[str, _Generation] = OrderedDict()
        self._disk_id: str | None = None
        self._store_index: tuple[int | None, dict[bytes, str]] = (None, {})
        project = _config(basedir, config, env)
        self.store = GenerationStore.for_config(project, generations)
        self._state = self._load(project, current=None)
        self._watch_paths = self._paths_to_watch(project)
        self._watched = self._disk_signature()
        self._refusal: str | None = None  # the refusal logged last (the same one is not logged again)
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
        """The format new hashes are written in (v3 hashes carry the generation tag when a
        generation store is in use)."""
        return self._state.hash_format

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

        The project's `.mendelrc` and manifests are re-read; with a generation store, manifests
        that changed on disk are published to it (validated first) and become current, and the
        store's `CURRENT` decides what is served (so `mendel generations activate` rolls back).
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

    def reload_if_changed(self) -> str | None:
        """`reload()` when the project's files or the store's CURRENT changed since the last
        look (a few stat calls); returns the new generation id, or None when nothing changed.
        A refusal is logged once: the current generation keeps serving, and the same refusal
        again (the store's CURRENT moved while a manifest on disk is still broken) is not
        repeated."""
        signature = self._disk_signature()
        if signature == self._watched:
            return None
        self._watched = signature
        before = self._state.id
        try:
            after = self.reload()
        except (MendelError, OSError) as exc:
            refusal = str(exc)
            if refusal != self._refusal:
                log.error("mendel: new generation refused, still serving %s: %s", before, refusal)
            self._refusal = refusal
            return None
        self._refusal = None
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
            "bundles": list(self.bundles),
            "cache": {"bytes": self.cache.total_bytes, "entries": len(self.cache), "hit_rate": stats.hit_rate},
            "walk_in_c": walk.ACCELERATED,  # False: the optional C extension isn't built here
        }

    def _load(self, project: MendelConfig, current: _Generation | None) -> _Generation:
        """The generation to serve for this project: `current` (None at start-up) when it is
        still the one."""
        store = self.store if self.store is not None and self._store_in_use(project) else None
        if store is None:
            generation = project_generation_id(project)
            if current is not None and current.id == generation:
                return current
            return self._new_generation(project, generation, tagged=False)
        chosen = self._publish_project(store, project, startup=current is None)
        if current is not None and current.id == chosen:
            return current
        found = self._retained.pop(chosen, None)
        if found is not None:
            return found
        return self._new_generation(store.config(chosen, project), chosen, tagged=True)

    def _store_in_use(self, project: MendelConfig) -> bool:
        """A store is used once it exists, or when it is asked for explicitly."""
        assert self.store is not None
        explicit = bool(self._store_setting or os.environ.get(STORE_VARIABLE)) or project.generations.dir is not None
        return explicit or self.store.exists()

    def _publish_project(self, store: GenerationStore, project: MendelConfig, startup: bool) -> str:
        """Publish the project's manifests when they are new (or changed on disk since the last
        look); returns the store's current generation."""
        try:
            generation = project_generation_id(project)
            files = None if store.has(generation) else project_files(project)  # read only to publish
        except ConfigError:
            if store.current_id() is None:
                raise
            return store.current_id()  # a host that ships only the store
        added = False
        if files is not None:
            generation = generation_id(files)  # of the bytes published

            def validate(folder: str) -> None:
                self._new_generation(generation_config(folder, project), generation, tagged=True)

            _, added = store.publish(files, validate=validate)
        changed = generation != self._disk_id
        self._disk_id = generation
        current = store.current_id()
        if added or current is None or (changed and not startup):
            store.set_current(generation)
            current = generation
        return current

    def _new_generation(self, config: MendelConfig, generation: str | None, tagged: bool) -> _Generation:
        tag = generation_tag(generation) if tagged and generation else None  # tag what it mints
        fmt = _hash_format(self._format_name, self.hash_key, config, tag)
        return _Generation(config, fmt, self.cache, generation, tagged)

    def _keep_loaded(self, state: _Generation) -> None:
        """Keep a generation loaded for URLs it minted; the least recently used beyond
        MAX_LOADED_GENERATIONS are dropped (a store can load them again on demand)."""
        self._retained[state.id or ""] = state
        self._retained.move_to_end(state.id or "")
        while len(self._retained) > MAX_LOADED_GENERATIONS:
            self._retained.popitem(last=False)

    def _stored_generations(self) -> dict[bytes, str]:
        """{tag: generation id} of the store, newest first. Re-read only when the store folder
        changed (one stat), so a flood of made-up tags reads no generation records."""
        assert self.store is not None
        try:
            stamp: int | None = os.stat(self.store.path).st_mtime_ns
        except OSError:
            stamp = None
        seen, index = self._store_index
        if stamp != seen or stamp is None:
            index = {}
            for info in self.store.list():
                index.setdefault(info.tag, info.id)
            self._store_index = (stamp, index)
        return index

    def _generation_for_tag(self, tag: bytes) -> _Generation | None:
        """The loaded or stored generation a v3 tag names (loading it if need be)."""
        state = self._state
        if state.tag == tag:
            return state
        for retained in list(self._retained.values()):
            if retained.tag == tag:
                return retained
        if self.store is None or tag not in self._stored_generations():
            return None
        with self._load_lock:
            generation = self._stored_generations().get(tag)
            if generation is None:
                return None
            found = self._retained.get(generation)
            if found is None:
                basedir, config, env = self._source
                found = self._new_generation(
                    self.store.config(generation, _config(basedir, config, env)), generation, tagged=True
                )
                self._keep_loaded(found)
                log.info("mendel: loaded generation %s for a URL it minted", generation)
            return found

    def _fallback_generations(self) -> list[_Generation]:
        """Generations an untagged hash (Mendel v1/v2, or v3 minted without a store) may come
        from, newest first: the loaded ones, then up to MAX_FALLBACK_GENERATIONS from the store."""
        loaded = list(reversed(self._retained.values()))
        if self.store is None:
            return loaded
        wanted = list(self._stored_generations())[: MAX_FALLBACK_GENERATIONS + 1]
        have = {s.tag for s in (self._state, *loaded)}
        for tag in wanted:
            if tag not in have:
                found = self._generation_for_tag(tag)
                if found is not None and found not in loaded:
                    loaded.append(found)
        return loaded

    def _resolve_hash(self, bundle: str, hash: str) -> Tree:
        decoded = hashcodec.decode(hash)
        fmt = hashcodec.format_for(decoded, self.hash_key)
        if decoded.generation is not None:
            state = self._generation_for_tag(decoded.generation)
            if state is None:
                raise HashError("HASHMISS", "hash names a generation this server does not have")
            return _resolve_hash_in(state, bundle, hash, decoded, fmt)
        try:
            return _resolve_hash_in(self._state, bundle, hash, decoded, fmt)
        except HashError as first:
            if first.code == "BADHASH":
                raise
            for state in self._fallback_generations():
                try:
                    return _resolve_hash_in(state, bundle, hash, decoded, fmt)
                except (HashError, BundleNotFound):
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
MAX_FALLBACK_GENERATIONS = 3
"""Past generations from the store an untagged (Mendel v1/v2) hash is tried against."""
_LIVE: "weakref.WeakSet[MendelTrees]" = weakref.WeakSet()


def reload_all_if_changed() -> None:
    """`reload_if_changed()` on every MendelTrees of this process: call it from gunicorn's
    `post_fork` hook, so workers forked from a preloaded master start on the current generation."""
    for trees in list(_LIVE):
        trees.reload_if_changed()


def _resolve_chains(state: _Generation, bundle: str, chains: Chains) -> Tree:
    walk = state.walkers[bundle].walk_chains(chains, state.hash_format)
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
        return _TUPLE_BYTES + sum(_POINTER_BYTES + _key_bytes(part) for part in key)
    return _POINTER_BYTES


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
