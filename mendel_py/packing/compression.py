"""Content codings of bundles: which compressor, at which level, named how in ETags.

A first request for a bundle is compressed on the request path, so the levels are chosen for
speed (benchmarks/README.md has the size/time table they were picked from). gzip uses ISA-L's
igzip (`isal`, the `[speedups]` extra) when installed -- about 4x faster than zlib at level 1
and smaller -- else zlib. brotli needs the `brotli` package.

Every coder has an `etag_suffix` that goes into the representation's ETag: it names the coding, the
library and the level, because a strong ETag promises the same bytes; two hosts with the same
libraries write the same bytes (gzip with a zero mtime), and hosts that differ get different
ETags instead of a false match.
"""
from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass

try:  # brotli is an optional extra
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None
try:  # ISA-L's igzip: much faster gzip, an optional extra
    from isal import igzip as _igzip
except ImportError:  # pragma: no cover - depends on the environment
    _igzip = None  # type: ignore[assignment]

IDENTITY = "identity"
GZIP = "gzip"
BROTLI = "br"
# Levels for the request path: see benchmarks/README.md ("compression levels").
IGZIP_LEVEL = 2
ZLIB_LEVEL = 1
BROTLI_QUALITY = 4
# Larger bodies get the cheapest qualities, so a first request costs at most ~3 ms of CPU more
# than brotli's cheapest level (the cost bound of benchmarks/README.md, "CPU per request under
# floods"): quality 4 costs ~4.5x quality 0 (7.3 against 1.6 ms on 400 KB here), 1 about 1.3x
# 0 and is still smaller than gzip; past 1 MiB even that difference, with the pack, can pass the
# bound, so 0. Better levels are made off the request path (`MENDEL_RECOMPRESS`,
# `mendel_py.recompress`). (size in bytes a body is over, its quality)
BROTLI_LARGER = ((128 * 1024, 1), (1024 * 1024, 0))
# Levels off the request path, for bundles asked for again (`mendel_py.recompress`).
BEST_GZIP_LEVEL = 9
BEST_BROTLI_QUALITY = 9


def brotli_available() -> bool:
    """True when the optional `brotli` package is importable."""
    return _brotli is not None


@dataclass(frozen=True)
class Coder:
    """One content coding: its name in HTTP, its ETag suffix and how to compress a body."""

    coding: str
    etag_suffix: str
    """What the coding adds to a representation's ETag (coding, library, level: ``br4-1-0``)."""
    compress: Callable[[bytes | memoryview], bytes]


def gzip_coder(level: int | None = None, *, fast: bool = True) -> Coder:
    """gzip at `level`: igzip (levels 0-3) when installed and `fast`, else zlib (1-9)."""
    if fast and _igzip is not None:
        chosen = IGZIP_LEVEL if level is None else level
        return Coder(GZIP, f"igz{chosen}", lambda body: _igzip.compress(body, chosen, mtime=0))
    chosen = ZLIB_LEVEL if level is None else level
    return Coder(GZIP, f"gz{chosen}", lambda body: gzip.compress(body, compresslevel=chosen, mtime=0))


def brotli_coder(quality: int = BROTLI_QUALITY, larger: Sequence[tuple[int, int]] = ()) -> Coder:
    """brotli at `quality` (0-11), text mode; with `larger` ((size, quality), sizes ascending),
    a body over a size gets that quality instead (the size picks the quality, so the same body
    still gives the same bytes, and the ETag suffix names every step)."""
    if _brotli is None:
        raise RuntimeError("brotli is not installed (pip install brotli)")
    codec = _brotli
    steps = tuple(larger)

    def compress(body: bytes | memoryview) -> bytes:
        chosen = quality
        for size, step_quality in steps:
            if len(body) > size:
                chosen = step_quality
        return codec.compress(body, quality=chosen, mode=codec.MODE_TEXT)

    return Coder(BROTLI, "-".join([f"br{quality}", *(str(q) for _size, q in steps)]), compress)


def request_path_coders(use_brotli: bool = True) -> dict[str, Coder]:
    """The coders for first requests, best first: br (if installed and wanted), then gzip."""
    coders = {BROTLI: brotli_coder(BROTLI_QUALITY, BROTLI_LARGER)} if use_brotli and brotli_available() else {}
    coders[GZIP] = gzip_coder()
    return coders


def best_coders(use_brotli: bool = True) -> dict[str, Coder]:
    """The coders that re-encode bundles asked for again, off the request path (zlib gzip 9:
    ISA-L stops at level 3; brotli 9: 11 costs seconds per megabyte for ~10 % less)."""
    coders = {BROTLI: brotli_coder(BEST_BROTLI_QUALITY)} if use_brotli and brotli_available() else {}
    coders[GZIP] = gzip_coder(BEST_GZIP_LEVEL, fast=False)
    return coders
