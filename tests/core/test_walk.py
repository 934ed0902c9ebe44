"""The fast walker against a line-by-line transcription of mendel-core's walk (tests/helpers/reference_walk.py)."""
from __future__ import annotations

import hashlib
import random
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate, chain

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mendel_py.core import hashcodec
from mendel_py.core import walk as walk_module
from mendel_py.core.manifest import compile_manifest, js_key_order
from mendel_py.core.walk import Walker, _walk_order
from mendel_py.errors import HashError, WalkError
from reference_walk import ReferenceWalker

IMPLEMENTATIONS = pytest.mark.parametrize("accelerated", [True, False], ids=["c", "python"])
BASE = "src/base"
V2 = hashcodec.get_format("mendel-v2")
V3 = hashcodec.get_format("v3")


@contextmanager
def implementation(accelerated: bool) -> Iterator[None]:
    """Walk in C (the `_speedups` extension) or in Python, for the duration of the block."""
    saved = walk_module._walk_plan_c, walk_module._join_digests_c
    if not accelerated:
        walk_module._walk_plan_c = walk_module._join_digests_c = None
    try:
        yield
    finally:
        walk_module._walk_plan_c, walk_module._join_digests_c = saved


def test_the_accelerator_is_built() -> None:
    # `make setup` (pip install -e .) compiles it; every Walker test below runs both ways
    assert walk_module.ACCELERATED


def random_manifest(rng: random.Random) -> tuple[dict, list[str]]:
    """A manifest with cycles, variation-only files, numeric-looking dep keys and externals."""
    folders = [f"src/variations/v{i}" for i in range(rng.randint(1, 5))]
    count = rng.randint(2, 24)
    ids = [f"m{i:02d}.js" for i in range(count)]
    bundles = []
    for index, module_id in enumerate(ids):
        present = [BASE] if rng.random() < 0.9 else []
        present += [f for f in folders if rng.random() < 0.3]
        if not present:
            present = [rng.choice(folders)]
        data = []
        for folder in present:
            deps: dict = {}
            for _ in range(rng.randint(0, 4)):
                key = rng.choice([f"./{rng.choice(ids)}", str(rng.randint(0, 20)), "react"])
                deps[key] = False if key == "react" else rng.choice(ids)
            source = f"// {module_id} {folder} {rng.random()}"
            data.append({"id": module_id, "file": f"{folder}/{module_id}", "variation": folder,
                         "source": source, "sha": hashlib.sha1(source.encode()).hexdigest(), "deps": deps})
        module = {"id": module_id, "index": index, "variations": present, "data": data}
        if index == 0 or rng.random() < 0.15:
            module["entry"] = True
        elif rng.random() < 0.05:
            module["expose"] = f"pub{index}"
        bundles.append(module)
    return {"indexes": {m: i for i, m in enumerate(ids)}, "bundles": bundles}, folders


def random_chains(rng: random.Random, folders: list[str]) -> list[list[str]]:
    chosen = rng.sample(folders, rng.randint(0, len(folders)))
    chains, rest = [], list(chosen)
    while rest:
        size = rng.randint(1, len(rest))
        chains.append(rest[:size])
        rest = rest[size:]
    return chains + [[BASE]]


def expected_hash(reference: ReferenceWalker, fmt) -> str:
    if fmt.file_digest == "sha":
        digest = hashlib.sha1(b"".join(reference.shas)).digest()
    else:
        sources = [reference.deps[i]["source"] for i in reference.order]
        digest = blake3.blake3(b"".join(blake3.blake3(s.encode()).digest() for s in sources)).digest(length=20)
    return fmt.encode(reference.branch_list, len(reference.order), digest)


@IMPLEMENTATIONS
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_walk_by_chains_matches_mendel_core(accelerated: bool, seed: int) -> None:
    with implementation(accelerated):
        check_walk_by_chains(seed)


