"""What mendel_py asks of the C library's memory allocator, so RSS follows what is in use.

Only glibc has these calls; elsewhere each function changes nothing and says so (False).
"""
from __future__ import annotations

import ctypes
import functools
from typing import Any

MMAP_THRESHOLD_BYTES = 128 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def use_fixed_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Make glibc serve blocks of `threshold` bytes and more with mmap, always (so freeing them
    returns the memory), as `MALLOC_MMAP_THRESHOLD_=131072` would."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, threshold))


def return_freed_memory() -> bool:
    """Hand the free pages of the heap back to the system (`malloc_trim`, a few ms). glibc keeps
    freed memory for reuse, so a large structure freed at once -- a manifest's parsed JSON, about
    70 MiB at 30,000 modules -- would otherwise stay in the process's RSS."""
    trim = _libc_function("malloc_trim")
    return trim is not None and bool(trim(0))


@functools.lru_cache(maxsize=None)
def _libc_function(name: str) -> Any:
    """The C library's function `name` (looked up in the process's own symbols), or None."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
