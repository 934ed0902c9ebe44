"""The byte-bounded, scan-resistant cache (mendel_py.core.cache)."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mendel_py.core.cache import Cache, FrequencySketch

KEYS = st.integers(min_value=0, max_value=12)
SIZES = st.integers(min_value=0, max_value=40)


class CacheModel(RuleBasedStateMachine):
    """Against a dict of what was last put: the cache holds a subset of it, within budget."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: Cache[str] = Cache(100)
        self.last: dict[int, tuple[str, int]] = {}
        self.gets = 0
        self.counter = 0

    @rule(key=KEYS, size=SIZES)
    def put(self, key: int, size: int) -> None:
        self.counter += 1
        value = f"v{self.counter}"
        stored = self.cache.put(key, value, size)
        if stored:
            self.last[key] = (value, size)
            assert self.cache.get(key) == value
            self.gets += 1
        else:
            self.last.pop(key, None)
            assert key not in self.cache

    @rule(key=KEYS)
    def get(self, key: int) -> None:
        found = self.cache.get(key)
        self.gets += 1
        if found is not None:
            assert found == self.last[key][0]

    @rule(key=KEYS)
    def pop(self, key: int) -> None:
        held = key in self.cache
        popped = self.cache.pop(key)
        assert (popped is not None) == held
        if held:
            assert popped == self.last.pop(key)[0]
        assert key not in self.cache

    @rule()
    def clear(self) -> None:
        self.cache.clear()
        self.last.clear()
        assert len(self.cache) == 0 and self.cache.total_bytes == 0

    @invariant()
    def within_budget_and_consistent(self) -> None:
        held = [k for k in self.last if k in self.cache]
        for key in list(self.last):
            if key not in self.cache:
                del self.last[key]  # evicted: fine, but it must not come back by itself
        assert len(self.cache) == len(held)
        assert self.cache.total_bytes == sum(self.last[k][1] for k in held)
        assert self.cache.total_bytes <= self.cache.max_bytes
        stats = self.cache.stats()
        assert stats.hits + stats.misses == self.gets


TestCacheModel = CacheModel.TestCase
TestCacheModel.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@given(budget=st.integers(0, 50), size=st.integers(0, 100))
def test_an_entry_larger_than_the_budget_is_never_stored(budget: int, size: int) -> None:
    cache: Cache[bytes] = Cache(budget)
    assert cache.put("k", b"x", size) == (size <= budget)
    assert cache.total_bytes == (size if size <= budget else 0)


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        Cache(-1)
    with pytest.raises(ValueError):
        Cache(10).put("k", 1, -1)


def test_replacing_a_key_updates_its_value_and_size() -> None:
    cache: Cache[str] = Cache(100)
    cache.put("a", "one", 30)
    assert cache.put("a", "two", 50)
    assert cache.get("a") == "two"
    assert cache.total_bytes == 50 and len(cache) == 1


def _cyclic_hit_rate(cache: Cache[int], keys: list[int], sizes: dict[int, int], cycles: int) -> float:
    hits = asked = 0
    for _cycle in range(cycles):
        for key in keys:
            asked += 1
            if cache.get(key) is not None:
                hits += 1
            else:
                cache.put(key, key, sizes[key])
    return hits / asked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cyclic_working_set_larger_than_the_budget_still_hits(seed: int) -> None:
    """Plain LRU gets 0% here (each entry is evicted just before its turn comes again)."""
    rnd = random.Random(seed)
    keys = list(range(40))
    sizes = {k: rnd.randint(500, 1500) for k in keys}
    budget = int(sum(sizes.values()) / 1.5)
    cache: Cache[int] = Cache(budget)
    rate = _cyclic_hit_rate(cache, keys, sizes, cycles=8)
    assert rate >= 0.4
    assert cache.total_bytes <= budget


def test_a_one_shot_scan_does_not_flush_the_hot_set() -> None:
    cache: Cache[int] = Cache(10)
    for _ in range(3):
        for key in range(8):
            if cache.get(key) is None:
                cache.put(key, key, 1)
    for key in range(100, 200):  # a crawler asks for 100 cold keys once each
        if cache.get(key) is None:
            cache.put(key, key, 1)
    assert all(cache.get(key) == key for key in range(8))


def test_a_key_that_becomes_popular_gets_in() -> None:
    cache: Cache[int] = Cache(4)
    for key in range(4):
        cache.get(key)
        cache.put(key, key, 1)
    for _ in range(3):
        cache.get(99)
    assert cache.put(99, 99, 1)
    assert cache.get(99) == 99 and len(cache) == 4


def test_stats_count_hits_misses_and_rejections() -> None:
    cache: Cache[int] = Cache(1)
    assert cache.get("a") is None
    cache.put("a", 1, 1)
    assert cache.get("a") == 1
    cache.get("b")
    assert not cache.put("b", 2, 1)  # asked once, like "a" (which was asked twice): not admitted
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.rejections, stats.entries) == (1, 2, 1, 1)
    assert stats.hit_rate == pytest.approx(1 / 3)


def test_threads_keep_the_books_straight() -> None:
    cache: Cache[int] = Cache(500)

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(2000):
            key = rnd.randrange(60)
            if cache.get(key) is None:
                cache.put(key, key, rnd.randint(1, 30))
            if rnd.random() < 0.05:
                cache.pop(rnd.randrange(60))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))  # re-raises any worker's exception
    assert 0 < cache.total_bytes <= 500
    stats = cache.stats()
    assert stats.hits + stats.misses == 6 * 2000


def test_sketch_counts_and_ages() -> None:
    sketch = FrequencySketch(16)
    hot = 12345  # int keys hash the same in every process: no flaky collisions
    for _ in range(5):
        sketch.add(hot)
    assert sketch.estimate(hot) >= 5
    for n in range(10 * 16):  # one sample period: every counter is halved once
        sketch.add((7, n % 3))
    assert sketch.estimate(hot) < 5


def test_peek_neither_counts_nor_promotes() -> None:
    cache: Cache[str] = Cache(10)
    cache.put("a", "A", 1)
    assert cache.peek("a") == "A" and cache.peek("b") is None
    stats = cache.stats()
    assert stats.hits == stats.misses == 0
