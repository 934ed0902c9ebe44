"""What mendel_py asks of the C library's memory allocator, so RSS follows what is in use.

Only glibc has these calls; elsewhere each function changes nothing and says so (False).
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from collections.abc import Iterator
from typing import Any

MMAP_THRESHOLD_BYTES = 128 * 1024
# glibc's largest mmap threshold on 64-bit systems (half its 64 MiB arena heaps)
HEAP_BLOCKS_MAX_BYTES = 32 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number

_fixed_threshold: int | None = None  # what use_fixed_mmap_threshold set, if it did
_heap_windows = 0  # threads inside large_blocks_from_heap()
_heap_windows_lock = threading.Lock()


def use_fixed_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Make glibc serve blocks of `threshold` bytes and more with mmap, always (so freeing them
    returns the memory), as `MALLOC_MMAP_THRESHOLD_=131072` would."""
    global _fixed_threshold
    if not _mallopt(_M_MMAP_THRESHOLD, threshold):
        return False
    _fixed_threshold = threshold
    return True


@contextlib.contextmanager
def large_blocks_from_heap() -> Iterator[None]:
    """While inside, blocks up to 32 MiB come from the heap even under a fixed mmap threshold.

    For a compressor's working memory (brotli's window and tables, igzip's state: several MiB
    allocated and freed per call): mapped afresh, their pages fault in on every call -- 690
    faults per brotli call on a 1.58 MB bundle, several ms on the machines this runs on; from the
    heap, the next call reuses what the last one freed (54 faults). That memory stays in the
    process, a few MiB. Nested and concurrent uses are counted: the fixed threshold comes back
    when the last one leaves. Without a fixed threshold glibc's own (dynamic) one already keeps
    such blocks, and nothing is changed.
    """
    global _heap_windows
    with _heap_windows_lock:
        fixed = _fixed_threshold
        _heap_windows += 1
        if fixed is not None and _heap_windows == 1:
            _mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS_MAX_BYTES)
    try:
        yield
    finally:
        with _heap_windows_lock:
            _heap_windows -= 1
            if fixed is not None and _heap_windows == 0:
                _mallopt(_M_MMAP_THRESHOLD, fixed)


def return_freed_memory() -> bool:
    """Hand the free pages of the heap back to the system (`malloc_trim`, a few ms). glibc keeps
    freed memory for reuse, so a large structure freed at once -- a manifest's parsed JSON, about
    70 MiB at 30,000 modules -- would otherwise stay in the process's RSS."""
    trim = _libc_function("malloc_trim")
    return trim is not None and bool(trim(0))


def _mallopt(parameter: int, value: int) -> bool:
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(parameter, value))


@functools.cache
def _libc_function(name: str) -> Any:
    """The C library's function `name` (looked up in the process's own symbols), or None."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
