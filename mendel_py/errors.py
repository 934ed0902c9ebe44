"""Exception types raised by mendel_py; every one carries the location it is about."""
from __future__ import annotations


class MendelError(Exception):
    """Base class of every error mendel_py raises on purpose."""


class StartupError(MendelError, RuntimeError):
    """A fault in the project's files, found while loading them: an expected error whose one-line
    message names the file and the key or module. It is also a RuntimeError because servers report
    those as one line (gunicorn with `preload_app`: ``Error: <message>``, exit status 1)."""


class ConfigError(StartupError):
    """A `.mendelrc` (or config dict) is missing, malformed or inconsistent."""

    def __init__(self, message: str, path: str | None = None, key: str | None = None):
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ManifestError(StartupError):
    """A manifest file can't be read or fails validation; names file, module and field."""

    def __init__(self, message: str, path: str, module: str | None = None, field: str | None = None):
        self.path = path
        self.module = module
        self.field = field
        super().__init__(f"{path}: {message}")


class BundleNotFound(MendelError, LookupError):
    """A bundle id that no loaded manifest provides."""

    def __init__(self, bundle: str, known: tuple[str, ...] = ()):
        self.bundle = bundle
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown bundle {bundle!r}{hint}")


class WalkError(MendelError):
    """A walk by variations reached a branch point that no lookup chain resolves."""

    def __init__(self, bundle: str, module: str, message: str):
        self.bundle = bundle
        self.module = module
        super().__init__(f"bundle {bundle!r}: module {module!r}: {message}")


class HashError(MendelError):
    """A bundle hash that can't be decoded or doesn't match the tree.

    `code` is one of BADHASH (malformed), TRVRSL (doesn't fit the tree), HASHMISS (re-encoding
    differs), as in mendel-core.
    """

    CODES = ("BADHASH", "TRVRSL", "HASHMISS")

    def __init__(self, code: str, message: str):
        assert code in self.CODES, code
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class HashLimitError(MendelError):
    """A tree can't be written in the requested hash format (a Mendel v1/v2 field overflows)."""
