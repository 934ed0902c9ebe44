"""Replace a file in one step, so a reader never sees it half written (and read one back)."""
from __future__ import annotations

import os
import tempfile

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
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
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
