"""Exception types raised by mendel_py; every one carries the location it is about."""
from __future__ import annotations

from typing import Any


class MendelError(Exception):
    """Base class of every error mendel_py raises on purpose."""

    fields: tuple[str, ...] = ()
    """The attributes that locate the error (file, key, module, ...), for machine output."""

    def describe(self) -> str:
        """What a person reads: the message, and whatever helps under it (a build error's code
        frame). The CLI and the dev overlay show this."""
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        """`{"type", "message", <set location fields>}`: the JSON shape of every error."""
        details: dict[str, Any] = {"type": type(self).__name__, "message": str(self)}
        for name in self.fields:
            value = getattr(self, name)
            if value is not None:
                details[name] = value
        return details


class StartupError(MendelError, RuntimeError):
    """A fault in the project's files, found while loading them: an expected error whose one-line
    message names the file and the key or module. It is also a RuntimeError because servers report
    those as one line (gunicorn with `preload_app`: ``Error: <message>``, exit status 1)."""


class ConfigError(StartupError):
    """A `.mendelrc` (or config dict) is missing, malformed or inconsistent."""

    fields: tuple[str, ...] = ("path", "key")

    def __init__(self, message: str, path: str | None = None, key: str | None = None):
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ManifestError(StartupError):
    """A manifest file can't be read or fails validation; names file, module and field."""

    fields: tuple[str, ...] = ("path", "module", "field")

    def __init__(self, message: str, path: str, module: str | None = None, field: str | None = None):
        self.path = path
        self.module = module
        self.field = field
        super().__init__(f"{path}: {message}")


class GenerationError(StartupError):
    """A stored generation is missing a file, unreadable, or doesn't match its id (changed or
    corrupted after the deploy step published it): refused, as a broken manifest is."""

    fields: tuple[str, ...] = ("path",)

    def __init__(self, message: str, path: str):
        self.path = path
        super().__init__(message)


class BundleNotFound(MendelError, LookupError):
    """A bundle id that no loaded manifest provides."""

    fields: tuple[str, ...] = ("bundle",)

    def __init__(self, bundle: str, known: tuple[str, ...] = ()):
        self.bundle = bundle
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown bundle {bundle!r}{hint}")


class WalkError(MendelError):
    """A walk by variations reached a branch point that no lookup chain resolves."""

    fields: tuple[str, ...] = ("bundle", "module")

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
    fields: tuple[str, ...] = ("code",)

    def __init__(self, code: str, message: str):
        if code not in self.CODES:
            raise ValueError(f"unknown HashError code {code!r} (known: {', '.join(self.CODES)})")
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class HashLimitError(MendelError):
    """A tree can't be written in the requested hash format (a Mendel v1/v2 field overflows)."""
