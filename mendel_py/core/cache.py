"""The one cache of the project: thread-safe, bounded in bytes, scan resistant.

Policy: segmented LRU (a probation and a protected segment) behind TinyLFU admission.

- A new entry goes to *probation*; a hit there promotes it to *protected* (at most 80% of the
  budget; protected's least recently used entry falls back to probation when it overflows).
- When an insert needs room, the victims are taken from probation's LRU end first, then from
  protected's. The newcomer is admitted only if it has been asked for more often than every
  victim it would push out, by a small count-min sketch of recent `get`s (4-bit counters, halved
  every ``10 x width`` accesses so old popularity fades).

Why: behind a CDN the origin sees scans (each edge asks for each URL once) and cyclic working sets
larger than the budget. Plain LRU evicts every entry just before it is asked for again and hits
0% on such a loop; with frequency admission the resident set stays put and the hit rate tends to
budget / working set. S3-FIFO would also resist one-shot scans, but its FIFO main queue degrades
to FIFO order on a loop whose entries are all seen once per cycle. No well-kept library fits:
cachetools has LRU/LFU by count or by a `getsizeof` weight but no scan-resistant admission.

`get` records an access (hit or miss); `put` does not, so the usual `get` -> miss -> build ->
`put` counts one access. Sizes are whatever unit the caller chooses (bytes for the bundle cache);
an entry larger than the whole budget is never stored.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

POINTER_BYTES = 8
"""Sizes the caches' entries are estimated with (CPython, 64-bit): a reference,"""
TUPLE_BYTES = 56
"""and a small tuple's header."""

V = TypeVar("V")

_PROTECTED_SHARE = 0.8
_SKETCH_ROWS = 4
_COUNTER_MAX = 15
_MASK64 = (1 << 64) - 1
_MAX_ROW_BITS = 64 // _SKETCH_ROWS  # four slices of one 64-bit hash: rows of at most 65,536
# Odd 64-bit multiplier (multiply-shift hashing); the rows take disjoint bit slices of it.
_SEED = 0x9E3779B97F4A7C15
_MISSING = object()


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters."""

    hits: int
    misses: int
    evictions: int
    rejections: int
    entries: int
    total_bytes: int
    max_bytes: int

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


class FrequencySketch:
    """Approximate access counts of recently seen keys (count-min, 4-bit counters, aging)."""

    def __init__(self, width: int = 4096):
        # one multiply-shift hash gives the four row slots as four slices of its top bits
        bits = min(_MAX_ROW_BITS, max(4, (max(16, width) - 1).bit_length()))
        self._shifts = tuple(64 - bits * (row + 1) for row in range(_SKETCH_ROWS))
        self._mask = (1 << bits) - 1
        self._rows = [bytearray(1 << bits) for _ in range(_SKETCH_ROWS)]
        self._sample = 10 << bits
        self._added = 0

    def _slots(self, key: Hashable) -> list[int]:
        h = ((hash(key) & _MASK64) * _SEED) & _MASK64
        mask = self._mask
        return [(h >> shift) & mask for shift in self._shifts]

    def add(self, key: Hashable) -> None:
        # unrolled: this runs on every cache get, the hot path of a warm request
        h = ((hash(key) & _MASK64) * _SEED) & _MASK64
        mask = self._mask
        s0, s1, s2, s3 = self._shifts
        r0, r1, r2, r3 = self._rows
        i = (h >> s0) & mask
        if r0[i] < _COUNTER_MAX:
            r0[i] += 1
        i = (h >> s1) & mask
        if r1[i] < _COUNTER_MAX:
            r1[i] += 1
        i = (h >> s2) & mask
        if r2[i] < _COUNTER_MAX:
            r2[i] += 1
        i = (h >> s3) & mask
        if r3[i] < _COUNTER_MAX:
            r3[i] += 1
        self._added += 1
        if self._added >= self._sample:
            self._age()

    def estimate(self, key: Hashable) -> int:
        return min(row[slot] for row, slot in zip(self._rows, self._slots(key)))

    def clear(self) -> None:
        for row in self._rows:
            row[:] = bytes(len(row))
        self._added = 0

    def _age(self) -> None:
        """Halve every counter so that yesterday's favourites can be displaced."""
        halve = bytes.maketrans(bytes(range(256)), bytes(n >> 1 for n in range(256)))
        for row in self._rows:
            row[:] = row.translate(halve)
        self._added //= 2


