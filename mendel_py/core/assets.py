"""Assets (images, fonts, other files a stylesheet or script references): the facts the build
that writes them and the middleware that serves them share.

- The store: `mendel build` copies every referenced asset to `<manifests folder>/assets/<digest>/<name>`
  (the manifests folder is the folder that holds the bundles' manifests, the common parent when
  there are several), content-addressed, never overwritten or deleted by a build: a file there
  is named by the digest of its bytes, so a deploy ships the folder with the manifests and every
  URL any generation wrote keeps working.
- The URL: `<route prefix>a/<digest>/<name>` (`/mendel/a/3f2c.../logo.svg`), behind the URL
  prefix when one is set (a CDN origin, `MENDEL_URL_PREFIX`, read by the build as by the server).
  The digest names the bytes (not the variation, not the source path); `name` is the file's own
  name, for the browser's "save as" and the Content-Type.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import posixpath
import re
from collections.abc import Iterable

from .._runtime.atomic import read_or_none, write_atomically

ASSET_SEGMENT = "a"
ASSETS_FOLDER = "assets"
DIGEST_LENGTH = 20  # hex characters: 80 bits of blake2b
ASSET_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,128}")
ASSET_DIGEST = re.compile(f"[0-9a-f]{{{DIGEST_LENGTH}}}")
# What a build treats as an asset when a script imports it (a stylesheet's url() may name any file).
ASSET_EXTENSIONS = frozenset((
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico", ".bmp",
    ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".mp4", ".webm", ".ogg", ".mp3", ".wav", ".flac", ".aac",
    ".pdf", ".txt", ".wasm",
))
_TYPES = {  # what mimetypes may not know on a slim system, or knows otherwise
    ".svg": "image/svg+xml", ".webp": "image/webp", ".avif": "image/avif", ".woff": "font/woff",
    ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf", ".wasm": "application/wasm",
    ".ico": "image/x-icon", ".eot": "application/vnd.ms-fontobject",
}
_TEXT_TYPES = ("text/", "image/svg+xml", "application/javascript", "application/json")


def is_asset(file: str) -> bool:
    """Whether a script's dependency on `file` makes it an asset (its value its URL)."""
    return posixpath.splitext(file)[1].lower() in ASSET_EXTENSIONS


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=DIGEST_LENGTH // 2).hexdigest()


def public_name(file: str) -> str:
    """The name part of an asset URL: the file's name with anything unusual made `_`."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", posixpath.basename(file))[-128:]
    return name.lstrip(".") or "asset"


def content_type(name: str) -> str:
    extension = posixpath.splitext(name)[1].lower()
    found = _TYPES.get(extension) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{found}; charset=utf-8" if found.startswith(_TEXT_TYPES) and "charset" not in found else found


def asset_url_path(static_prefix: str, digest: str, name: str) -> str:
    """The URL path of an asset under a route's fixed prefix (`/mendel/`)."""
    return f"{static_prefix}{ASSET_SEGMENT}/{digest}/{name}"


def store_dir(root: str, manifest_paths: Iterable[str]) -> str:
    """The asset store of a project: `assets/` in the folder of its manifests (their common
    parent), or in the project root when it has no bundles. Manifests served from a generation
    (`mendel_py.core.generations`) find their assets in the generation store's own `assets/`,
    which every generation shares (`mendel build` copies them there before it publishes)."""
    folders = [os.path.dirname(os.path.abspath(path)) for path in manifest_paths]
    parent = os.path.commonpath(folders) if folders else os.path.abspath(root)
    if os.path.exists(os.path.join(parent, "generation.json")):
        parent = os.path.dirname(parent)
    return os.path.join(parent, ASSETS_FOLDER)


def holds_intact(path: str, digest: str) -> bool:
    """Whether the store file at `path` is there with the bytes its `digest` names. A store file
    is skipped only when it is: a truncated or corrupted one (which servers refuse to serve) is
    written again by the next build or publish instead of staying broken for good."""
    data = read_or_none(path)
    return data is not None and digest_of(data) == digest


def copy_store(source: str, target: str) -> int:
    """Add the assets of store `source` that `target` lacks or holds damaged (each checked against
    its digest and put in place atomically); how many. A damaged source file is not copied."""
    added = 0
    try:
        digests = sorted(os.listdir(source))
    except FileNotFoundError:
        return 0
    for digest in digests:
        if not ASSET_DIGEST.fullmatch(digest):
            continue
        for name in os.listdir(os.path.join(source, digest)):
            destination = os.path.join(target, digest, name)
            if not ASSET_NAME.fullmatch(name) or holds_intact(destination, digest):
                continue
            data = read_or_none(os.path.join(source, digest, name))
            if data is None or digest_of(data) != digest:
                continue
            write_atomically(destination, data)
            added += 1
    return added


def url_prefix_from_environment() -> str:
    """The CDN origin (or mount path) bundle URLs get, as the server reads it."""
    return os.environ.get("MENDEL_URL_PREFIX", "").rstrip("/")
