"""The public path of `mendel_py.experiments.assign` (its names, re-exported; see that module)."""
from __future__ import annotations

from .experiments.assign import (
    bucket_ranges,
    choose_variation,
    equal_weights,
    fnv1a32,
    hash,
    in_namespace,
)

__all__ = [
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "fnv1a32",
    "hash",
    "in_namespace",
]
