"""Bodies kept as their parts (body.py): the bytes they stand for, however they are read."""
from __future__ import annotations

import ctypes
import threading

from hypothesis import given
from hypothesis import strategies as st

from mendel_py._runtime.allocator import MMAP_THRESHOLD_BYTES
from mendel_py.packing.body import CHUNK_BYTES, SCRATCH_MAX_BYTES, Body

# parts of any size a body meets: a few bytes, a module, about a chunk, more than a chunk
part_sizes = st.one_of(
    st.integers(0, 300), st.integers(CHUNK_BYTES - 5, CHUNK_BYTES + 5), st.integers(2 * CHUNK_BYTES, 3 * CHUNK_BYTES)
)
parts_lists = st.lists(st.tuples(part_sizes, st.integers(0, 255)), max_size=40).map(
    lambda specs: [bytes([value]) * size for size, value in specs]
)


@given(parts_lists)
def test_every_reading_gives_the_same_bytes(parts: list[bytes]) -> None:
    body = Body.of(parts)
    whole = b"".join(parts)
    assert body.join() == whole and len(body) == body.size == len(whole)
    assert b"".join(body.chunks()) == whole
    assert bytes(body.contiguous()) == whole
    assert b"".join(body.followed_by(b"//tail").chunks()) == whole + b"//tail"


@given(parts_lists)
def test_chunks_stay_below_the_mmap_threshold_unless_a_part_is_larger(parts: list[bytes]) -> None:
    """Joined chunks come from the heap (reused), so none may reach glibc's mmap threshold."""
    for chunk in Body.of(parts).chunks():
        assert len(chunk) < MMAP_THRESHOLD_BYTES or chunk in parts
        assert chunk  # no empty writes


def test_chunks_group_small_parts() -> None:
    body = Body.of([b"x" * 1000] * 200)  # 200 KB of small parts
    chunks = list(body.chunks())
    assert len(chunks) == 4 and all(len(c) >= CHUNK_BYTES for c in chunks[:-1])


def _address(view: memoryview) -> int:
    """Where a writable view's bytes are in memory."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def test_contiguous_reuses_one_scratch_buffer_per_thread() -> None:
    first = Body.of([b"a" * 5000, b"b" * 5000]).contiguous()
    assert isinstance(first, memoryview)
    owner = _address(first)
    first.release()
    second = Body.of([b"c" * 3000, b"d" * 3000]).contiguous()
    assert _address(second) == owner and bytes(second) == b"c" * 3000 + b"d" * 3000
    second.release()
    seen: list[int] = []

    def other_thread() -> None:
        view = Body.of([b"e", b"f"]).contiguous()
        seen.append(_address(view))
        view.release()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0] != owner  # another thread has its own


def test_a_view_still_held_does_not_break_the_next_call() -> None:
    held = Body.of([b"a" * 100, b"b" * 100]).contiguous()
    again = Body.of([b"c" * 100, b"d" * 100]).contiguous()
    assert bytes(held) == b"a" * 100 + b"b" * 100 and bytes(again) == b"c" * 100 + b"d" * 100


def test_large_bodies_are_joined_not_kept_in_scratch() -> None:
    big = Body.of([b"x" * (SCRATCH_MAX_BYTES // 2), b"y" * (SCRATCH_MAX_BYTES // 2 + 1)])
    assert isinstance(big.contiguous(), bytes)


def test_weight_counts_own_bytes_and_references_to_shared_parts() -> None:
    shared = [b"s" * 10_000] * 50
    body = Body.of([*shared, b"entries"], own_bytes=7)
    assert 7 < body.weight < 1_000 < body.size
    assert Body.wrap(b"z" * 500).weight == 500
    assert Body.wrap(body) is body
