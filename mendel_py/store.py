"""An on-disk store of packed bundle representations, shared by the workers of a host.

Optional (`MendelMiddleware(store_dir=...)`, Flask `MENDEL_STORE_DIR`). With it, N workers and a
restart don't each pack and compress the same bundle: the first one to need a representation
makes it under a per-name lock (`fcntl.flock` on one of a fixed set of lock files, never
deleted) and every other worker then finds the file. Bodies are served from the file through
`wsgi.file_wrapper`, so gunicorn can `sendfile` them and the bytes live once per host, in the
page cache, instead of once per worker.

- Content-addressed: a file's name is the representation's ETag (bundle, hash, pack format,
  coder tag), and the hash names the content, so a name never gets other bytes.
- Atomic: written to a temporary file in the same folder, then `os.replace`d into place; a
  reader sees the whole old file, the whole new one or none.
- Bounded in bytes: past `max_bytes`, the least recently used files (by mtime, which a worker
  refreshes when it first finds a file) are deleted under a store-wide lock. A worker that has
  a deleted file open still serves it whole (POSIX keeps the inode until closed).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator

from .atomic import TEMP_PREFIX, write_atomically
from .body import Body

DEFAULT_STORE_BYTES = 1024 * 1024 * 1024
_LOCK_STRIPES = 64
_STALE_TEMP_SECONDS = 600
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_LOCK_FOLDER = ".locks"


class BundleStore:
    """Files by name in one folder, written once, bounded in bytes, safe across processes."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_STORE_BYTES):
        if max_bytes <= 0:
            raise ValueError("a bundle store needs max_bytes > 0")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        os.makedirs(os.path.join(self.directory, _LOCK_FOLDER), exist_ok=True)
        self._thread_lock = threading.Lock()
        self._approx_bytes = self._scan_bytes()

    @staticmethod
    def file_name(*parts: str) -> str:
        """A file name for a key made of `parts` (kept readable when safe, else a digest)."""
        name = ".".join(parts)
        if _SAFE_NAME.fullmatch(name) and not name.startswith("."):
            return name
        return hashlib.blake2b(name.encode("utf-8"), digest_size=20).hexdigest()

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def size(self, name: str) -> int | None:
        """The stored file's size (refreshing its recency), or None when there is none."""
        path = self.path(name)
        try:
            os.utime(path)
            return os.stat(path).st_size
        except FileNotFoundError:
            return None

    def read(self, name: str) -> bytes | None:
        try:
            with open(self.path(name), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Hold the cross-process lock that guards making `name` (one of a fixed set of stripes)."""
        stripe = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=2).digest(), "big")
        with self._flock(f"stripe-{stripe % _LOCK_STRIPES}"):
            yield

    def made_once(self, name: str, make: Callable[[], bytes | Body | None]) -> int | None:
        """The size of the stored file `name`, made by `make()` first when missing: under the
        name's lock, so one process of the host makes it. None when `make` gives nothing to keep."""
        size = self.size(name)
        if size is None:
            with self.locked(name):
                size = self.size(name)
                if size is None:
                    body = make()
                    if body is not None:
                        self.write(name, body)
                        size = len(body)
        return size

    def write(self, name: str, body: bytes | Body) -> None:
        """Store `body` under `name` atomically, then keep the store within its budget."""
        write_atomically(self.path(name), *Body.wrap(body).chunks())
        with self._thread_lock:
            self._approx_bytes += len(body)
            over = self._approx_bytes > self.max_bytes
        if over:
            self.evict()

    def evict(self) -> None:
        """Delete least recently used files until the store is within `max_bytes`."""
        with self._flock("evict"):
            files = []
            now = time.time()
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                    if entry.name.startswith(TEMP_PREFIX):
                        if now - stat.st_mtime > _STALE_TEMP_SECONDS:  # a crashed writer's
                            with contextlib.suppress(FileNotFoundError):
                                os.unlink(entry.path)
                        continue
                    files.append((stat.st_mtime, stat.st_size, entry.path))
            total = sum(size for _mtime, size, _path in files)
            for _mtime, size, path in sorted(files):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                total -= size
            with self._thread_lock:
                self._approx_bytes = total

    @property
    def total_bytes(self) -> int:
        """Bytes of stored files as this process last counted them (others may have written)."""
        return self._approx_bytes

    def _scan_bytes(self) -> int:
        with os.scandir(self.directory) as entries:
            return sum(
                entry.stat(follow_symlinks=False).st_size
                for entry in entries
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith(TEMP_PREFIX)
            )

    @contextlib.contextmanager
    def _flock(self, lock_name: str) -> Iterator[None]:
        path = os.path.join(self.directory, _LOCK_FOLDER, lock_name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # also excludes other threads: each opens its own fd
            yield
        finally:
            os.close(fd)  # closing releases the lock
