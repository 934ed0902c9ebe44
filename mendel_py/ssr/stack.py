"""A JS error's stack, mapped through the tree's source map to the author's `file:line:column`.

Both engines name the evaluated script by a placeholder (`<input>` in QuickJS, `<anonymous>` in
V8) and count lines and columns from 1; a position in the server script's module lines maps
through the source map of the whole tree (`packing.sourcemap.source_map(..., whole=True)`); one in
the lines after them is the sandbox's own runtime. A map is decoded once per tree, on its first
error, and only then.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_POSITION = re.compile(r"(?:<input>|<anonymous>|<eval>):(\d+)(?::(\d+))?")
RUNTIME_NAME = "<mendel ssr runtime>"

Position = tuple[str, int, int]
"""(file, line from 1, column from 1)."""


class DecodedMap:
    """Lookups from (generated line, column) to the original position, both from 0."""

    def __init__(self, source_map: dict[str, Any]):
        self.sources: Sequence[str] = source_map["sources"]
        self.lines: list[list[tuple[int, int, int, int]]] = []
        source = line = column = 0
        for text in source_map["mappings"].split(";"):
            segments: list[tuple[int, int, int, int]] = []
            generated = 0
            for field in text.split(",") if text else ():
                values = _decode(field)
                generated += values[0]
                if len(values) >= 4:
                    source += values[1]
                    line += values[2]
                    column += values[3]
                    segments.append((generated, source, line, column))
            self.lines.append(segments)
        self.last_line = len(self.lines)

    def find(self, line: int, column: int) -> Position | None:
        """The original position of generated (line, column), from 1; None when unmapped."""
        if not 1 <= line <= len(self.lines):
            return None
        segments = self.lines[line - 1]
        at = bisect_right([s[0] for s in segments], max(column - 1, 0)) - 1
        if at < 0:
            if not segments:
                return None
            at = 0
        _generated, source, original_line, original_column = segments[at]
        return self.sources[source], original_line + 1, original_column + 1


def _decode(field: str) -> list[int]:
    values, shift, value = [], 0, 0
    for char in field:
        digit = _BASE64[char]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    return values


def map_stack(stack: str, decoded: DecodedMap, module_lines: int) -> tuple[str, Position | None]:
    """`stack` with each script position replaced by its original `file:line:column` (or the
    runtime's name); and the first mapped position (where the error was thrown)."""
    first: list[Position] = []

    def replace(match: re.Match[str]) -> str:
        line, column = int(match.group(1)), int(match.group(2) or 1)
        if line > module_lines:
            return RUNTIME_NAME
        found = decoded.find(line, column)
        if found is None:
            return RUNTIME_NAME
        if not first:
            first.append(found)
        return f"{found[0]}:{found[1]}:{found[2]}"

    return _POSITION.sub(replace, stack), (first[0] if first else None)
