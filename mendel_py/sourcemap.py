"""Source maps (revision 3) of packed JS bundles and chunks, for an error tracker or development.

A served bundle names no file: its map does (`sources` are the manifest's project-relative file
paths, `sourcesContent` the sources as packed), so a map is written by `mendel sourcemap` for
upload, or served next to the bundle only in development mode. The packer copies every source
verbatim from column 0 of its own lines, so each token start of a source line maps to the same
line and column of its file: positions are exact for the sources the manifest holds.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from .packer import TreeLike, packer_for

MAP_SUFFIX = ".map"
_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Where a segment starts: each identifier/number run and each other visible character.
_TOKEN = re.compile(r"[\w$]+|\S")


def source_map(tree: TreeLike, file: str, chunk: int | None = None, split: bool = True) -> dict[str, Any]:
    """The map of the tree's bundle script (or of its lazy chunk `chunk`) as a JSON-ready dict.

    `file`: the script's name in the map. `split`: the script leaves lazy parts to chunks (as the
    middleware serves it; `pack_js` without chunk URLs holds them all).
    """
    packer = packer_for(tree.manifest)
    selection = tree.selection
    parts = packer.js_parts(selection, split) if chunk is None else packer.chunk_parts(selection, chunk)
    modules = tree.manifest.modules
    sources = [str(modules[m].entries[j]["file"]) for m, j in parts]
    starts = packer.source_starts(parts)
    return {
        "version": 3,
        "file": file,
        "sources": sources,
        "sourcesContent": [source for _line, source in starts],
        "names": [],
        "mappings": _mappings(starts),
    }


def source_map_bytes(tree: TreeLike, file: str, chunk: int | None = None, split: bool = True) -> bytes:
    """`source_map` as compact UTF-8 JSON."""
    return json.dumps(source_map(tree, file, chunk, split), separators=(",", ":")).encode("utf-8")


def mapping_comment(map_url: str) -> bytes:
    """The line that points a script at its map."""
    return f"//# sourceMappingURL={map_url}\n".encode("utf-8")


def _mappings(starts: Sequence[tuple[int, str]]) -> str:
    """The `mappings` string: per output line, a segment at each token start of a source line.

    Fields are relative to the previous segment; within a line after its first segment only the
    column moves (by the same amount in the script and in the source), so those segments are
    `<delta>AA<delta>`.
    """
    lines: list[str] = []
    previous_source = previous_line = previous_column = 0
    for index, (first_line, source) in enumerate(starts):
        lines.extend([""] * (first_line - len(lines)))
        for number, text in enumerate(source.split("\n")):
            columns = [token.start() for token in _TOKEN.finditer(text)]
            if not columns:
                lines.append("")
                continue
            first = columns[0]
            head = _vlq(first) + _vlq(index - previous_source) + _vlq(number - previous_line) + _vlq(first - previous_column)
            rest = [_vlq(b - a) for a, b in zip(columns, columns[1:])]
            lines.append(",".join([head, *[f"{delta}AA{delta}" for delta in rest]]))
            previous_source, previous_line, previous_column = index, number, columns[-1]
    return ";".join(lines)


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
