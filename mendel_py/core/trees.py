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
import warnings
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

from ..config.model import MendelConfig, Variation
from ..errors import BundleNotFound, HashError
from . import hashcodec, walk
from .cache import POINTER_BYTES, TUPLE_BYTES, Cache
from .lifecycle import (
    CHAINS_MEMO_SIZE,
    HASH_FORMAT_VARIABLE,
    MAX_FALLBACK_GENERATIONS,
    MAX_LOADED_GENERATIONS,
    MAX_LOADED_MANIFESTS,
    MAX_LOADED_MANIFESTS_CAP,
    RETRY_MAX,
    RETRY_MIN,
    Chains,
    GenerationLifecycle,
    _Generation,
    reload_all_if_changed,
)
from .manifest import Manifest, Module
from .walk import Walk, gatherer

__all__ = [
    "CHAINS_MEMO_SIZE",
    "DEFAULT_CACHE_BYTES",
    "HASH_FORMAT_VARIABLE",
    "MAX_FALLBACK_GENERATIONS",
    "MAX_LOADED_GENERATIONS",
    "MAX_LOADED_MANIFESTS",
    "MAX_LOADED_MANIFESTS_CAP",
    "RETRY_MAX",
    "RETRY_MIN",
    "WALK_CACHE_BYTES",
    "Chains",
    "MendelTrees",
    "Tree",
    "reload_all_if_changed",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

WALK_CACHE_BYTES = 64 * 1024 * 1024
"""Budget of one MendelTrees' memoized walks (chains, trees, plans): see README, "Memory"."""
DEFAULT_CACHE_BYTES = WALK_CACHE_BYTES
"""The old name of `WALK_CACHE_BYTES` (exported by `mendel_py.trees`; kept as an alias)."""
_TREE_OBJECT_BYTES = 500  # Tree, its __dict__, Walk
_MAP_ENTRY_BYTES = 40  # one entry of the variation map (keys and values are shared strings)
_NAME_BYTES = 64  # a variation id or folder in a memo key (the strings themselves are shared)


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


class MendelTrees(GenerationLifecycle):
    """Loads a project's manifests once and resolves trees by variations or by hash.

    With a generation store (`mendel_py.core.generations`; following it: `lifecycle`) it serves the
    store's current generation, `reload()` swaps in a new one without dropping a request, and a
    hash minted by any retained generation keeps resolving to the tree it named (skew protection).
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
        self.cache: Cache[Any] = Cache(cache_bytes)
        self._follow_deploys(basedir, config, env, hash_format, generations, follow_current)

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

    # --- status, and resolving a hash of any loaded or stored generation --------------------

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

    def _memo(self, key: Hashable, make: Callable[[], T], size_of: Callable[[T], int]) -> T:
        """The cached value for `key`, made (and kept, if it fits) on a miss; errors keep nothing."""
        found = self.cache.get(key)
        if found is None:
            found = make()
            self.cache.put(key, found, size_of(found) + _key_bytes(key))
        return found


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


def _key_bytes(key: Hashable) -> int:
    """What a memo key holds: its tuples, names and hash text."""
    if isinstance(key, str):
        return sys.getsizeof(key)
    if isinstance(key, (tuple, frozenset)):
        return TUPLE_BYTES + sum(POINTER_BYTES + _key_bytes(part) for part in key)
    return POINTER_BYTES