def check_walk_by_chains(seed: int) -> None:
    rng = random.Random(seed)
    data, folders = random_manifest(rng)
    walker = Walker(compile_manifest(data, "t.json", "main"), BASE)
    for _ in range(4):
        chains = random_chains(rng, folders)
        reference = ReferenceWalker(data, chains, BASE)
        try:
            reference.walk_bundle()
        except LookupError as missing:
            with pytest.raises(WalkError) as raised:
                walker.walk_chains(chains, V2)
            assert raised.value.module == missing.args[0]
            continue
        for fmt in (V2, V3):
            walk = walker.walk_chains(chains, fmt)
            assert walk.hash == expected_hash(reference, fmt)
        assert list(walk.plan.order) == reference.order
        assert list(walk.branches) == reference.branch_list
        assert [data["bundles"][m]["id"] for m in walk.conflicts] == reference.conflict_list
        index_ids = [data["bundles"][m]["data"][walk.choices.get(m, 0)]["id"] for m in walk.plan.index_order]
        assert index_ids == reference.dep_ids()
        assert [data["bundles"][m]["data"][walk.choices.get(m, 0)] for m in walk.plan.order] == [
            reference.deps[i] for i in reference.order
        ]


@IMPLEMENTATIONS
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_walk_by_hash_matches_mendel_core(accelerated: bool, seed: int) -> None:
    with implementation(accelerated):
        check_walk_by_hash(seed)


def check_walk_by_hash(seed: int) -> None:
    rng = random.Random(seed)
    data, _ = random_manifest(rng)
    walker = Walker(compile_manifest(data, "t.json", "main"), BASE)
    for _ in range(6):
        branches = [rng.choice([0, 0, 1, 2, 3]) for _ in range(rng.randint(0, 8))]
        reference = ReferenceWalker(data, None, BASE, branches=branches).walk_bundle()
        if reference.error:
            expected_code = reference.error
            text = V2.encode(branches, 1, bytes(20))
        else:
            complete = reference.path_count == len(branches)
            digest = hashlib.sha1(b"".join(reference.shas)).digest()
            text = V2.encode(branches, len(reference.order), digest)  # with any unused branches
            assert complete == (text == expected_hash(reference, V2))
            expected_code = None if complete else "HASHMISS"
        decoded = hashcodec.decode(text)
        if expected_code:
            with pytest.raises(HashError) as raised:
                walker.walk_hash(text, decoded, V2)
            assert raised.value.code == expected_code
        else:
            walk = walker.walk_hash(text, decoded, V2)
            assert list(walk.plan.order) == reference.order
            assert list(walk.branches) == reference.branch_list


def test_js_key_order_puts_array_indexes_first() -> None:
    keys = ["b", "10", "a", "2", "01", "0", "4294967295", "4294967294"]
    assert js_key_order(keys) == ["0", "2", "10", "4294967294", "b", "a", "01", "4294967295"]


def walk_order(roots: tuple[int, ...], successors: list[tuple[int, ...]]) -> tuple[int, ...]:
    """_walk_order over successors in dependency order; the C walk must find the same order and
    index order."""
    children = list(successors)
    order, walked = _walk_order(roots, children)
    index_order = tuple(m for m in range(len(successors)) if walked[m])
    assert index_order == tuple(sorted(order))
    count = len(children)
    numbers, flags = tuple(range(count)), bytearray(count)
    in_c = walk_module._walk_plan_c(roots, *graph(children), [None] * count, numbers, flags, None)
    assert in_c == (order, index_order, (), ())
    no_graph = array("i", [0] * (count + 1)), array("i")
    assert walk_module._walk_plan_c(roots, *no_graph, list(children), numbers, flags, None) == in_c

    return order


def graph(children: list[tuple[int, ...]]) -> tuple[array, array]:
    """The compact graph the C walk reads (offsets, targets)."""
    return array("i", accumulate(map(len, children), initial=0)), array("i", chain.from_iterable(children))


