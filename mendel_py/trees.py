"""MendelTrees: the long-lived per-process core (mendel-core's API, in snake_case).

Manifests are loaded and compiled once; walks are memoized in bounded, thread-safe LRU caches keyed
by `(bundle, lookup chains)` and `(bundle, hash)`, so a repeated request costs a dict lookup.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any

from . import hashcodec
from .config import MendelConfig, Variation, config_from_dict, load_config
from .errors import BundleNotFound, ConfigError, HashError
from .manifest import Manifest, Module, load_manifest
from .walk import Walk, Walker

Chains = tuple[tuple[str, ...], ...]


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
        cache_size: int = 4096,
    ):
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
        self.bundles: tuple[str, ...] = tuple(self._manifests)
        self._walkers = {
            bundle_id: Walker(manifest, self.config.base_dir, plan_cache_size=cache_size)
            for bundle_id, manifest in self._manifests.items()
        }
        self._chains_for = lru_cache(maxsize=cache_size)(self._variations_and_chains)
        self._tree_for_chains = lru_cache(maxsize=cache_size)(self._resolve_chains)
        self._tree_for_hash = lru_cache(maxsize=cache_size)(self._resolve_hash)

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
        return self._tree_for_chains(bundle, tuple(tuple(chain) for chain in chains))

    def find_tree_for_hash(self, bundle: str, hash: str) -> Tree:
        """The tree a hash stands for; raises HashError (BADHASH, TRVRSL or HASHMISS)."""
        self.manifest(bundle)
        if not isinstance(hash, str):
            raise HashError("BADHASH", "a hash is a string")
        return self._tree_for_hash(bundle, hash)

    def server_variation_map(self, bundle: str, chains: Sequence[Sequence[str]]) -> dict[str, str]:
        """{module id: variation folder} of the tree for these chains (for server-side files)."""
        return dict(self.find_tree_for_variations(bundle, chains).variation_map)

    def clear_caches(self) -> None:
        """Forget memoized walks (used by benchmarks to measure cold paths)."""
        for cache in (self._chains_for, self._tree_for_chains, self._tree_for_hash):
            cache.cache_clear()
        for walker in self._walkers.values():
            walker.clear_plans()

    def _variations_and_chains(self, names: frozenset[str]) -> tuple[tuple[str, ...], Chains]:
        base = self.config.base_dir
        chosen = [v for v in self.variations if v.id in names]
        matching = tuple(v.id for v in chosen) + (self.config.base_id,)
        chains = tuple(tuple(f for f in v.chain if f != base) for v in chosen) + ((base,),)
        return matching, chains

    def _resolve_chains(self, bundle: str, chains: Chains) -> Tree:
        walk = self._walkers[bundle].walk_chains(chains, self.hash_format)
        return Tree(bundle, walk, self._manifests[bundle])

    def _resolve_hash(self, bundle: str, text: str) -> Tree:
        decoded = hashcodec.decode(text)
        fmt = hashcodec.format_for(decoded, self.hash_key)
        walk = self._walkers[bundle].walk_hash(text, decoded, fmt)
        return Tree(bundle, walk, self._manifests[bundle])


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
