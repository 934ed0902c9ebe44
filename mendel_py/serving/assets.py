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

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.http import quote_etag
from werkzeug.wsgi import wrap_file

from ..core.assets import ASSET_DIGEST, ASSET_NAME, ASSET_SEGMENT, content_type, digest_of
from .bundles import IMMUTABLE_CACHE_CONTROL
from .http_compat import parse_etags

log = logging.getLogger(__name__)

IN_MEMORY_BYTES = 256 * 1024
_READ_BYTES = 1024 * 1024
Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Asset:
    """One checked asset: its name, headers, and its bytes or the file it was checked as."""

    name: str
    etag: str
    headers: tuple[tuple[str, str], ...]
    not_modified_headers: tuple[tuple[str, str], ...]
    data: bytes | None
    path: str
    identity: tuple[int, int, int]  # (inode, size, mtime ns) of the checked file


class AssetIndex:
    """The assets of one store folder, by digest."""

    def __init__(self, folder: str):
        self.folder = folder
        self.assets: dict[str, Asset] = {}
        self.scan()

    def scan(self) -> None:
        """Index the folder again (whole, then swapped in as one reference)."""
        found: dict[str, Asset] = {}
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
            for name in names[:1]:  # one file per digest (its name from the first build that wrote it)
                asset = _checked(os.path.join(self.folder, digest, name), digest, name)
                if asset is not None:
                    found[digest] = asset
        self.assets = found

    def get(self, digest: str, name: str, rescan: bool) -> Asset | None:
        asset = self.assets.get(digest)
        if asset is None and rescan and ASSET_DIGEST.fullmatch(digest):
            self.scan()
            asset = self.assets.get(digest)
        return asset if asset is not None and asset.name == name else None


def _checked(path: str, digest: str, name: str) -> Asset | None:
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            hasher_data = handle.read() if stat.st_size <= IN_MEMORY_BYTES else None
            if hasher_data is not None:
                good = digest_of(hasher_data) == digest
            else:
                good = _file_digest(handle) == digest
    except OSError as error:
        log.warning("mendel: asset %s can't be read: %s", path, error.strerror)
        return None
    if not good:
        log.error("mendel: asset %s does not match its digest; not served", path)
        return None
    etag = quote_etag(digest)
    common = (("Cache-Control", IMMUTABLE_CACHE_CONTROL), ("ETag", etag))
    headers = (
        ("Content-Type", content_type(name)), ("Content-Length", str(stat.st_size)),
        ("X-Content-Type-Options", "nosniff"), *common,
    )
    return Asset(name, etag, headers, common, hasher_data, path, (stat.st_ino, stat.st_size, stat.st_mtime_ns))


def _file_digest(handle: Any) -> str:
    import hashlib

    from ..core.assets import DIGEST_LENGTH

    hasher = hashlib.blake2b(digest_size=DIGEST_LENGTH // 2)
    for block in iter(lambda: handle.read(_READ_BYTES), b""):
        hasher.update(block)
    return hasher.hexdigest()


def split_asset_path(path: str, static_prefix: str) -> tuple[str, str] | None:
    """(digest, name) of `<prefix>a/<digest>/<name>`, or None when `path` is not under the
    asset segment."""
    head = f"{static_prefix}{ASSET_SEGMENT}/"
    if not path.startswith(head):
        return None
    digest, slash, name = path[len(head) :].partition("/")
    return (digest, name) if slash else ("", "")


def serve_asset(
    asset: Asset, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes] | None:
    """The 200, 304 or HEAD answer for a found asset; None when its file is no longer the one
    checked (the caller answers 404)."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match and parse_etags(if_none_match).contains(asset.etag.strip('"')):
        start_response("304 Not Modified", list(asset.not_modified_headers))
        return []
    if environ.get("REQUEST_METHOD") == "HEAD":
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