def test_the_c_walk_calls_back_only_where_asked_with_the_branch_position() -> None:
    # 0 -> 1 -> 2 -> 3, branch points 1, 2 and 3; called back at 2 only, as the 2nd branch point
    children = [(1,), (2,), (3,), ()]
    calls: list[tuple[int, int]] = []
    flags, call_at = bytearray(b"\x00\x01\x01\x01"), bytearray(b"\x00\x00\x01\x00")
    plan = walk_module._walk_plan_c(
        (0,), *graph(children), [None] * 4, (0, 1, 2, 3), flags, lambda m, p: calls.append((m, p)), call_at
    )
    assert calls == [(2, 1)] and plan[2] == (1, 2, 3)
    with pytest.raises(ValueError):
        walk_module._walk_plan_c((0,), *graph(children), [None] * 4, (0, 1, 2, 3), flags, None, bytearray(2))


def test_digests_are_joined_in_c_as_in_python() -> None:
    join = walk_module._join_digests_c
    first = [b"a", b"bb", b"ccc", b""]
    assert join(first, (2, 0, 1), []) == b"cccabb"
    assert join(first, (2, 0, 1), [(1, b"XY"), (2, b"")]) == b"cccXY"
    assert join(first, (), []) == b""
    with pytest.raises(IndexError):
        join(first, (4,), [])
    with pytest.raises(IndexError):
        join(first, (0,), [(1, b"x")])
    with pytest.raises(TypeError):
        join([b"a", "text"], (1,), [])
    with pytest.raises(TypeError):
        join(first, (0,), [(0,)])


def test_the_c_walk_refuses_bad_tables_and_passes_errors_on() -> None:
    def walk_plan(roots, children, flags=None, on_branch=None, compact=None):
        flags = bytearray(2) if flags is None else flags
        offsets, targets = compact or graph([c or () for c in children])
        return walk_module._walk_plan_c(roots, offsets, targets, children, (0, 1), flags, on_branch)

    with pytest.raises(IndexError):
        walk_plan((0,), [(1,), (5,)])
    with pytest.raises(IndexError):
        walk_plan((0,), [None, None], compact=graph([(5,), ()]))
    with pytest.raises(IndexError):
        walk_plan((2,), [(), ()])
    with pytest.raises(ValueError):
        walk_plan((0,), [(), ()], flags=bytearray(3))
    with pytest.raises(ValueError):
        walk_plan((0,), [None, None], compact=(array("i", [0, 9, 0]), array("i")))
    with pytest.raises(TypeError):
        walk_plan((0,), [[1], ()])

    def refuse(m: int) -> None:
        raise LookupError(m)

    with pytest.raises(LookupError) as raised:
        walk_plan((0,), [(1,), ()], flags=bytearray(b"\x00\x01"), on_branch=refuse)
    assert raised.value.args == (1,)


def test_cycle_back_to_the_root_walks_its_dependencies_again() -> None:
    # root 0 -> [1, 2]; 1 -> [0, 3]: mendel-core re-walks root 0 from inside 1 and reaches 2 before 3.
    assert walk_order((0,), [(1, 2), (0, 3), (), ()]) == (0, 1, 2, 3)
    # a module that is not a root gets no second walk: 1 -> [2, 3], 2 -> [1, 4]
    assert walk_order((0,), [(1,), (2, 3), (1, 4), (), ()]) == (0, 1, 2, 4, 3)


def test_deep_chains_do_not_hit_the_recursion_limit() -> None:
    count = 20_000
    successors = [(i + 1,) for i in range(count - 1)] + [()]
    assert walk_order((0,), successors) == tuple(range(count))


@IMPLEMENTATIONS
def test_structural_override_changes_order_and_decodes_back(accelerated: bool) -> None:
    with implementation(accelerated):
        check_structural_override()


def check_structural_override() -> None:
    rng = random.Random(7)
    for _ in range(50):
        data, folders = random_manifest(rng)
        walker = Walker(compile_manifest(data, "t.json", "main"), BASE)
        chains = random_chains(rng, folders)
        try:
            walk = walker.walk_chains(chains, V3)
        except WalkError:
            continue
        back = walker.walk_hash(walk.hash, hashcodec.decode(walk.hash), V3)
        assert back.plan.order == walk.plan.order
        assert back.branches == walk.branches
