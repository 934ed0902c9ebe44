"""Compiled manifests kept on disk, so a process starts without parsing and checking them again.

Parsing and validating a manifest is most of a server's start-up: 1.2 s for 30,000 modules (68 MB
of source), of which JSON parsing alone is 0.4 s. The compiled form of a manifest depends only on
its bytes and on this version of mendel_py, so it is kept next to the manifest, as Python keeps
bytecode in `__pycache__`: ``<manifest dir>/.mendel-cache/<manifest name>.<digest>.<python>.bin``,
named by the blake3 of the manifest's bytes. A copied, synced or re-published manifest finds its
compiled form whatever its timestamps, and an edited one never finds a stale form.

A file holds a header (format, mendel_py version, the manifest digest), the blake3 of the payload
and the payload: the `marshal` of the modules' plain fields. It is written once a manifest has been
fully validated (digests included), atomically, by whoever loads it first (`mendel build`,
publishing a generation, a server's start); a missing, unwritable, truncated or corrupt file is
only a slower load. `MENDEL_MANIFEST_CACHE=off` turns it off.
"""
from __future__ import annotations

import functools
import logging
import marshal
import mmap
import os
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

import blake3

from .._runtime.atomic import write_atomically
from .._runtime.cachedir import CACHE_DIR, make_cache_dir

log = logging.getLogger(__name__)

SETTING = "MENDEL_MANIFEST_CACHE"
_FORMAT = 1
_MAGIC = b"MENDELMC"
_DIGEST_BYTES = 32


def enabled() -> bool:
    return os.environ.get(SETTING, "on").strip().lower() not in ("off", "0", "false", "no")


def manifest_digest(raw: bytes | mmap.mmap) -> bytes:
    """The digest a manifest's compiled form is filed under.

    Single-threaded on purpose: blake3's multithreaded mode (`max_threads=AUTO`) starts a thread
    pool in the first process that hashes 64 KB or more, and a process forked from it (a worker
    of gunicorn's preloading master) inherits the pool without its threads, so its next large hash
    waits for ever. One thread hashes a 6 MB manifest in 1.7 ms against 1.0 ms on all cores
    (2-core machine, median of 30): nothing here is worth a deadlock after fork. No code of this
    package starts that pool; keep it so (tests/test_fork_safety.py)."""
    return blake3.blake3(raw).digest()


def file_digest(path: str) -> bytes:
    """`manifest_digest` of the file at `path`, remembered while the file's size, times and inode
    stay the same (as git's index does), so a generation id and then the load don't each read a
    large manifest. A file changed in the last seconds isn't remembered: another write in the same
    clock tick would leave its stat unchanged (git's "racily clean" files)."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
        with _digests_lock:
            found = _digests.get(path)
            if found is not None and found[0] == key:
                _digests.move_to_end(path)
                return found[1]
        if stat.st_size == 0:
            digest = manifest_digest(b"")
        else:
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                digest = manifest_digest(mapped)
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_NS:
        with _digests_lock:
            _digests[path] = (key, digest)
            if len(_digests) > _DIGESTS_KEPT:
                _digests.popitem(last=False)
    return digest


_digests: OrderedDict[str, tuple[tuple[int, ...], bytes]] = OrderedDict()
_digests_lock = threading.Lock()
_DIGESTS_KEPT = 256
_RACY_NS = 2_000_000_000


def read(manifest_path: str, digest: bytes) -> Any | None:
    """The payload kept for the manifest with this digest, or None."""
    path = _path(manifest_path, digest)
    header = _header(digest)
    body = len(header) + _DIGEST_BYTES
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if len(data) < body or data[:len(header)] != header:
                return None
            with memoryview(data) as view, view[body:] as payload:
                if blake3.blake3(payload).digest() != data[len(header):body]:
                    log.warning("mendel: ignoring a corrupt compiled manifest %s", path)
                    return None
                return loads(payload)
    except (OSError, ValueError):  # no file, an empty one (mmap), a directory
        return None
    except (EOFError, TypeError):
        log.warning("mendel: ignoring an unreadable compiled manifest %s", path)
        return None


def dumps(payload: Any) -> bytes:
    """A payload as this cache keeps it (and as `loads` makes it again)."""
    return marshal.dumps(payload)


def loads(body: bytes | memoryview) -> Any:
    return marshal.loads(body)


def write(manifest_path: str, digest: bytes, body: bytes) -> None:
    """Keep `body` (`dumps` of a payload) for the manifest with this digest, replacing older forms
    of that manifest; best effort: a folder that can't be written to only means slower loads."""
    path = _path(manifest_path, digest)
    folder = os.path.dirname(path)
    try:
        make_cache_dir(folder)
        checksum = blake3.blake3(body).digest()
        write_atomically(path, _header(digest), checksum, body)
        _remove_older(folder, os.path.basename(path))
    except OSError as error:
        log.debug("mendel: compiled manifest not kept at %s: %s", path, error)


def _path(manifest_path: str, digest: bytes) -> str:
    folder, name = os.path.split(os.path.abspath(manifest_path))
    return os.path.join(folder, CACHE_DIR, f"{name}.{digest[:12].hex()}.{sys.implementation.cache_tag}.bin")


def _header(digest: bytes) -> bytes:
    """What a file must start with to be read: every input the compiled form depends on."""
    return _MAGIC + _code_version() + digest


@functools.cache
def _code_version() -> bytes:
    """The Python and marshal versions and a digest of the code that validates and compiles
    manifests: a compiled form is only read by the code that would have compiled it the same way."""
    code = blake3.blake3()
    for module in ("manifest.py", "manifest_cache.py"):
        with open(os.path.join(os.path.dirname(__file__), module), "rb") as handle:
            code.update(handle.read())
    return f"{_FORMAT}:{sys.implementation.cache_tag}:{marshal.version}:".encode() + code.digest()[:16]


def _remove_older(folder: str, kept: str) -> None:
    """Drop the other compiled forms of the same manifest (same name, other digests)."""
    manifest_name = kept.rsplit(".", 3)[0]
    for name in os.listdir(folder):
        if name != kept and name.rsplit(".", 3)[0] == manifest_name and name.endswith(".bin"):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
