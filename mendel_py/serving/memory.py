"""A worker's memory: the one budget its caches share, and keeping RSS close to it.

Per worker process, mendel_py holds:

- the compiled manifests and what is precomputed from them at start-up (fixed, whatever the
  traffic);
- the walk cache of `MendelTrees` (trees, walk plans): `cache_bytes`, default
  `trees.DEFAULT_CACHE_BYTES` (64 MiB; Flask `MENDEL_WALK_CACHE_BYTES`);
- the packed-bundle cache of the middleware, every content coding counted: `cache_bytes`, default
  `bundles.BUNDLE_CACHE_BYTES` (64 MiB; Flask `MENDEL_CACHE_BYTES`);
- the lookup-chains memo: `trees.CHAINS_MEMO_SIZE` (1,024) sets of configured ids, ~3 KB each
  at most with 45 variations (a few MiB);
- a memo of at most 256 short Accept-Encoding values (a few KiB);
- per thread that compresses, one scratch buffer the size of the largest body it compressed, up
  to `body.SCRATCH_MAX_BYTES` (8 MiB), reused so a compression maps no fresh pages;
- when pages server-render, the engine contexts of `mendel_py.ssr`: a budget of their own,
  `.mendelrc` `ssr.cache-mb` (256 MiB; `ssr.contexts`), each context capped at
  `ssr.memory-limit-mb` (64 MiB), and at least the one context each rendering thread uses.

So the caches of a worker with the defaults stay within `cache_budget()` = 128 MiB, whatever the
traffic: keys are only configured variation ids and hashes proven valid, and every entry is
counted in bytes. What the operating system sees (RSS) can still grow past that when freed
buffers are not handed back: glibc raises its mmap threshold each time a large block is freed,
so the multi-megabyte buffers of packing a bundle end up in heap arenas that stay mapped.
`use_fixed_mmap_threshold()` pins the threshold (as `MALLOC_MMAP_THRESHOLD_=131072` would) so
blocks of 128 KiB and more are always returned; every `MendelMiddleware` calls it when it is made
(with gunicorn's preload, in the master, before the workers fork). It changes nothing but that
threshold, and only where the C library is glibc.
"""
from __future__ import annotations

from .._runtime.allocator import MMAP_THRESHOLD_BYTES, use_fixed_mmap_threshold
from ..core.trees import DEFAULT_CACHE_BYTES as WALK_CACHE_BYTES
from .bundles import BUNDLE_CACHE_BYTES

__all__ = ["MMAP_THRESHOLD_BYTES", "cache_budget", "use_fixed_mmap_threshold"]


def cache_budget(walk_bytes: int = WALK_CACHE_BYTES, bundle_bytes: int = BUNDLE_CACHE_BYTES) -> int:
    """The bytes a worker's caches may hold together (the defaults unless given)."""
    return walk_bytes + bundle_bytes
