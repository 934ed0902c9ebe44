"""Packed bundles, ready to serve: one cached representation per (bundle, hash, content coding).

A representation is the body in one coding (identity, gzip or br) with the prebuilt header lists
of its 200 and 304 responses; a warm request is one cache lookup. Only the codings clients ask
for are held, each weighed by its body in the project's one cache (`mendel_py.cache`). An identity
body is kept as the packer's pieces (`mendel_py.body`): a few KB each, and sent in chunks.

ETags hash nothing: a bundle URL's hash already names the content (it digests every file of the
tree), so the ETag is the hash, the packer's output format and the coder's ETag suffix (library, level) --
the same on every host and process. Each coding is its own representation with its own strong
ETag; `If-None-Match` with the ETag of any coding of the same hash answers 304.

With `recompress`, a compressed representation asked for a second time is re-encoded at the best
levels off the request path (`mendel_py.recompress`) and replaces the fast one, with the ETag of
its coder. It is off by default: a URL's bytes and ETag then change once, and hosts behind one CDN
may answer the same URL differently until each has upgraded (all correct, strong ETags name
bytes); it pays where an origin serves bundles itself, many times each.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from werkzeug.http import quote_etag

from .._runtime.allocator import large_blocks_from_heap
from .._runtime.process import current_pid
from ..core.cache import Cache, CacheStats
from ..packing.body import Body
from ..packing.compression import (
    IDENTITY,
    Coder,
    best_coders,
    brotli_available,
    request_path_coders,
)
from .html import integrity_of
from .http_compat import parse_etags
from .metrics import ServingMetrics
from .recompress import Recompressor
from .store import BundleStore

__all__ = [
    "CSS_CONTENT_TYPE", "BUNDLE_CACHE_BYTES", "IDENTITY", "IMMUTABLE_CACHE_CONTROL",
    "JS_CONTENT_TYPE", "PACK_FORMAT", "BundleCache", "PacksBusy", "Representation", "brotli_available",
]

JS_CONTENT_TYPE = "application/javascript; charset=utf-8"
CSS_CONTENT_TYPE = "text/css; charset=utf-8"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
BUNDLE_CACHE_BYTES = 64 * 1024 * 1024
# Bump when the packer's output for the same tree changes, so ETags change with it.
PACK_FORMAT = "p1"
DEFAULT_MAX_COLD_PACKS = 2
"""Bundle requests of one process that may pack or compress at once. A sync worker serves one
request at a time; a threaded one would otherwise let a flood of cold URLs queue without bound,
each holding memory and a thread."""
COLD_PACK_WAITERS = 2
"""Cold requests per slot that may wait for one (a burst of first requests after a deploy is
normal traffic for a CDN origin); past them, or after `COLD_PACK_WAIT_SECONDS`, a 503 (`PacksBusy`)."""
COLD_PACK_WAIT_SECONDS = 0.5
RETRY_AFTER_SECONDS = 1

Headers = list[tuple[str, str]]
Packer = Callable[[], bytes | Body]
PublicPath = Callable[[str, str, str], "str | None"]
"""(bundle, hash, coding) -> the URL path a web server would serve the stored file at, or None."""


class PacksBusy(Exception):
    """Too many cold packs at once in this process: answer 503 with `Retry-After`, queue nothing."""


class _ColdPacks:
    """At most `limit` threads of a process packing at once (a thread's nested packs, e.g. a
    chunk's integrity inside its bundle's pack, hold one slot). Reset in a forked child: a lock
    held by a thread of the parent would never be released there."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("max_cold_packs must be at least 1")
        self.limit = limit
        self._reset()

    def _reset(self) -> None:
        self._pid = current_pid()
        self._freed = threading.Condition(threading.Lock())
        self._running = 0
        self._waiting = 0
        self._depth = threading.local()

    def _acquire(self) -> None:
        with self._freed:
            if self._running >= self.limit:
                if self._waiting >= self.limit * COLD_PACK_WAITERS:
                    raise PacksBusy()
                self._waiting += 1
                try:
                    if not self._freed.wait_for(lambda: self._running < self.limit, COLD_PACK_WAIT_SECONDS):
                        raise PacksBusy()
                finally:
                    self._waiting -= 1
            self._running += 1

    def _release(self) -> None:
        with self._freed:
            self._running -= 1
            self._freed.notify()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for one cold pack: wait a little in a bounded queue when all are taken,
        else raise PacksBusy."""
        if self._pid != current_pid():
            self._reset()
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self._acquire()
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                self._release()


@dataclass(frozen=True)
class Representation:
    """One content coding of a bundle with the headers of its 200 and 304 responses.

    The body is in memory (`content`), or, from a `BundleStore`, in the file at `path` (`content`
    empty).
    """

    content: Body
    content_type: str
    encoding: str
    etag: str
    headers: Headers
    not_modified_headers: Headers
    size: int
    path: str | None = None
    final: bool = True
    """False while a better-compressed representation may still be made (`mendel_py.recompress`)."""

    @property
    def body(self) -> bytes:
        """The body in memory as one `bytes` (joined on each call; servers send `content`)."""
        return self.content.join()

    @property
    def weight(self) -> int:
        """What holding it costs the memory cache: the body, or a small record for a file."""
        return _FILE_RECORD_BYTES if self.path is not None else self.content.weight


_FILE_RECORD_BYTES = 1024
# What one remembered integrity value costs: the ~71-character string and its key, roughly.
_DIGEST_RECORD_BYTES = 256
DIGEST_CACHE_BYTES = 2 * 1024 * 1024


def _representation(
    body: Body, content_type: str, encoding: str, etag: str, path: str | None = None, size: int | None = None,
    final: bool = True,
) -> Representation:
    """Prebuilt header lists for serving `body` (already in `encoding`), or the file at `path`."""
    shared = [
        ("Cache-Control", IMMUTABLE_CACHE_CONTROL),
        ("ETag", quote_etag(etag)),
        ("Vary", "Accept-Encoding"),
        # public bytes without cookies: any page may load them in CORS mode (needed to check
        # Subresource Integrity on a CDN's other origin)
        ("Access-Control-Allow-Origin", "*"),
    ]
    length = len(body) if size is None else size
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("X-Content-Type-Options", "nosniff"),  # a script is a script, a stylesheet a stylesheet
    ]
    if encoding != IDENTITY:
        headers.append(("Content-Encoding", encoding))
    return Representation(body, content_type, encoding, etag, headers + shared, list(shared), length, path, final)


_NO_BODY = Body.wrap(b"")


class BundleCache:
    """Representations by (bundle, hash, coding), bounded by the bytes they hold in memory.

    With a `store`, representations live in files shared by every worker of the host, and the
    memory cache keeps only a small record (path and headers) of each.
    """

    def __init__(
        self,
        max_bytes: int = BUNDLE_CACHE_BYTES,
        *,
        use_brotli: bool = True,
        coders: Mapping[str, Coder] | None = None,
        store: BundleStore | None = None,
        pack_format: str = PACK_FORMAT,
        recompress: bool = False,
        best: Mapping[str, Coder] | None = None,
        max_cold_packs: int = DEFAULT_MAX_COLD_PACKS,
        metrics: ServingMetrics | None = None,
    ):
        """`coders`: coding -> Coder, best first (default: `request_path_coders(use_brotli)`).
        `pack_format`: the ETags' name for how bundles are packed (another for other bytes, e.g.
        development bundles that point at their source maps).
        `recompress`: re-encode representations asked for again with `best` (default:
        `best_coders(use_brotli)`, for the codings offered) on a background thread.
        `max_cold_packs`: how many bounded lookups (`representation(bounded=True)`) of this
        process may pack at once; past it they raise PacksBusy."""
        self.pack_format = pack_format
        self.coders = dict(coders) if coders is not None else request_path_coders(use_brotli)
        self.encodings: tuple[str, ...] = tuple(self.coders)
        best = best if best is not None else best_coders(use_brotli)
        self.best: dict[str, Coder] = {
            coding: coder for coding, coder in best.items()
            if recompress and coding in self.coders and coder.etag_suffix != self.coders[coding].etag_suffix
        }
        self.recompressor = Recompressor() if self.best else None
        self.store = store
        self.metrics = metrics if metrics is not None else ServingMetrics(self.encodings)
        if store is not None:
            store.on_bad_file = self.metrics.bad_store_file
        self.public_path: PublicPath | None = None
        """Set by the middleware: where a stored representation is linked for a web server."""
        self._cold = _ColdPacks(max_cold_packs)
        self._cache: Cache[Representation] = Cache(max_bytes, sketch_width=1024)
        self._digests: Cache[str] = Cache(DIGEST_CACHE_BYTES, sketch_width=1024)

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
        self._digests.clear()

    def held(self, bundle: str, hash: str, encoding: str) -> bool:
        """True when the representation is in memory (the next lookup is a hit)."""
        if encoding not in self.encodings:
            encoding = IDENTITY
        return self._cache.peek((bundle, hash, encoding)) is not None

    def forget(self, bundle: str, hash: str, encoding: str) -> None:
        """Drop one representation from memory (e.g. its stored file was evicted meanwhile)."""
        self._cache.pop((bundle, hash, encoding))

    def etag(self, hash: str, encoding: str, coder: Coder | None = None) -> str:
        """The (unquoted) strong ETag of `hash`'s representation in `encoding` (made by `coder`,
        default the request path's)."""
        if encoding == IDENTITY:
            return f"{hash}.{self.pack_format}"
        return f"{hash}.{self.pack_format}.{(coder or self.coders[encoding]).etag_suffix}"

    def etag_matches(self, if_none_match: str, hash: str) -> bool:
        """True if an If-None-Match value names any representation of `hash` (or is ``*``)."""
        etags = parse_etags(if_none_match)
        if etags.star_tag:
            return True
        family = f"{hash}.{self.pack_format}"
        return any(
            etag == family or etag.startswith(family + ".") for etag in etags.as_set(include_weak=True)
        )

    def integrity(self, bundle: str, hash: str, pack: Packer) -> str:
        """The Subresource Integrity value of `bundle` at `hash`, computed once (its identity
        bytes from memory or the store if held there, else `pack()`), then remembered."""
        key = (bundle, hash)
        found = self._digests.get(key)
        if found is None:
            found = integrity_of(self._identity_body(bundle, hash, pack))
            self._digests.put(key, found, _DIGEST_RECORD_BYTES)
        return found

    def representation(
        self, bundle: str, hash: str, encoding: str, content_type: str, pack: Packer, bounded: bool = False,
    ) -> Representation:
        """`bundle` at `hash` in `encoding`; on a miss `pack()` makes the identity body (it may
        raise), and the result, compressed if asked, is cached (and stored, with a store).
        `bounded`: a miss takes one of the process's cold-pack slots, or raises PacksBusy.

        A coding we don't offer gets identity; a compressed body that isn't smaller than the
        identity body is not served: identity is, under that coding's key.
        """
        if encoding not in self.encodings:
            encoding = IDENTITY
        key = (bundle, hash, encoding)
        found = self._cache.get(key)
        if found is not None:
            if not found.final and self.recompressor is not None:
                self.recompressor.submit(key, lambda: self._recompress(key, found, pack))
            return found
        with self._cold.slot() if bounded else contextlib.nullcontext():
            if self.store is None:
                body, made_encoding = self._encoded(self._identity_body(bundle, hash, pack), encoding)
                made = _representation(body, content_type, made_encoding, self.etag(hash, made_encoding),
                                       final=made_encoding not in self.best)
            else:
                made = self._stored(self.store, bundle, hash, encoding, content_type, pack)
        self._cache.put(key, made, made.weight)
        return made

    def _recompress(self, key: tuple[str, str, str], current: Representation, pack: Packer) -> None:
        """Swap `current` for the same bundle encoded by the best coder (a background job)."""
        bundle, hash, encoding = key
        coder = self.best[encoding]
        etag = self.etag(hash, encoding, coder)

        def smaller() -> bytes | None:
            body = _compressed(coder, self._identity_body(bundle, hash, pack))
            return body if len(body) < current.size else None

        better: Representation | None
        if self.store is None:
            body = smaller()
            better = None if body is None else _representation(Body.wrap(body), current.content_type, encoding, etag)
        else:
            better = self._stored_file(self.store, bundle, etag, encoding, current.content_type, smaller,
                                       url_path=self._public(bundle, hash, encoding))
        if better is None:  # not smaller: keep what there is, and stop trying
            better = replace(current, final=True)
        if self._cache.peek(key) is current:  # not evicted or replaced meanwhile
            self._cache.put(key, better, better.weight)

    def _stored(
        self, store: BundleStore, bundle: str, hash: str, encoding: str, content_type: str, pack: Packer
    ) -> Representation:
        """The representation's file, made once per host (the best-coded one when a worker of
        the host already made that)."""
        best = self.best.get(encoding)
        if best is not None:
            found = self._stored_file(store, bundle, self.etag(hash, encoding, best), encoding, content_type)
            if found is not None:
                return found
        plain = _NO_BODY

        def make() -> Body | None:
            nonlocal plain
            plain = self._identity_body(bundle, hash, pack, keep=encoding != IDENTITY)
            body, made_encoding = self._encoded(plain, encoding)
            return body if made_encoding == encoding else None

        made = self._stored_file(
            store, bundle, self.etag(hash, encoding), encoding, content_type, make, final=encoding not in self.best,
            url_path=self._public(bundle, hash, encoding),
        )
        if made is None:  # compression didn't pay: serve (and store) identity
            return self._stored(store, bundle, hash, IDENTITY, content_type, lambda: plain)
        return made

    def _public(self, bundle: str, hash: str, encoding: str) -> str | None:
        return self.public_path(bundle, hash, encoding) if self.public_path is not None else None

    @staticmethod
    def _stored_file(
        store: BundleStore, bundle: str, etag: str, encoding: str, content_type: str,
        make: Callable[[], bytes | Body | None] | None = None, final: bool = True, url_path: str | None = None,
    ) -> Representation | None:
        """The stored (verified) file of the representation with `etag`: found, or made by `make`
        (once per host; a bad file is made again); None when there is none (or `make` gave
        nothing). A body that could not be written (a full disk) is served from memory."""
        name = store.file_name(bundle, etag)
        if make is None:
            size = store.size(name)
            return None if size is None else _representation(
                _NO_BODY, content_type, encoding, etag, store.path(name), size, final=final)
        stored = store.made_once(name, make, url_path)
        if stored is None:
            return None
        if stored.body is not None:
            return _representation(stored.body, content_type, encoding, etag, final=final)
        return _representation(_NO_BODY, content_type, encoding, etag, store.path(name), stored.size, final=final)

    def _encoded(self, body: Body, encoding: str) -> tuple[Body, str]:
        """(body, coding it is in): compressed in `encoding`, or identity when that isn't smaller."""
        if encoding != IDENTITY:
            started = time.perf_counter()
            compressed = _compressed(self.coders[encoding], body)
            self.metrics.compressed(encoding, time.perf_counter() - started)
            if len(compressed) < body.size:
                return Body.wrap(compressed), encoding
        return body, IDENTITY

    def _identity_body(self, bundle: str, hash: str, pack: Packer, keep: bool = False) -> Body:
        """The identity body: from memory or the store if held there, else packed (and, if
        `keep`, stored, so that other workers need not pack it for another coding)."""
        held = self._cache.peek((bundle, hash, IDENTITY))
        if held is not None and held.path is None and held.encoding == IDENTITY:
            return held.content
        if self.store is None:
            return self._packed(pack)
        name = self.store.file_name(bundle, self.etag(hash, IDENTITY))
        stored = self.store.read(name)  # verified against its digest, else None
        if stored is not None:
            return Body.wrap(stored)
        body = self._packed(pack)
        if keep:
            self.store.write(name, body, self._public(bundle, hash, IDENTITY))  # False: kept in memory only
        return body

    def _packed(self, pack: Packer) -> Body:
        started = time.perf_counter()
        body = Body.wrap(pack())
        self.metrics.pack_seconds.observe(time.perf_counter() - started)
        return body


def _compressed(coder: Coder, body: Body) -> bytes:
    """`body` compressed by `coder`, its working memory reused from call to call (`allocator`)."""
    with large_blocks_from_heap():
        return coder.compress(body.contiguous())
