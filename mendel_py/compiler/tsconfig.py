"""`tsconfig.json` `compilerOptions.paths` and `baseUrl`, as the resolver honours them.

Read once per build from the project root (the `.mendelrc` folder), when there is one. A bare
specifier that a `paths` pattern matches (`"@ui/*": ["src/ui/*"]`, the longest prefix first, as
TypeScript picks) resolves to the pattern's targets, in order; then, with a `baseUrl`, to
`baseUrl/<specifier>`; only then to `node_modules`. Targets are paths from the project root;
one inside the base folder is a module id there, so variations override it like any other file.
`extends` is not followed. The file may have comments and trailing commas (as tsc allows).
"""
from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass

from .errors import BuildError

FILE = "tsconfig.json"
# strings (kept), then // and /* */ comments and commas before a closing bracket (dropped)
_JSONC = re.compile(r'("(?:[^"\\]|\\.)*")|//[^\n]*|/\*[\s\S]*?\*/|,(?=\s*[\]}])')


@dataclass(frozen=True)
class TsPaths:
    """The mapping of one tsconfig: `paths` patterns and targets, and the base folder."""

    base: str  # baseUrl (or the tsconfig's folder), from the project root ("" for the root)
    patterns: tuple[tuple[str, tuple[str, ...]], ...]
    has_base_url: bool

    @classmethod
    def load(cls, root: str) -> TsPaths | None:
        path = os.path.join(root, FILE)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            return None
        try:
            data = json.loads(_JSONC.sub(lambda match: match.group(1) or "", text))
        except ValueError as error:
            raise BuildError(f"unreadable {FILE}: {error}", FILE) from None
        options = data.get("compilerOptions") if isinstance(data, dict) else None
        if not isinstance(options, dict):
            return None
        base_url = options.get("baseUrl")
        paths = options.get("paths")
        if not isinstance(base_url, str) and not isinstance(paths, dict):
            return None
        base = posixpath.normpath(base_url.replace("\\", "/")) if isinstance(base_url, str) else "."
        patterns = []
        for pattern, targets in (paths or {}).items():
            if isinstance(pattern, str) and isinstance(targets, list):
                patterns.append((pattern, tuple(target for target in targets if isinstance(target, str))))
        patterns.sort(key=lambda item: len(item[0].split("*")[0]), reverse=True)
        return cls("" if base == "." else base, tuple(patterns), isinstance(base_url, str))

    def candidates(self, spec: str) -> list[str]:
        """The project-root paths `spec` maps to, in the order TypeScript tries them."""
        found: list[str] = []
        for pattern, targets in self.patterns:
            prefix, star, suffix = pattern.partition("*")
            if star:
                if not (spec.startswith(prefix) and spec.endswith(suffix) and len(spec) >= len(prefix) + len(suffix)):
                    continue
                middle = spec[len(prefix):len(spec) - len(suffix)]
                found += [self._under_base(target.replace("*", middle, 1)) for target in targets]
            elif spec == pattern:
                found += [self._under_base(target) for target in targets]
            if found:
                break
        if self.has_base_url:
            found.append(self._under_base(spec))
        return [path for path in found if not path.startswith("..")]

    def _under_base(self, target: str) -> str:
        normal = posixpath.normpath(posixpath.join(self.base, target.replace("\\", "/")))
        return "" if normal == "." else normal