class Cache(Generic[V]):
    """A byte-bounded map with segmented-LRU eviction and TinyLFU admission (see module doc)."""

    def __init__(self, max_bytes: int, *, sketch_width: int = 4096):
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._protected_max = int(max_bytes * _PROTECTED_SHARE)
        self._probation: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._protected: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._protected_bytes = 0
        self._bytes = 0
        self._sketch = FrequencySketch(sketch_width)
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._rejections = 0

    def __len__(self) -> int:
        return len(self._probation) + len(self._protected)

    def __contains__(self, key: Hashable) -> bool:
        """Membership without counting an access or changing recency."""
        return key in self._protected or key in self._probation

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        """The value for `key` (counted as an access, refreshing its recency), else `default`."""
        with self._lock:
            self._sketch.add(key)
            found = self._protected.get(key, _MISSING)
            if found is not _MISSING:
                self._protected.move_to_end(key)
            else:
                found = self._probation.pop(key, _MISSING)
                if found is _MISSING:
                    self._misses += 1
                    return default
                self._promote_locked(key, found)  # type: ignore[arg-type]
            self._hits += 1
            return found[0]  # type: ignore[index]

    def peek(self, key: Hashable, default: V | None = None) -> V | None:
        """The value for `key` without counting an access or refreshing its recency."""
        with self._lock:
            found = self._protected.get(key) or self._probation.get(key)
        return default if found is None else found[0]

    def put(self, key: Hashable, value: V, size: int) -> bool:
        """Store `value` for `key`, weighing `size`; False if it was not admitted.

        Replacing an existing key always succeeds (if it fits the budget at all).
        """
        if size < 0:
            raise ValueError("size must be >= 0")
        with self._lock:
            replaced = self._remove_locked(key)
            if size > self.max_bytes:
                self._rejections += 1
                return False
            victims = self._victims_locked(size)
            if victims and replaced is None and not self._admits_locked(key, victims):
                self._rejections += 1
                return False
            for victim in victims:
                self._remove_locked(victim)
                self._evictions += 1
            self._probation[key] = (value, size)
            self._bytes += size
            return True

    def pop(self, key: Hashable, default: V | None = None) -> V | None:
        """Remove `key` and return its value, else `default`."""
        with self._lock:
            removed = self._remove_locked(key)
        return default if removed is None else removed[0]

    def clear(self) -> None:
        """Drop every entry and the access history (counters are kept)."""
        with self._lock:
            self._probation.clear()
            self._protected.clear()
            self._bytes = self._protected_bytes = 0
            self._sketch.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._hits, self._misses, self._evictions, self._rejections,
                len(self), self._bytes, self.max_bytes,
            )

    def _promote_locked(self, key: Hashable, item: tuple[V, int]) -> None:
        """Move a probation hit to protected; protected's overflow returns to probation."""
        self._protected[key] = item
        self._protected_bytes += item[1]
        while self._protected_bytes > self._protected_max and len(self._protected) > 1:
            old_key, old = self._protected.popitem(last=False)
            self._protected_bytes -= old[1]
            self._probation[old_key] = old

    def _victims_locked(self, size: int) -> list[Hashable]:
        """Keys to evict, in eviction order, so that `size` more units fit."""
        need = self._bytes + size - self.max_bytes
        victims: list[Hashable] = []
        for segment in (self._probation, self._protected):
            for key, (_value, held) in segment.items():
                if need <= 0:
                    return victims
                victims.append(key)
                need -= held
        return victims

    def _admits_locked(self, key: Hashable, victims: list[Hashable]) -> bool:
        """TinyLFU: the newcomer must be more popular than everything it would displace."""
        wanted = self._sketch.estimate(key)
        return all(wanted > self._sketch.estimate(victim) for victim in victims)

    def _remove_locked(self, key: Hashable) -> tuple[V, int] | None:
        item = self._probation.pop(key, None)
        if item is None:
            item = self._protected.pop(key, None)
            if item is None:
                return None
            self._protected_bytes -= item[1]
        self._bytes -= item[1]
        return item
