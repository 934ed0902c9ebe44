"""Serving the asset store (`mendel_py.core.assets`): `GET|HEAD <route prefix>a/<digest>/<name>`.

The store is indexed when the middleware starts, the way whitenoise indexes a static folder: each
file's bytes are checked against the digest its folder is named by (a file that fails is left
out and logged), and the 200 and 304 header lists are made then. A request is then one dict
lookup and no disk access: files up to `IN_MEMORY_BYTES` are held in memory; a larger one is
opened and sent through `wsgi.file_wrapper` (sendfile under gunicorn) only while it is still the
file that was checked (same inode, size and mtime), else it is a 404 like an unknown one.

An asset URL names its bytes, so it is cached for a year (`immutable`), its ETag is its digest,
and `If-None-Match` answers 304. Everything else under the asset segment (an unknown digest, a
name other than the stored one, a query string) is a 404 with `Cache-Control: no-store`, as for
bundles. A digest this process has not indexed makes it index the store again once per
generation it serves (a reload, or `mendel dev`'s rebuilds), never per request otherwise.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.http import quote_etag
from werkzeug.wsgi import wrap_file

from ..core.assets import ASSET_DIGEST, ASSET_NAME, ASSET_SEGMENT, DIGEST_LENGTH, content_type, digest_of
from ..packing.compression import best_coders
from .bundles import IMMUTABLE_CACHE_CONTROL
from .http_compat import parse_etags

log = logging.getLogger(__name__)

IN_MEMORY_BYTES = 256 * 1024
# what compresses (images other than SVG, and woff/woff2 fonts, are compressed already)
_COMPRESSIBLE = ("text/", "image/svg+xml", "application/json", "application/wasm", "font/ttf", "font/otf",
                 "image/x-icon", "image/bmp", "application/vnd.ms-fontobject")
_READ_BYTES = 1024 * 1024
Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Encoded:
    """An asset in one content coding: its bytes and its 200 headers."""

    data: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Asset:
    """One checked asset: its name, headers, and its bytes or the file it was checked as; a text
    asset (SVG, fonts, JSON...) held in memory also in the codings that make it smaller."""

    name: str
    etag: str
    headers: tuple[tuple[str, str], ...]
    not_modified_headers: tuple[tuple[str, str], ...]
    data: bytes | None
    path: str
    identity: tuple[int, int, int]  # (inode, size, mtime ns) of the checked file
    encoded: dict[str, Encoded] = field(default_factory=dict)
    etags: tuple[str, ...] = ()  # every coding's ETag, unquoted (any of them answers 304)


class AssetIndex:
    """The assets of one store folder, by (digest, name): files with the same bytes under two
    names are two URLs."""

    def __init__(self, folder: str):
        self.folder = folder
        self.assets: dict[tuple[str, str], Asset] = {}
        self.scan()

    def scan(self) -> None:
        """Index the folder again (whole, then swapped in as one reference)."""
        found: dict[tuple[str, str], Asset] = {}
        try:
            digests = sorted(os.listdir(self.folder))
        except OSError:
            digests = []
        for digest in digests:
            if not ASSET_DIGEST.fullmatch(digest):
                continue
            try:
                names = [name for name in os.listdir(os.path.join(self.folder, digest)) if ASSET_NAME.fullmatch(name)]
            except OSError:
                continue
            for name in sorted(names):
                asset = _checked(os.path.join(self.folder, digest, name), digest, name)
                if asset is not None:
                    found[digest, name] = asset
        self.assets = found

    def get(self, digest: str, name: str, rescan: bool) -> Asset | None:
        asset = self.assets.get((digest, name))
        if asset is None and rescan and ASSET_DIGEST.fullmatch(digest) and ASSET_NAME.fullmatch(name):
            self.scan()
            asset = self.assets.get((digest, name))
        return asset


def _checked(path: str, digest: str, name: str) -> Asset | None:
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            held = handle.read() if stat.st_size <= IN_MEMORY_BYTES else None
            good = (digest_of(held) if held is not None else _file_digest(handle)) == digest
    except OSError as error:
        log.warning("mendel: asset %s can't be read: %s", path, error.strerror)
        return None
    if not good:
        log.error("mendel: asset %s does not match its digest; not served", path)
        return None
    etag = quote_etag(digest)
    kind = content_type(name)
    compressible = held is not None and kind.startswith(_COMPRESSIBLE)
    vary = (("Vary", "Accept-Encoding"),) if compressible else ()
    common = (("Cache-Control", IMMUTABLE_CACHE_CONTROL), ("ETag", etag), *vary)
    headers = (
        ("Content-Type", kind), ("Content-Length", str(stat.st_size)), ("X-Content-Type-Options", "nosniff"), *common,
    )
    encoded: dict[str, Encoded] = {}
    if compressible and held is not None:
        for coding, coder in best_coders().items():
            data = coder.compress(held)
            if len(data) < len(held) * 0.9:
                tag = quote_etag(f"{digest}-{coder.etag_suffix}")
                encoded[coding] = Encoded(data, (
                    ("Content-Type", kind), ("Content-Length", str(len(data))), ("Content-Encoding", coding),
                    ("X-Content-Type-Options", "nosniff"), ("Cache-Control", IMMUTABLE_CACHE_CONTROL),
                    ("ETag", tag), *vary,
                ))
    etags = (digest, *(dict(item.headers)["ETag"].strip('"') for item in encoded.values()))
    return Asset(
        name, etag, headers, common, held, path, (stat.st_ino, stat.st_size, stat.st_mtime_ns), encoded, etags,
    )


def _file_digest(handle: Any) -> str:
    hasher = hashlib.blake2b(digest_size=DIGEST_LENGTH // 2)
    for block in iter(lambda: handle.read(_READ_BYTES), b""):
        hasher.update(block)
    return hasher.hexdigest()


def split_asset_path(path: str, static_prefix: str) -> tuple[str, str] | None:
    """(digest, name) of `<prefix>a/<digest>/<name>`, or None when `path` has not that shape."""
    head = f"{static_prefix}{ASSET_SEGMENT}/"
    if not path.startswith(head):
        return None
    digest, slash, name = path[len(head) :].partition("/")
    # only the asset shape: anything else is the bundle route's (a bundle may be named "a")
    return (digest, name) if slash and name and "/" not in name else None


def serve_asset(
    asset: Asset, environ: dict[str, Any], start_response: Callable[..., Any], coding: str = "identity"
) -> Iterable[bytes] | None:
    """The 200, 304 or HEAD answer for a found asset in `coding` (the middleware's negotiation;
    identity when the asset has no such coding); None when its file is no longer the one
    checked (the caller answers 404)."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        wanted = parse_etags(if_none_match)
        matched = next((tag for tag in asset.etags or (asset.etag.strip('"'),) if wanted.contains(tag)), None)
        if matched is not None:  # the 304 names the representation the client holds
            headers = [(k, quote_etag(matched) if k == "ETag" else v) for k, v in asset.not_modified_headers]
            start_response("304 Not Modified", headers)
            return []
    encoded = asset.encoded.get(coding)
    head = environ.get("REQUEST_METHOD") == "HEAD"
    if encoded is not None:
        start_response("200 OK", list(encoded.headers))
        return [] if head else [encoded.data]
    if head:
        start_response("200 OK", list(asset.headers))
        return []
    if asset.data is not None:
        start_response("200 OK", list(asset.headers))
        return [asset.data]
    try:
        handle = open(asset.path, "rb")
    except OSError:
        return None
    stat = os.fstat(handle.fileno())
    if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != asset.identity:
        handle.close()
        return None
    start_response("200 OK", list(asset.headers))
    return wrap_file(environ, handle, _READ_BYTES)
