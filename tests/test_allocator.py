"""The allocator calls: real on glibc (where RSS depends on them), harmless elsewhere."""
from __future__ import annotations

import platform
from pathlib import Path

import pytest

from mendel_py import memory
from mendel_py.allocator import MMAP_THRESHOLD_BYTES, return_freed_memory, use_fixed_mmap_threshold

GLIBC = platform.libc_ver()[0] == "glibc"


def rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


@pytest.mark.skipif(not GLIBC or not Path("/proc/self/status").exists(), reason="glibc on Linux")
def test_freed_small_objects_go_back_to_the_system() -> None:
    held = [bytes(1000) + str(n).encode() for n in range(100_000)]  # ~100 MiB of malloc blocks
    before = rss_kib()
    del held[:-1]  # freed, but the heap's pages stay mapped (the last block pins its top)
    assert return_freed_memory() is True
    assert rss_kib() < before - 50 * 1024


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_mmap_threshold_is_set_and_still_exported_by_memory() -> None:
    assert use_fixed_mmap_threshold() is True
    assert memory.use_fixed_mmap_threshold is use_fixed_mmap_threshold
    assert memory.MMAP_THRESHOLD_BYTES == MMAP_THRESHOLD_BYTES
