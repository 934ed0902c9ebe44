"""A content-addressed cache of scanned dependencies, so a rebuild skips the tokenizers.

Key: the kind of scan plus the sha1 of the file's bytes (so a `git checkout` that only touches
mtimes, or a copy to another machine, still hits). Value: what the scanner found (specifiers
with lines, and for stylesheets the spans of the @import rules). Files are still read and
hashed on every build; only the tokenizing is skipped.

The cache is one JSON file, `.mendel-cache/parse-v<N>.json` under the project root; the folder
carries its own `.gitignore` (`*`). A build rewrites it only when its set of entries changed and
keeps only the entries that build used, so it never grows past the project. Deleting the folder
is always safe.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .._runtime.atomic import write_atomically
from .._runtime.cachedir import make_cache_dir

# 2: tree-sitter scans; JS entries carry lazy specifiers and compiled ES modules
# 3: compiled JS entries carry their reversed edits (a manifest entry's `original`)
# 4: ES modules compile to sealed namespaces and an undefined top-level `this`
# 5: JSX compiles (ES modules and CommonJS); keys of JS entries built with other JSX settings
#    than the defaults carry them
# 6: JS dependencies carry column and kind ([spec, line, column, kind]); `process.env.NODE_ENV`
#    is defined (keys of files that mention NODE_ENV carry the mode); `new URL(.., import.meta.url)`
# Bump it with every change to what the compiler writes: the key is only the file's bytes.
FORMAT_VERSION = 6


class ParseCache:
    """Scan results by content key; load once, `save()` once at the end of a build."""

    def __init__(self, directory: str | None):
        self.directory = directory
        self._stored: dict[str, Any] = self._load() if directory else {}
        self._used: dict[str, Any] = {}

    @classmethod
    def disabled(cls) -> ParseCache:
        return cls(None)

    @property
    def path(self) -> str | None:
        if self.directory is None:
            return None
        return os.path.join(self.directory, f"parse-v{FORMAT_VERSION}.json")

    def get(self, key: str) -> Any | None:
        value = self._stored.get(key)
        if value is not None:
            self._used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self._used[key] = value

    def save(self) -> None:
        """Write the entries this build used, if they differ from what was loaded."""
        directory, path = self.directory, self.path
        if directory is None or path is None or self._used == self._stored:
            return
        try:
            make_cache_dir(directory)
            payload = json.dumps(self._used, sort_keys=True, separators=(",", ":"))
            write_atomically(path, payload.encode("utf-8"))
        except OSError:
            pass  # a read-only checkout still builds; it just won't be faster next time

    def _load(self) -> dict[str, Any]:
        path = self.path
        if path is None:
            return {}
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

