"""mendel_py.experiments.assign against GrowthBook's published SDK test cases, plus the properties teams rely on."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mendel_py.experiments import assign

CASES = json.loads((Path(__file__).resolve().parents[1] / "helpers" / "data" / "growthbook_cases.json").read_text("utf-8"))


def close(a, b):
    return a == pytest.approx(b, abs=1e-6)


@pytest.mark.parametrize(("seed", "value", "version", "expected"), CASES["hash"])
def test_hash_matches_growthbook(seed, value, version, expected):
    assert assign.hash(seed, value, version) == expected


@pytest.mark.parametrize(("name", "args", "expected"), CASES["getBucketRange"])
def test_bucket_ranges_match_growthbook(name, args, expected):
    ranges = assign.bucket_ranges(*args)
    assert len(ranges) == len(expected), name
    for (start, end), (want_start, want_end) in zip(ranges, expected):
        assert close(start, want_start) and close(end, want_end), name


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), CASES["chooseVariation"])
def test_choose_variation_matches_growthbook(name, n, ranges, expected):
    assert assign.choose_variation(n, [tuple(r) for r in ranges]) == expected, name


@pytest.mark.parametrize(("name", "unit", "namespace", "expected"), CASES["inNamespace"])
def test_in_namespace_matches_growthbook(name, unit, namespace, expected):
    assert assign.in_namespace(unit, tuple(namespace)) is expected, name


@pytest.mark.parametrize(("n", "expected"), CASES["getEqualWeights"])
def test_equal_weights_match_growthbook(n, expected):
    weights = assign.equal_weights(n)
    assert len(weights) == len(expected)
    assert all(close(w, e) for w, e in zip(weights, expected))


def test_edge_cases_named_by_the_issue():
    assert assign.hash("", "a", 1) == 0.22  # empty seed is a valid seed
    assert assign.hash("abc", "def", 99) is None  # unknown hash version
    assert assign.bucket_ranges(2, 1, [0.5, 0.4]) == [(0, 0.5), (0.5, 1.0)]  # sums to 0.9
    assert assign.bucket_ranges(3, 0, None) == [(0, 0), (1 / 3, 1 / 3), (2 / 3, 2 / 3)]
    assert all(assign.choose_variation(x / 100, assign.bucket_ranges(3, 0)) == -1 for x in range(100))
    assert assign.bucket_ranges(0, 1, None) == []
    assert assign.choose_variation(0.5, []) == -1


def test_fnv_reads_utf16_code_units_like_javascript():
    # "\U0001F600" is one code point but two UTF-16 code units (0xD83D 0xDE00), as charCodeAt sees it
    expected = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):
        expected = ((expected ^ unit) * 0x01000193) & 0xFFFFFFFF
    assert assign.fnv1a32("\U0001F600") == expected
    assert assign.fnv1a32("") == 0x811C9DC5
    assert assign.fnv1a32("a") == 0xE40C292C  # the published FNV-1a 32 test vector


units = st.text(min_size=0, max_size=40)


@given(seed=units, value=units, version=st.sampled_from([1, 2]))
def test_hash_is_in_unit_interval(seed, value, version):
    n = assign.hash(seed, value, version)
    assert n is not None and 0 <= n < 1


weights_st = st.integers(1, 6).flatmap(
    lambda k: st.lists(st.integers(1, 20), min_size=k, max_size=k).map(
        lambda raw: [w / sum(raw) for w in raw]
    )
)


@given(weights=weights_st, low=st.floats(0, 1), high=st.floats(0, 1), n=st.floats(0, 0.9999))
def test_raising_coverage_moves_nobody_already_in(weights, low, high, n):
    low, high = sorted((low, high))
    before = assign.choose_variation(n, assign.bucket_ranges(len(weights), low, weights))
    after = assign.choose_variation(n, assign.bucket_ranges(len(weights), high, weights))
    if before != -1:
        assert after == before


@given(weights=weights_st)
def test_full_coverage_ranges_tile_the_unit_interval(weights):
    ranges = assign.bucket_ranges(len(weights), 1, weights)
    assert ranges[0][0] == 0
    assert all(close(a[1], b[0]) for a, b in zip(ranges, ranges[1:]))
    assert close(ranges[-1][1], 1)


@given(a=st.text(max_size=30), b=st.text(max_size=30))
def test_fnv_continues_a_prefix(a, b):
    assert assign.fnv1a32(b, assign.fnv1a32(a)) == assign.fnv1a32(a + b)
