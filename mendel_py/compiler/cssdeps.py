"""Find the `@import` rules of a stylesheet (string and `url(...)` forms) and strip them.

Comments and strings are skipped as whole tokens, and only rules outside any `{}` block count,
so an `@import` inside a comment, a string or a nested block is not a dependency. A CSS bundle is
served as its modules' sources concatenated by `order` (imports first), so the imports that the
build resolved to modules are removed from the source written to the manifest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BuildError
from .jsdeps import line_of

_INTERESTING = re.compile(r"""/\*|['"{}]|@import\b""", re.IGNORECASE)
_STRINGS = {
    "'": re.compile(r"'(?:[^'\\\n\r]|\\(?:\r\n|[\s\S]))*'"),
    '"': re.compile(r'"(?:[^"\\\n\r]|\\(?:\r\n|[\s\S]))*"'),
}
_IMPORT_RULE = re.compile(
    r"""@import\s*(?:
        url\(\s*(?:"(?P<url_double>[^"\n]*)"|'(?P<url_single>[^'\n]*)'|(?P<url_bare>[^)'"\s]*))\s*\)
        | "(?P<double>[^"\n]*)"
        | '(?P<single>[^'\n]*)'
    )[^;{}]*;[ \t]*(?:\r?\n)?""",
    re.IGNORECASE | re.VERBOSE,
)
_REMOTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


@dataclass(frozen=True)
class CssImport:
    """One `@import` rule: the specifier, its line, and the span of the whole rule."""

    spec: str
    line: int
    start: int
    end: int

    @property
    def is_remote(self) -> bool:
        """An absolute URL (`https://...`, `//cdn/...`, `data:...`): left to the browser."""
        return bool(_REMOTE.match(self.spec))


def find_imports(text: str, file: str) -> list[CssImport]:
    """Every top-level `@import` rule of a stylesheet, in source order."""
    imports: list[CssImport] = []
    depth = 0
    position = 0
    while True:
        match = _INTERESTING.search(text, position)
        if match is None:
            return imports
        token, start = match.group(), match.start()
        if token == "/*":
            end = text.find("*/", start + 2)
            if end < 0:
                raise BuildError("unterminated comment", file, line_of(text, start))
            position = end + 2
        elif token in _STRINGS:
            string = _STRINGS[token].match(text, start)
            if string is None:
                raise BuildError("unterminated string", file, line_of(text, start))
            position = string.end()
        elif token in "{}":
            depth = depth + 1 if token == "{" else max(depth - 1, 0)
            position = start + 1
        elif depth:
            position = match.end()
        else:
            rule = _import_rule(text, start, file)
            imports.append(rule)
            position = rule.end


def _import_rule(text: str, start: int, file: str) -> CssImport:
    match = _IMPORT_RULE.match(text, start)
    if match is None:
        raise BuildError(
            "malformed @import: expected @import \"file.css\"; or @import url(file.css);",
            file,
            line_of(text, start),
        )
    spec = next(value for value in match.groupdict().values() if value is not None)
    return CssImport(spec, line_of(text, start), start, match.end())


def strip_imports(text: str, imports: list[CssImport]) -> str:
    """`text` without the given `@import` rules (each with the rest of its line)."""
    pieces: list[str] = []
    position = 0
    for rule in imports:
        pieces.append(text[position : rule.start])
        position = rule.end
    pieces.append(text[position:])
    return "".join(pieces)
