"""Source maps (revision 3) of packed JS bundles and chunks, for an error tracker or development.

A served bundle names no file: its map does (`sources` are the manifest's project-relative file
paths, `sourcesContent` the files as written), so a map is written by `mendel sourcemap` for
upload, or served next to the bundle only in development mode. The packer copies every source
verbatim from column 0 of its own lines, so each token start of a source line maps to the same
line and column of its file. A compiled source (an ES module, or a file with `import()`) maps
through its entry's reversed edits (`original.py`) to the file as written: each token the
compiler copied maps to that token's line and column in the file; a reference it rewrote
(`f` -> `(0,__mendel_m0.f)`) maps, with the name, to the identifier it replaced, as rollup
(magic-string's `overwrite`) and esbuild map a renamed reference, so a stack trace at the
rewritten call shows `f`; everything else it wrote (the prologue, `const __mendel_default=`
for `export default`) is explicitly unmapped, as rollup leaves inserted code, rather than
claiming to be some token of the file that it is not.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from ..core.original import Edit, entry_edits, restore, spans
from .packer import TreeLike, packer_for

MAP_SUFFIX = ".map"
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Where a segment starts: each run of ASCII letters, digits, `_` and `$`, and each other visible
# character (as JavaScript's `/[\w$]+|\S/g` splits a line).
_TOKEN = re.compile(r"[\w$]+|\S", re.ASCII)
_NAME = re.compile(r"[A-Za-z_$][\w$]*", re.ASCII)
# Columns count UTF-16 code units (as a browser does): a character beyond U+FFFF counts twice.
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")

Mapped = tuple[int, int, int, str | None]
"""(generated column, original line, original column, name or None), lines and columns from 0."""
Segment = Mapped | tuple[int]
"""A mapped segment, or `(generated column,)`: this text comes from no file."""


def source_map(tree: TreeLike, file: str, chunk: int | None = None, whole: bool = False) -> dict[str, Any]:
    """The map of the tree's bundle script as the middleware serves it (lazy parts left to their
    chunks), or of its lazy chunk `chunk`, as a JSON-ready dict; `file`: the script's name.
    `whole=True`: of a script that defines every module of the tree (the server renderer's)."""
    manifest = tree.manifest
    packer = packer_for(manifest)
    selection = tree.selection
    if whole:
        parts: Sequence[tuple[int, int]] = selection
    else:
        parts = packer.js_parts(selection) if chunk is None else packer.chunk_parts(selection, chunk)
    modules = manifest.modules
    mappings, contents = _Mappings(), []
    for index, ((m, j), (first_line, packed)) in enumerate(zip(parts, packer.source_starts(parts))):
        mappings.pad(first_line)
        edits = entry_edits(manifest, m, j)
        if edits is None or packed != modules[m].entries[j]["source"]:
            # the file itself (or, had the packer to drop a sourceMappingURL comment from a
            # compiled source, that source as packed)
            contents.append(packed)
            mappings.copied(index, packed)
        else:
            written = restore(packed, edits)
            contents.append(written)
            mappings.edited(index, _edited_segments(packed, edits, written))
    return {
        "version": 3,
        "file": file,
        "sources": [str(modules[m].entries[j]["file"]) for m, j in parts],
        "sourcesContent": contents,
        "names": mappings.names,
        "mappings": ";".join(mappings.lines),
    }


def source_map_bytes(tree: TreeLike, file: str, chunk: int | None = None) -> bytes:
    """`source_map` as compact UTF-8 JSON."""
    return json.dumps(source_map(tree, file, chunk), separators=(",", ":")).encode("utf-8")


def mapping_comment(map_url: str) -> bytes:
    """The line that points a script at its map."""
    return f"//# sourceMappingURL={map_url}\n".encode()


def _edited_segments(source: str, edits: Sequence[Edit], written: str) -> list[list[Segment]]:
    """Per line of a compiled `source`, its segments into the file as `written` (see the top)."""
    generated, original = _Lines(source), _Lines(written)
    lines: list[list[Segment]] = [[] for _ in generated.starts]
    for span in spans(source, edits):
        if span.replaced is None:
            for token in _TOKEN.finditer(source, span.start, span.end):
                line, column = generated.position(token.start())
                lines[line].append((column, *original.position(span.at + token.start() - span.start), None))
        elif span.end > span.start and _NAME.fullmatch(span.replaced):
            line, column = generated.position(span.start)
            lines[line].append((column, *original.position(span.at), span.replaced))
        else:
            heads: dict[int, int] = {}  # the first token of each line of the span
            for token in _TOKEN.finditer(source, span.start, span.end):
                line, column = generated.position(token.start())
                heads.setdefault(line, column)
            for line, column in heads.items():
                lines[line].append((column,))
    return lines


class _Lines:
    """A text's line starts, to turn its offsets into (line, UTF-16 column), both from 0."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0, *(match.end() for match in re.finditer("\n", text))]
        self.astral = not text.isascii() and _ASTRAL.search(text) is not None

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        column = offset - start
        return line, column + len(_ASTRAL.findall(self.text, start, offset)) if self.astral else column


class _Mappings:
    """The `mappings` string, one output line at a time, and the `names` it refers to.

    Fields are relative to the previous segment: the generated column within its line, the
    source index, original line, original column and name index across the whole map.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: list[str] = []
        self._name_index: dict[str, int] = {}
        self.source = self.line = self.column = self.name = 0

    def pad(self, line: int) -> None:
        """Empty lines up to output line `line` (from 1), where the next source starts."""
        self.lines.extend([""] * (line - len(self.lines)))

    def copied(self, index: int, source: str) -> None:
        """Source `index`, copied as is: each token start maps to the same line and column.

        Within a line after its first segment only the column moves (by the same amount in the
        script and in the source), so those segments are `<delta>AA<delta>`.
        """
        for number, text in enumerate(source.split("\n")):
            columns = [token.start() for token in _TOKEN.finditer(text)]
            if not text.isascii() and _ASTRAL.search(text):
                columns = [column + len(_ASTRAL.findall(text, 0, column)) for column in columns]
            if not columns:
                self.lines.append("")
                continue
            first = columns[0]
            head = _vlq(first) + _vlq(index - self.source) + _vlq(number - self.line) + _vlq(first - self.column)
            rest = [_vlq(b - a) for a, b in zip(columns, columns[1:])]
            self.lines.append(",".join([head, *[f"{delta}AA{delta}" for delta in rest]]))
            self.source, self.line, self.column = index, number, columns[-1]

    def edited(self, index: int, lines: list[list[Segment]]) -> None:
        """Source `index`, compiled: the given segments of each of its output lines."""
        for segments in lines:
            out, previous = [], 0
            for segment in segments:
                field = _vlq(segment[0] - previous)
                previous = segment[0]
                if len(segment) == 4:
                    _column, line, column, name = segment
                    field += _vlq(index - self.source) + _vlq(line - self.line) + _vlq(column - self.column)
                    self.source, self.line, self.column = index, line, column
                    if name is not None:
                        number = self._name_index.setdefault(name, len(self.names))
                        if number == len(self.names):
                            self.names.append(name)
                        field += _vlq(number - self.name)
                        self.name = number
                out.append(field)
            self.lines.append(",".join(out))


_SMALL = 1024  # VLQ strings of small numbers, looked up rather than encoded


def _vlq(value: int) -> str:
    """One Base64 VLQ number (the source map encoding)."""
    if -_SMALL < value < _SMALL:
        return _VLQ_SMALL[value]
    return _encode_vlq(value)


def _encode_vlq(value: int) -> str:
    number = (-value << 1) | 1 if value < 0 else value << 1
    out = ""
    while True:
        digit, number = number & 31, number >> 5
        out += _BASE64[digit | (32 if number else 0)]
        if not number:
            return out


_VLQ_SMALL = {value: _encode_vlq(value) for value in range(-_SMALL + 1, _SMALL)}
