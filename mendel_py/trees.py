"""The public path of `mendel_py.core.trees` (its names, re-exported; see that module)."""
from __future__ import annotations

from .core.trees import (
    CHAINS_MEMO_SIZE,
    DEFAULT_CACHE_BYTES,
    HASH_FORMAT_VARIABLE,
    MAX_FALLBACK_GENERATIONS,
    MAX_LOADED_GENERATIONS,
    MAX_LOADED_MANIFESTS,
    MAX_LOADED_MANIFESTS_CAP,
    RETRY_MAX,
    RETRY_MIN,
    WALK_CACHE_BYTES,
    Chains,
    MendelTrees,
    Tree,
    reload_all_if_changed,
)

__all__ = [
    "CHAINS_MEMO_SIZE",
    "Chains",
    "DEFAULT_CACHE_BYTES",
    "HASH_FORMAT_VARIABLE",
    "MAX_FALLBACK_GENERATIONS",
    "MAX_LOADED_GENERATIONS",
    "MAX_LOADED_MANIFESTS",
    "MAX_LOADED_MANIFESTS_CAP",
    "MendelTrees",
    "RETRY_MAX",
    "RETRY_MIN",
    "Tree",
    "WALK_CACHE_BYTES",
    "reload_all_if_changed",
]
