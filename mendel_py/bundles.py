"""Packed bundles, ready to serve: one cached representation per (bundle, hash, content coding).

A representation is the body in one coding (identity, gzip or br) with the prebuilt header lists
of its 200 and 304 responses; a warm request is one cache lookup. Only the codings clients ask
for are held, each weighed by its body in the project's one cache (`mendel_py.cache`).

ETags hash nothing: a bundle URL's hash already names the content (it digests every file of the
tree), so the ETag is the hash, the packer's output format and the coder's tag (library, level) --
the same on every host and process. Each coding is its own representation with its own strong
ETag; `If-None-Match` with the ETag of any coding of the same hash answers 304.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from werkzeug.http import parse_etags, quote_etag

from .cache import Cache, CacheStats
from .compression import IDENTITY, Coder, brotli_available, request_path_coders

__all__ = [
    "CSS_CONTENT_TYPE", "DEFAULT_CACHE_BYTES", "IDENTITY", "IMMUTABLE_CACHE_CONTROL",
    "JS_CONTENT_TYPE", "PACK_FORMAT", "BundleCache", "Representation", "brotli_available",
]

JS_CONTENT_TYPE = "application/javascript; charset=utf-8"
CSS_CONTENT_TYPE = "text/css; charset=utf-8"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
# Bump when the packer's output for the same tree changes, so ETags change with it.
PACK_FORMAT = "p1"

Headers = list[tuple[str, str]]
Packer = Callable[[], tuple[bytes, str]]


@dataclass(frozen=True)
class Representation:
    """One content coding of a bundle with the headers of its 200 and 304 responses."""

    body: bytes
    content_type: str
    encoding: str
    etag: str
    headers: Headers
    not_modified_headers: Headers


def _representation(body: bytes, content_type: str, encoding: str, etag: str) -> Representation:
    """Prebuilt header lists for serving `body` (already in `encoding`)."""
    shared = [
        ("Cache-Control", IMMUTABLE_CACHE_CONTROL),
        ("ETag", quote_etag(etag)),
        ("Vary", "Accept-Encoding"),
    ]
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if encoding != IDENTITY:
        headers.append(("Content-Encoding", encoding))
    return Representation(body, content_type, encoding, etag, headers + shared, list(shared))


class BundleCache:
    """Representations by (bundle, hash, coding), bounded by the bytes of their bodies."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        *,
        use_brotli: bool = True,
        coders: Mapping[str, Coder] | None = None,
    ):
        """`coders`: coding -> Coder, best first (default: `request_path_coders(use_brotli)`)."""
        self.coders = dict(coders) if coders is not None else request_path_coders(use_brotli)
        self.encodings: tuple[str, ...] = tuple(self.coders)
        self._cache: Cache[Representation] = Cache(max_bytes, sketch_width=1024)

    @property
    def max_bytes(self) -> int:
        return self._cache.max_bytes

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def total_bytes(self) -> int:
        return self._cache.total_bytes

    def stats(self) -> CacheStats:
        return self._cache.stats()

    def clear(self) -> None:
        self._cache.clear()

    def etag(self, hash: str, encoding: str) -> str:
        """The (unquoted) strong ETag of `hash`'s representation in `encoding`."""
        if encoding == IDENTITY:
            return f"{hash}.{PACK_FORMAT}"
        return f"{hash}.{PACK_FORMAT}.{self.coders[encoding].tag}"

    @staticmethod
    def etag_matches(if_none_match: str, hash: str) -> bool:
        """True if an If-None-Match value names any representation of `hash` (or is ``*``)."""
        etags = parse_etags(if_none_match)
        if etags.star_tag:
            return True
        family = f"{hash}.{PACK_FORMAT}"
        return any(
            tag == family or tag.startswith(family + ".") for tag in etags.as_set(include_weak=True)
        )

    def representation(self, bundle: str, hash: str, encoding: str, pack: Packer) -> Representation:
        """`bundle` at `hash` in `encoding`; on a miss `pack() -> (body, content type)` is called
        (it may raise) and the result, compressed if asked, is cached.

        A coding we don't offer gets identity; a compressed body that isn't smaller than the
        identity body is not served: identity is, under that coding's key.
        """
        if encoding not in self.encodings:
            encoding = IDENTITY
        key = (bundle, hash, encoding)
        found = self._cache.get(key)
        if found is not None:
            return found
        made = self._make(bundle, hash, encoding, pack)
        self._cache.put(key, made, len(made.body))
        return made

    def _make(self, bundle: str, hash: str, encoding: str, pack: Packer) -> Representation:
        plain = self._cache.peek((bundle, hash, IDENTITY))
        if plain is not None and plain.encoding == IDENTITY:
            body, content_type = plain.body, plain.content_type
        else:
            body, content_type = pack()
        if encoding != IDENTITY:
            compressed = self.coders[encoding].compress(body)
            if len(compressed) < len(body):
                return _representation(compressed, content_type, encoding, self.etag(hash, encoding))
        return _representation(body, content_type, IDENTITY, self.etag(hash, IDENTITY))
