"""The allocator calls: real on glibc (where RSS depends on them), harmless elsewhere."""
from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from mendel_py._runtime.allocator import MMAP_THRESHOLD_BYTES, return_freed_memory, use_fixed_mmap_threshold
from mendel_py.serving import memory

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


# Run in a fresh interpreter: a heap with large free blocks left by other tests would serve the
# 4 MiB requests itself, whatever the threshold.
COMPRESSOR_LIKE = """
import resource, sys
from mendel_py._runtime.allocator import large_blocks_from_heap, use_fixed_mmap_threshold

def faults_of_calls(rounds=3):
    # rounds 2.. of what a compression does: a 4 MiB working buffer written through, a 200 KB
    # result kept, the buffer freed
    kept = []
    work = b"w" * (4 << 20); kept.append(b"r" * 200_000); del work
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds - 1):
        work = b"w" * (4 << 20); kept.append(b"r" * 200_000); del work
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

assert use_fixed_mmap_threshold()
afresh = faults_of_calls()
with large_blocks_from_heap():
    with large_blocks_from_heap():  # nested (or another thread's): still inside after it
        pass
    reused = faults_of_calls()
print(afresh, reused, faults_of_calls())
"""


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_large_blocks_from_heap_reuses_working_memory_under_the_fixed_threshold() -> None:
    out = subprocess.run([sys.executable, "-c", COMPRESSOR_LIKE], check=True, capture_output=True, text=True)
    afresh, reused, after = map(int, out.stdout.split())
    assert afresh > 1000  # each 4 MiB buffer mapped afresh and faulted in
    assert reused < afresh / 4  # the freed buffer's memory is used again
    assert after > 1000  # outside again: the fixed threshold is back
