"""An on-disk store of packed bundle representations, shared by the workers of a host.

Optional (`MendelMiddleware(store_dir=...)`, Flask `MENDEL_STORE_DIR`). With it, N workers and a
restart don't each pack and compress the same bundle: the first one to need a representation
makes it under a per-name lock (`fcntl.flock` on one of a fixed set of lock files, never
deleted) and every other worker then finds the file. Bodies are served from the file through
`wsgi.file_wrapper`, so gunicorn can `sendfile` them and the bytes live once per host, in the
page cache, instead of once per worker.

- Content-addressed: a file's name is the representation's ETag (bundle, hash, pack format,
  coder tag), and the hash names the content, so a name never gets other bytes.
- Verified: a file's blake3 digest and size, taken from the bytes in memory as they are written,
  go in a small record beside it (``.sums/<name>``). A process checks a file against its record
  the first time it uses it (`check`); a file that fails (flipped, truncated, emptied, or with no
  record) is never served: it is made again and replaced, and the failure is logged once per
  file and process. `verify` checks every file (the `mendel store verify` command).
- Atomic: written to a temporary file in the same folder, then `os.replace`d into place; a
  reader sees the whole old file, the whole new one or none.
- Best effort: a write that fails (a full disk, a read-only mount) is logged once with its path
  and the caller serves the body from memory; a store is a cache, never a reason to fail.
- Bounded in bytes: past `max_bytes`, the least recently used files (by mtime, which a worker
  refreshes when it first finds a file) are deleted under a store-wide lock. A worker that has
  a deleted file open still serves it whole (POSIX keeps the inode until closed).
- Optionally public (`public=True`): each representation that has a URL is also linked, after it
  is complete and its record written, to ``public/<URL path>`` (``.gz``/``.br`` beside the
  identity file), a tree a web server can serve directly (examples/nginx.conf). The link is the
  same inode as the stored file, so it costs no space and goes when the file is evicted.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import blake3

from .._runtime.atomic import TEMP_PREFIX, write_atomically
from .._runtime.process import current_pid
from ..packing.body import Body

log = logging.getLogger(__name__)

DEFAULT_STORE_BYTES = 1024 * 1024 * 1024
_LOCK_STRIPES = 64
_STALE_TEMP_SECONDS = 600
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
_LOCK_FOLDER = ".locks"
SUMS_FOLDER = ".sums"
PUBLIC_FOLDER = "public"
_READ_CHUNK = 1024 * 1024
NO_RECORD = "no digest record"


@dataclass(frozen=True)
class Record:
    """What a stored file must be: its digest and size, and where its public link is (if any)."""

    digest: str
    size: int
    public: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps({"blake3": self.digest, "size": self.size, "public": self.public}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Record | None:
        """The record, or None when it is not one (a truncated or foreign file)."""
        try:
            data = json.loads(raw)
            digest, size, public = data["blake3"], data["size"], data.get("public")
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(digest, str) and isinstance(size, int) and (public is None or isinstance(public, str))):
            return None
        return cls(digest, size, public)


@dataclass(frozen=True)
class Stored:
    """What `BundleStore.made_once` gives: the size of the verified file, or, when it could not
    be stored (a full disk), the body itself to serve from memory."""

    size: int
    body: Body | None = None


@dataclass(frozen=True)
class Problem:
    """One bad file `BundleStore.verify` found."""

    name: str
    reason: str
    removed: bool


class BundleStore:
    """Files by name in one folder, written once, verified, bounded in bytes, safe across processes."""

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_STORE_BYTES, *, public: bool = False,
    ):
        if max_bytes <= 0:
            raise ValueError("a bundle store needs max_bytes > 0")
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self.public = public
        os.makedirs(os.path.join(self.directory, _LOCK_FOLDER), exist_ok=True)
        os.makedirs(os.path.join(self.directory, SUMS_FOLDER), exist_ok=True)
        self._thread_lock = threading.Lock()
        self._approx_bytes = self._scan_bytes()
        self._reset_process_state()
        self.on_bad_file: Callable[[str, str], None] | None = None
        """Called with (name, reason) for each bad file found (metrics); the log line is here."""

    def _reset_process_state(self) -> None:
        # what this process has checked: name -> (inode, size, mtime) of the file it found good. A
        # forked worker starts afresh, so each process checks a file before it first serves it,
        # and a file written to since (its mtime moved: a flip in place) is checked again.
        self._pid = current_pid()
        self._verified: dict[str, tuple[int, int, int]] = {}
        self._logged: set[str] = set()

    @staticmethod
    def file_name(*parts: str) -> str:
        """A file name for a key made of `parts` (kept readable when safe, else a digest)."""
        name = ".".join(parts)
        if _SAFE_NAME.fullmatch(name) and not name.startswith("."):
            return name
        return hashlib.blake2b(name.encode("utf-8"), digest_size=20).hexdigest()

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def record_path(self, name: str) -> str:
        return os.path.join(self.directory, SUMS_FOLDER, name)

    def public_path(self, url_path: str) -> str | None:
        """Where the public link of the file served at `url_path` goes (None: not a safe path)."""
        relative = url_path.lstrip("/")
        if not relative or posixpath.normpath(relative) != relative or relative.startswith(".."):
            return None
        if any(part.startswith(".") for part in relative.split("/")):
            return None
        return os.path.join(self.directory, PUBLIC_FOLDER, *relative.split("/"))

    def record(self, name: str) -> Record | None:
        try:
            with open(self.record_path(name), "rb") as handle:
                return Record.from_bytes(handle.read(4096))
        except OSError:
            return None

    # --- reading ----------------------------------------------------------------------------

    def size(self, name: str) -> int | None:
        """The stored file's size once it is verified (refreshing its recency), or None when there
        is none or it failed its check (then it is logged once and left for a rewrite)."""
        path = self.path(name)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        if not self._checked(name, stat):
            return None
        try:  # the recency eviction goes by; the check above saw the file as it was before
            os.utime(path)
            self._remember(name, os.stat(path))
        except FileNotFoundError:
            return None
        return stat.st_size

    def read(self, name: str) -> bytes | None:
        """The stored file's bytes when they are what was written (else None: make them again)."""
        try:
            with open(self.path(name), "rb") as handle:
                data = handle.read()
                stat = os.fstat(handle.fileno())
        except FileNotFoundError:
            return None
        record = self.record(name)
        problem = _problem(record, data)
        if problem is not None:
            self._bad(name, problem)
            return None
        self._remember(name, stat)
        return data

    def still_good(self, name: str, stat: os.stat_result) -> bool:
        """True when the open file (`stat` from its fstat) is the one this process verified, as
        it was then: a file replaced, truncated, grown or written to since is checked again."""
        if self._pid != current_pid():
            self._reset_process_state()
        if self._verified.get(name) == (stat.st_ino, stat.st_size, stat.st_mtime_ns):
            return True
        return self._checked(name, stat, check_path=True)

    def _checked(self, name: str, stat: os.stat_result, check_path: bool = False) -> bool:
        """Verify the file against its record unless this process did for this very file.
        `check_path`: `stat` is of an open file; it must also be the one at the path."""
        if self._pid != current_pid():
            self._reset_process_state()
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._verified.get(name) == key:
            return True
        problem = self.problem(name)
        if problem is None and check_path:
            try:
                now = os.stat(self.path(name))
            except FileNotFoundError:
                return False
            if (now.st_ino, now.st_size, now.st_mtime_ns) != key:
                return False  # replaced or written to meanwhile: look it up again
        if problem is not None:
            self._bad(name, problem)
            return False
        self._verified[name] = key
        return True

    def problem(self, name: str) -> str | None:
        """Why the stored file `name` is not what was written (None: it is)."""
        record = self.record(name)
        if record is None:
            return NO_RECORD
        hasher = blake3.blake3()
        size = 0
        try:
            with open(self.path(name), "rb") as handle:
                while chunk := handle.read(_READ_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            return "missing"
        if size != record.size:
            return f"size {size}, written {record.size}"
        if hasher.hexdigest() != record.digest:
            return "digest mismatch"
        return None

    def _remember(self, name: str, stat: os.stat_result) -> None:
        if self._pid != current_pid():
            self._reset_process_state()
        self._verified[name] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _bad(self, name: str, reason: str) -> None:
        self._verified.pop(name, None)
        if name in self._logged:  # once per file and process: a flood logs one line
            return
        self._logged.add(name)
        if self.on_bad_file is not None:
            self.on_bad_file(name, reason)
        if reason == NO_RECORD:  # a store written before records existed: one line, not one a file
            if NO_RECORD not in self._logged:
                self._logged.add(NO_RECORD)
                log.warning("mendel bundle store: files in %s without a digest record (e.g. %s) are made "
                            "again as they are asked for", self.directory, name)
            return
        log.error("mendel bundle store: %s failed its check (%s); not served, made again", self.path(name), reason)

    # --- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Hold the cross-process lock that guards making `name` (one of a fixed set of stripes)."""
        stripe = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=2).digest(), "big")
        with self._flock(f"stripe-{stripe % _LOCK_STRIPES}"):
            yield

    def made_once(
        self, name: str, make: Callable[[], bytes | Body | None], url_path: str | None = None,
    ) -> Stored | None:
        """The stored (verified) file `name`, made by `make()` first when missing or bad: under the
        name's lock, so one process of the host makes it. None when `make` gives nothing to keep;
        the body itself (`Stored.body`) when it could not be written."""
        size = self.size(name)
        if size is not None:
            return Stored(size)
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(self.locked(name))
            except OSError as error:  # the lock folder is unwritable: make it here, unshared
                self._log_write_failure(name, error)
                body = make()
                return None if body is None else Stored(len(body), Body.wrap(body))
            size = self.size(name)
            if size is not None:  # another process made it meanwhile
                return Stored(size)
            body = make()
            if body is None:
                return None
            if not self.write(name, body, url_path):
                return Stored(len(body), Body.wrap(body))
            return Stored(len(body))

    def write(self, name: str, body: bytes | Body, url_path: str | None = None) -> bool:
        """Store `body` under `name` atomically with its record (and its public link, if the store
        is public and `url_path` given), then keep the store within its budget. False (logged once)
        when it could not be written: the caller serves `body` from memory."""
        body = Body.wrap(body)
        public = self.public_path(url_path) if self.public and url_path else None
        try:
            self._write_file(name, body, os.path.relpath(public, self.directory) if public else None)
            if public is not None:
                _link_atomically(self.path(name), public)
        except OSError as error:
            self._log_write_failure(name, error)
            return False
        with self._thread_lock:
            self._approx_bytes += body.size
            over = self._approx_bytes > self.max_bytes
        with contextlib.suppress(FileNotFoundError):
            self._remember(name, os.stat(self.path(name)))
        if over:
            with contextlib.suppress(OSError):
                self.evict()
        return True

    def _write_file(self, name: str, body: Body, public: str | None) -> None:
        """Write `body` to a temporary file and hash the very bytes written, then write the
        record, then rename the file into place: a crash before the rename leaves a record without
        a file (harmless) or a temporary file (swept by `evict`); a file is never in place
        without the record that checks it, nor at another size than the body's."""
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=TEMP_PREFIX)
        try:
            # laid out once in the thread's scratch buffer (`Body.contiguous`: the loop over a
            # bundle's thousands of parts runs in C), then hashed and written in one call each
            data = body.contiguous()
            try:
                digest = blake3.blake3(data).hexdigest()
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    if os.fstat(out.fileno()).st_size != body.size:
                        raise OSError(errno.EIO, "short write", temporary)
            finally:
                if isinstance(data, memoryview):
                    data.release()
            os.chmod(temporary, 0o644)
            write_atomically(self.record_path(name), Record(digest, body.size, public).to_bytes())
            os.replace(temporary, self.path(name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _log_write_failure(self, name: str, error: OSError) -> None:
        key = f"write:{error.errno}"
        if key not in self._logged:  # once per kind of failure and process, with the path
            self._logged.add(key)
            where = error.filename or self.path(name)
            log.error("mendel bundle store: can't write %s (%s); serving from memory",
                      where, os.strerror(error.errno) if error.errno else error)

    def remove(self, name: str) -> None:
        """Delete a stored file, its record and its public link."""
        record = self.record(name)
        if record is not None and record.public:
            public = os.path.join(self.directory, record.public)
            with contextlib.suppress(OSError):
                # only its own link: a better coding may have been linked there since
                if os.path.samefile(public, self.path(name)):
                    os.unlink(public)
            with contextlib.suppress(OSError):  # the hash's folder, when it is empty now
                os.rmdir(os.path.dirname(public))
        for path in (self.path(name), self.record_path(name)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._verified.pop(name, None)

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
                    files.append((stat.st_mtime, stat.st_size, entry.name))
            total = sum(size for _mtime, size, _name in files)
            for _mtime, size, name in sorted(files):
                if total <= self.max_bytes:
                    break
                self.remove(name)
                total -= size
            with self._thread_lock:
                self._approx_bytes = total

    # --- checking everything ----------------------------------------------------------------

    def verify(self, remove: bool = True) -> tuple[int, list[Problem]]:
        """Check every stored file against its record, and every public link against its file:
        (files checked, problems). With `remove`, a bad file goes with its record and link (the
        next request makes it again); records without a file and stray public files go too."""
        problems: list[Problem] = []
        checked = 0
        names = set()
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith((TEMP_PREFIX, ".")):
                    names.add(entry.name)
        linked: set[str] = set()
        for name in sorted(names):
            checked += 1
            reason = self.problem(name)
            record = self.record(name)
            if reason is None and record is not None and record.public:
                public = os.path.join(self.directory, record.public)
                linked.add(os.path.normpath(public))
                if os.path.exists(public) and not os.path.samefile(public, self.path(name)):
                    reason = "public file is not the stored file"
            if reason is not None:
                if remove:
                    self.remove(name)
                problems.append(Problem(name, reason, remove))
        sums = os.path.join(self.directory, SUMS_FOLDER)
        for name in os.listdir(sums):
            if name not in names and not name.startswith(TEMP_PREFIX) and remove:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(sums, name))  # a record whose file went (harmless)
        public_root = os.path.join(self.directory, PUBLIC_FOLDER)
        for folder, _dirs, files in os.walk(public_root):
            for file in files:
                path = os.path.normpath(os.path.join(folder, file))
                if path in linked:
                    continue
                checked += 1
                relative = os.path.relpath(path, self.directory)
                if remove:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                problems.append(Problem(relative, "public file with no stored file", remove))
        return checked, problems

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


def _problem(record: Record | None, data: bytes) -> str | None:
    """Why `data` is not what `record` says was written (None: it is)."""
    if record is None:
        return NO_RECORD
    if len(data) != record.size:
        return f"size {len(data)}, written {record.size}"
    if blake3.blake3(data).hexdigest() != record.digest:
        return "digest mismatch"
    return None


def _link_atomically(source: str, target: str) -> None:
    """Make `target` another name of the complete file `source`, replacing what is there in one
    step (a hard link renamed into place: a web server sees the old file, the new one or none)."""
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f"{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{os.path.basename(target)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    try:
        os.link(source, temporary)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if error.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK):  # no hard links here: a copy
            with open(source, "rb") as handle:
                write_atomically(target, handle.read())
        else:
            raise
