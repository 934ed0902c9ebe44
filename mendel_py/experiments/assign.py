"""Deterministic bucketing with GrowthBook's published algorithm.

A team that analyses its experiments in GrowthBook, or moves between GrowthBook and mendel_py,
gets the very same buckets for the same unit, seed and weights. These are the plain building
blocks; `mendel_py.experiments` builds layers, coverage and sticky assignment on top of them.

- `hash(seed, value, version)`: a unit's position in [0, 1). Version 1 is
  ``(fnv1a32(value + seed) % 1000) / 1000``; version 2 hashes twice to spread similar inputs,
  ``(fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000``; any other version is None.
- `bucket_ranges(n, coverage, weights)`: one ``[start, end)`` range per variation. Coverage is
  clamped to [0, 1]; weights of the wrong length, or not summing to 1 (within 0.99..1.01), fall
  back to equal weights. Each range starts where the full weights put it and covers
  ``coverage * weight`` of it, so raising coverage only extends ranges: nobody already in moves.
- `choose_variation(n, ranges)`: the index of the first range holding n, or -1 (not enrolled).
- `in_namespace(unit_id, (namespace_id, start, end))`: hash version 1 with seed
  ``"__" + namespace_id``, in ``[start, end)``.
- `equal_weights(n)`: n weights of 1/n (empty for n < 1).

FNV-1a runs over UTF-16 code units, as GrowthBook's JavaScript SDK (the reference every other SDK
follows) reads strings; for text without characters outside the Basic Multilingual Plane that is
the same as hashing code points.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "bucket_ranges",
    "choose_variation",
    "equal_weights",
    "fnv1a32",
    "hash",
    "in_namespace",
]

FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_UINT32 = 0xFFFFFFFF
_WEIGHT_SUM_TOLERANCE = (0.99, 1.01)

Range = tuple[float, float]
Namespace = tuple[str, float, float]


def fnv1a32(text: str, state: int = FNV_OFFSET) -> int:
    """32-bit FNV-1a of `text`'s UTF-16 code units (as JavaScript's charCodeAt sees them).

    `state` continues a hash: ``fnv1a32(b, fnv1a32(a)) == fnv1a32(a + b)``, so a prefix shared by
    many hashes (a seed, a unit id) is hashed once.
    """
    value = state
    if text.isascii():  # one code unit per byte: the common case, and twice as fast
        for byte in text.encode("ascii"):
            value = ((value ^ byte) * _FNV_PRIME) & _UINT32
        return value
    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        value = ((value ^ (data[i] | data[i + 1] << 8)) * _FNV_PRIME) & _UINT32
    return value


def hash(seed: str, value: str, version: int) -> float | None:  # noqa: A001 - GrowthBook's name
    """The unit `value`'s position in [0, 1) for `seed`; None for an unknown hash version."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def equal_weights(num_variations: int) -> list[float]:
    """`num_variations` equal weights summing to 1; [] when there are no variations."""
    if num_variations < 1:
        return []
    return [1 / num_variations] * num_variations


def bucket_ranges(
    num_variations: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[Range]:
    """One [start, end) range per variation for the given coverage and weights (see module doc)."""
    coverage = min(max(coverage, 0.0), 1.0)
    if weights is None or len(weights) != num_variations or not _sums_to_one(weights):
        weights = equal_weights(num_variations)
    ranges: list[Range] = []
    start = 0.0
    for weight in weights:
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def choose_variation(n: float, ranges: Sequence[Range]) -> int:
    """Index of the first range with start <= n < end; -1 when n falls in none (not enrolled)."""
    for index, (start, end) in enumerate(ranges):
        if start <= n < end:
            return index
    return -1


def in_namespace(unit_id: str, namespace: Namespace) -> bool:
    """Whether `unit_id` falls in the namespace's [start, end) share of its layer."""
    namespace_id, start, end = namespace
    n = hash("__" + namespace_id, unit_id, 1)
    return n is not None and start <= n < end


def _sums_to_one(weights: Sequence[float]) -> bool:
    low, high = _WEIGHT_SUM_TOLERANCE
    return low <= sum(weights) <= high
