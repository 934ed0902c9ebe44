"""The one error type of `mendel build`: a message plus the file, line and column it is about,
and the one formatter of its code frame (the CLI and the dev overlay both show `describe()`).

    src/base/main.js:3:17: cannot resolve import "./missing"
      2 | import a from "./a";
    > 3 | import missing from "./missing";
        |                 ^
      4 | a(missing);
"""
from __future__ import annotations

import os

from ..errors import MendelError

FRAME_WIDTH = 100  # characters of a long (minified) line shown around the column


class BuildError(MendelError):
    """A source file, bundle entry or dependency that can't be turned into a manifest."""

    fields = ("file", "line", "column", "frame")

    def __init__(self, message: str, file: str | None = None, line: int | None = None, column: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.column = column if line else None  # 1-based, in characters
        self.frame: str | None = None  # set by `add_frame` once the project root is known
        super().__init__(f"{self.location}: {message}" if self.location else message)

    @property
    def location(self) -> str:
        """`file:line:column`, `file:line`, `file`, or "" when the error is about no file."""
        if self.file and self.line:
            return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")
        return self.file or ""

    def add_frame(self, root: str) -> BuildError:
        """Read the file (relative to `root`) and keep the code frame of the error's line."""
        if self.file and self.line and self.frame is None:
            try:
                with open(os.path.join(root, *self.file.split("/")), encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                return self
            self.frame = code_frame(text, self.line, self.column) or None
        return self

    def describe(self) -> str:
        """The message and, when there is one, the code frame under it."""
        return f"{self}\n{self.frame}" if self.frame else str(self)


def code_frame(text: str, line: int, column: int | None = None) -> str:
    """The line before, the line, the line after (numbered, `>` at the line), and a caret under
    `column` (1-based characters); a long line is cut to `FRAME_WIDTH` characters around it."""
    lines = text.lstrip("\ufeff").splitlines()
    if not 1 <= line <= len(lines):
        return ""
    width = len(str(min(line + 1, len(lines))))
    start = 0
    if column and len(lines[line - 1]) > FRAME_WIDTH:
        start = max(0, column - 1 - FRAME_WIDTH // 2)
    out = []
    for number in range(max(1, line - 1), min(len(lines), line + 1) + 1):
        shown = lines[number - 1]
        if len(shown) > FRAME_WIDTH:
            shown = ("…" if start else "") + shown[start : start + FRAME_WIDTH] + "…"
        out.append(f"{'>' if number == line else ' '} {number:>{width}} | {shown}".rstrip())
        if number == line and column:
            before = lines[line - 1][start : column - 1]
            pad = "".join("\t" if char == "\t" else " " for char in before)
            out.append(f"  {' ' * width} | {' ' if start else ''}{pad}^")
    return "\n".join(out)


def column_of(text: str, position: int) -> int:
    """The 1-based character column of `position` in `text`."""
    return position - (text.rfind("\n", 0, position) + 1) + 1


def node_column(source: bytes, byte_offset: int) -> int:
    """The 1-based character column of a byte offset in UTF-8 `source` (tree-sitter counts bytes)."""
    line_start = source.rfind(b"\n", 0, byte_offset) + 1
    return len(source[line_start:byte_offset].decode("utf-8", "replace")) + 1
