"""The optional C accelerator of the minifier's gaps (`_splice.c`); absent where it was not built."""
from collections.abc import Callable

from _typeshed import ReadableBuffer

def splice(
    data: ReadableBuffer,
    protected: list[tuple[int, int]],
    removed: list[tuple[int, int]],
    tokens: list[tuple[int, int, str]],
    join: ReadableBuffer,
    statement_ends: Callable[[int], bool],
    /,
) -> tuple[str, int, bytes, str]:
    """`js._splice_py` in C: (output, bytes per number, compact numbers packed, texts) of the gaps
    of `data` (UTF-8) merged with the sorted `tokens` edits."""
