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
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from . import hashcodec
from .cache import Cache
from .config import MendelConfig, Variation, config_from_dict, load_config
from .errors import BundleNotFound, ConfigError, HashError
from .manifest import Manifest, Module, load_manifest
from .walk import Walk, Walker

Chains = tuple[tuple[str, ...], ...]
T = TypeVar("T")
log = logging.getLogger(__name__)

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
        choices = self._walk.choices
        return tuple((m, choices.get(m, 0)) for m in self._walk.plan.index_order)

    @property
    def branches(self) -> tuple[int, ...]:
        """The entry index chosen at each branch point, in walk order."""
        return self._walk.branches

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
        return tuple(self._manifest.modules[m] for m in self._walk.plan.index_order)

    @cached_property
    def files(self) -> tuple[Mapping[str, Any], ...]:
        """The resolved data entries in manifest index order (the order a JS bundle is packed in):
        each a read-only mapping with "id", "file", "variation", "source", "sha", "blake3" and
        "deps" (that file's own dependencies)."""
        return tuple(self._entry(m) for m in self._walk.plan.index_order)

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


class MendelTrees:
    """Loads a project's manifests once and resolves trees by variations or by hash."""

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
    ):
        """`cache_bytes` bounds the memoized walks; `cache_size` (an entry count) is deprecated
        and ignored."""
        if cache_size is not None:
            warnings.warn(
                "MendelTrees(cache_size=) is deprecated and ignored: the walk cache is bounded in"
                " bytes (cache_bytes=)",
                DeprecationWarning,
                stacklevel=2,
            )
        self.config = _config(basedir, config, env)
        self.hash_key = hash_key
        self.hash_format = _hash_format(hash_format, hash_key, self.config)
        self._manifests = {
            bundle_id: load_manifest(bundle.manifest_path, bundle_id, display=bundle.manifest)
            for bundle_id, bundle in self.config.bundles.items()
        }
        known_folders = set().union(*(m.folders for m in self._manifests.values()))
        self.variations: tuple[Variation, ...] = self.config.variations(known_folders)
        self._variation_ids = frozenset(v.id for v in self.variations)
        for spec in self.config.variation_specs:
            if spec.id not in self._variation_ids:
                log.warning("variation %r has no folder (%s): requests for it get the base files",
                            spec.id, ", ".join(spec.folders))
        self.bundles: tuple[str, ...] = tuple(self._manifests)
        self.cache: Cache[Any] = Cache(cache_bytes)
        # The one memo outside `cache`: its keys are sets of configured ids only and its values
        # are bounded by the config, so CHAINS_MEMO_SIZE entries are a byte bound too; it is the
        # first lookup of every page, and functools' C memo costs a tenth of a Cache.get.
        self._chains_for = lru_cache(maxsize=CHAINS_MEMO_SIZE)(self._variations_and_chains)
        self._walkers = {
            bundle_id: Walker(manifest, self.config.base_dir, self.cache)
            for bundle_id, manifest in self._manifests.items()
        }

    def manifest(self, bundle: str) -> Manifest:
        """The compiled manifest of `bundle`."""
        try:
            return self._manifests[bundle]
        except (KeyError, TypeError):
            raise BundleNotFound(str(bundle), self.bundles) from None

    def variations_and_chains(self, names: Iterable[str]) -> tuple[list[str], list[list[str]]]:
        """Matching variation ids (config order, base last) and their lookup chains without base."""
        if isinstance(names, (str, bytes)):
            raise TypeError("variations_and_chains takes a list of variation ids, not a string")
        # only configured ids reach the memo key: a flood of made-up names adds nothing to it
        known = self._variation_ids
        matching, chains = self._chains_for(frozenset(n for n in names if n in known))
        return list(matching), [list(chain) for chain in chains]

    def find_tree_for_variations(self, bundle: str, chains: Sequence[Sequence[str]]) -> Tree:
        """The tree a user with these lookup chains gets; raises WalkError for an unresolvable branch."""
        self.manifest(bundle)
        key = tuple(tuple(chain) for chain in chains)
        return self._memo(("tree", bundle, key), lambda: self._resolve_chains(bundle, key), Tree.approx_bytes)

    def find_tree_for_hash(self, bundle: str, hash: str) -> Tree:
        """The tree a hash stands for; raises HashError (BADHASH, TRVRSL or HASHMISS)."""
        self.manifest(bundle)
        if not isinstance(hash, str):
            raise HashError("BADHASH", "a hash is a string")
        # only a hash that walked and re-encoded exactly is kept (an error keeps nothing)
        return self._memo(("hash", bundle, hash), lambda: self._resolve_hash(bundle, hash), Tree.approx_bytes)

    def server_variation_map(self, bundle: str, chains: Sequence[Sequence[str]]) -> dict[str, str]:
        """{module id: variation folder} of the tree for these chains (for server-side files)."""
        return dict(self.find_tree_for_variations(bundle, chains).variation_map)

    def clear_caches(self) -> None:
        """Forget memoized walks (used by benchmarks to measure cold paths)."""
        self.cache.clear()
        self._chains_for.cache_clear()

    def _memo(self, key: Hashable, make: Callable[[], T], size_of: Callable[[T], int]) -> T:
        """The cached value for `key`, made (and kept, if it fits) on a miss; errors keep nothing."""
        found = self.cache.get(key)
        if found is None:
            found = make()
            self.cache.put(key, found, size_of(found) + _key_bytes(key))
        return found

    def _variations_and_chains(self, names: frozenset[str]) -> tuple[tuple[str, ...], Chains]:
        base = self.config.base_dir
        chosen = [v for v in self.variations if v.id in names]
        matching = tuple(v.id for v in chosen) + (self.config.base_id,)
        chains = tuple(tuple(f for f in v.chain if f != base) for v in chosen) + ((base,),)
        return matching, chains

    def _resolve_chains(self, bundle: str, chains: Chains) -> Tree:
        walk = self._walkers[bundle].walk_chains(chains, self.hash_format)
        return Tree(bundle, walk, self._manifests[bundle])

    def _resolve_hash(self, bundle: str, hash: str) -> Tree:
        decoded = hashcodec.decode(hash)
        fmt = hashcodec.format_for(decoded, self.hash_key)
        walk = self._walkers[bundle].walk_hash(hash, decoded, fmt)
        return Tree(bundle, walk, self._manifests[bundle])


def _key_bytes(key: Hashable) -> int:
    """What a memo key holds: its tuples, names and hash text."""
    if isinstance(key, str):
        return sys.getsizeof(key)
    if isinstance(key, (tuple, frozenset)):
        return _TUPLE_BYTES + sum(_POINTER_BYTES + _key_bytes(part) for part in key)
    return _POINTER_BYTES


HASH_FORMAT_VARIABLE = "MENDEL_HASH_FORMAT"


def _hash_format(name: str | None, key: bytes | str | None, config: MendelConfig) -> hashcodec.HashFormat:
    """The format new hashes are written in: the argument, else MENDEL_HASH_FORMAT in the
    environment, else the config's `hash-format`, else v3. The key only keys v3 (decoding uses
    it either way)."""
    from_env = os.environ.get(HASH_FORMAT_VARIABLE)
    chosen = name or from_env or config.hash_format or hashcodec.DEFAULT_FORMAT
    try:
        return hashcodec.get_format(chosen, key if chosen == "v3" else None)
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
