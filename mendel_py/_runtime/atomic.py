"""Replace a file in one step, so a reader never sees it half written (and read one back)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence

TEMP_PREFIX = ".tmp-"
"""How a file being written is named until it is renamed into place (a folder's scan skips it)."""


def read_bytes(path: str) -> bytes:
    """The file's bytes (OSError as `open` raises it)."""
    with open(path, "rb") as handle:
        return handle.read()


def read_or_none(path: str) -> bytes | None:
    """The file's bytes, or None when it can't be read (missing, say)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def write_atomically(path: str, *chunks: bytes) -> None:
    """Write `chunks` (one after the other) to a temporary file next to `path`, then rename it
    over `path`."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    try:
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
        except OSError as exc:  # a failed write() names no file: "No space left on device" must say where
            raise exc if exc.filename else OSError(exc.errno, exc.strerror, path) from None
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_set_atomically(
    files: Sequence[tuple[str, bytes]], on_step: Callable[[str, str], None] | None = None
) -> None:
    """Replace several files as nearly at once as a file system allows: every file is written
    to a temporary next to it and flushed to disk first, and only then are they renamed into
    place, back to back. A failure (a full disk, a kill) while writing leaves every file as it
    was; only the renames, microseconds apart, can be cut between two files. `on_step(step,
    path)` is called after each ("written", path) and ("renamed", path) (fault-injection tests)."""
    staged: list[tuple[str, str]] = []
    try:
        for path, data in files:
            folder = os.path.dirname(path) or "."
            os.makedirs(folder, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
            staged.append((temporary, path))
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:  # say where (a failed write() names no file)
                raise exc if exc.filename else OSError(exc.errno, exc.strerror, path) from None
            os.chmod(temporary, _mode_for(path))
            if on_step is not None:
                on_step("written", path)
        while staged:
            temporary, path = staged[0]
            os.replace(temporary, path)
            staged.pop(0)
            if on_step is not None:
                on_step("renamed", path)
    except BaseException:
        for temporary, _ in staged:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        raise


def _mode_for(path: str) -> int:
    """Keep an existing file's permissions; a new file gets the usual rw-r--r--."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o644
