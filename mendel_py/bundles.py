"""A byte-bounded LRU cache of packed bundles, each ready to serve in every content coding.

An entry holds the identity bytes, a strong ETag and content type, and -- computed once, on first
need -- the gzip and brotli variants with their prebuilt response headers. A warm request is a
dict lookup for the entry and one for the variant.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

try:  # brotli is an optional extra
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None

JS_CONTENT_TYPE = "application/javascript; charset=utf-8"
CSS_CONTENT_TYPE = "text/css; charset=utf-8"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
IDENTITY = "identity"
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024

Headers = list[tuple[str, str]]
CacheKey = tuple[str, str]


def brotli_available() -> bool:
    """True when the optional `brotli` package is importable."""
    return _brotli is not None


def _compress_gzip(body: bytes, level: int) -> bytes:
    """gzip with a zero mtime, so the same body always gives the same bytes."""
    return gzip.compress(body, compresslevel=level, mtime=0)


def _compress_brotli(body: bytes, quality: int) -> bytes:
    assert _brotli is not None
    return _brotli.compress(body, quality=quality, mode=_brotli.MODE_TEXT)


def strong_etag(body: bytes) -> str:
    """A quoted, URL-safe digest of the identity bytes."""
    digest = hashlib.blake2b(body, digest_size=18).digest()
    return '"' + base64.urlsafe_b64encode(digest).decode("ascii") + '"'


@dataclass(frozen=True)
class Representation:
    """One content coding of a bundle with the headers of its 200 and 304 responses."""

    body: bytes
    encoding: str
    headers: Headers
    not_modified_headers: Headers


@dataclass
class CachedBundle:
    """A packed bundle and the representations computed for it so far."""

    key: CacheKey
    body: bytes
    content_type: str
    etag: str
    representations: dict[str, Representation] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes held: the identity body plus every distinct compressed variant."""
        extra = sum(len(r.body) for r in self.representations.values() if r.encoding != IDENTITY)
        return len(self.body) + extra


def _headers_for(bundle: CachedBundle, body: bytes, encoding: str) -> Representation:
    """Prebuilt header lists for serving `body` (already in `encoding`) of `bundle`."""
    shared = [
        ("Cache-Control", IMMUTABLE_CACHE_CONTROL),
        ("ETag", bundle.etag),
        ("Vary", "Accept-Encoding"),
    ]
    headers = [("Content-Type", bundle.content_type), ("Content-Length", str(len(body)))]
    if encoding != IDENTITY:
        headers.append(("Content-Encoding", encoding))
    return Representation(body, encoding, headers + shared, list(shared))


class BundleCache:
    """Thread-safe LRU of `CachedBundle` by (bundle, hash), bounded by the bytes of all variants."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        *,
        gzip_level: int = 9,
        brotli_quality: int = 9,
        use_brotli: bool = True,
    ):
        self.max_bytes = max_bytes
        self.gzip_level = gzip_level
        self.brotli_quality = brotli_quality
        self.encodings: tuple[str, ...] = (
            ("br", "gzip") if use_brotli and brotli_available() else ("gzip",)
        )
        self._entries: OrderedDict[CacheKey, CachedBundle] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: CacheKey) -> CachedBundle | None:
        """The cached bundle for `key`, marked most recently used; None on a miss."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get_or_create(self, key: CacheKey, make: Callable[[], tuple[bytes, str]]) -> CachedBundle:
        """The bundle for `key`, built with `make() -> (body, content_type)` on a miss."""
        entry = self.get(key)
        if entry is not None:
            return entry
        body, content_type = make()
        return self.put(key, body, content_type)

    def put(self, key: CacheKey, body: bytes, content_type: str) -> CachedBundle:
        """Store a packed bundle (keeping an existing equal entry) and return the stored entry."""
        entry = CachedBundle(key, body, content_type, strong_etag(body))
        identity = _headers_for(entry, body, IDENTITY)
        entry.representations[IDENTITY] = identity
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None:
                self._entries.move_to_end(key)
                return existing
            self._entries[key] = entry
            self._bytes += entry.size
            self._evict_locked(keep=key)
        return entry

    def representation(self, entry: CachedBundle, encoding: str) -> Representation:
        """`entry` in `encoding` ("br", "gzip" or "identity"), compressing once on first use.

        A compressed variant that isn't smaller than the identity body is not kept: the identity
        representation is served for that coding instead.
        """
        found = entry.representations.get(encoding)
        if found is not None:
            return found
        if encoding not in self.encodings:
            return entry.representations[IDENTITY]
        compressed = self._compress(entry.body, encoding)
        if len(compressed) >= len(entry.body):
            made = entry.representations[IDENTITY]
        else:
            made = _headers_for(entry, compressed, encoding)
        with self._lock:
            stored = entry.representations.setdefault(encoding, made)
            if stored is made and made.encoding != IDENTITY and self._holds(entry):
                self._bytes += len(made.body)
                self._evict_locked(keep=None)
        return stored

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _compress(self, body: bytes, encoding: str) -> bytes:
        if encoding == "br":
            return _compress_brotli(body, self.brotli_quality)
        return _compress_gzip(body, self.gzip_level)

    def _holds(self, entry: CachedBundle) -> bool:
        """True if `entry` is still one of the cached entries (it may have been evicted)."""
        return self._entries.get(entry.key) is entry

    def _evict_locked(self, keep: CacheKey | None) -> None:
        """Drop least recently used entries until within budget (never the one just added)."""
        while self._bytes > self.max_bytes and self._entries:
            oldest_key = next(iter(self._entries))
            if oldest_key == keep:
                break
            oldest = self._entries.pop(oldest_key)
            self._bytes -= oldest.size
