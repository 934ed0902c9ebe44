"""The optional C accelerator of `mendel_py.core.walk` (`_speedups.c`); absent where it was not built."""
from collections.abc import Callable

from _typeshed import ReadableBuffer

def walk_plan(
    roots: tuple[int, ...],
    offsets: ReadableBuffer,
    targets: ReadableBuffer,
    children: list[tuple[int, ...] | None],
    numbers: tuple[int, ...],
    is_branch: ReadableBuffer,
    on_branch: Callable[[int], object] | Callable[[int, int], object] | None,
    call_at: ReadableBuffer | None = None,
    /,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(order, index_order, branch_seq, branch_positions) of the walk from `roots`: module m's
    successors are children[m] where that is a tuple, else (None) targets[offsets[m]:offsets[m + 1]]
    (arrays of C ints). `numbers` is tuple(range(len(children))); `is_branch` and `call_at` hold a
    byte per module. `on_branch` is called as on_branch(m) at every branch point, or with `call_at`
    as on_branch(m, position) only where it is set."""

def join_digests(first: list[bytes], order: tuple[int, ...], chosen: list[tuple[int, bytes]], /) -> bytes:
    """b''.join(first[m] for m in order), with chosen's (position, digest) pairs put in at those
    walk positions."""
