"""A manifest entry's `original`: how its compiled `source` goes back to the file as written.

`mendel build` compiles ES modules (and CommonJS files that call `import()`), so the `source`
of such an entry is not the author's file. The entry then carries the compiler's edits,
reversed, as `original`: a string holding the JSON array `[[start, end, text], ...]`, each edit
saying that `source[start:end]` was written by the compiler where the file has `text`. Offsets
count Unicode code points of `source`; the edits are sorted and don't overlap. Whatever lies
between two edits is the file's own text, moved only by the edits before it. So one list gives
both the file (for a source map's `sourcesContent`) and where each piece of the compiled source
came from.

It is one string, not nested arrays, for the servers that load a manifest and never read it:
parsing a 30,000-module manifest makes one object per entry for it instead of four per edit
(about 5x less memory and parse time). Entries whose `source` is the file (CommonJS, JSON, CSS)
have no `original`. It is decoded only when a source map is made, and checked by `mendel
validate`, never while a manifest loads.

A minified entry has one edit per removed run of whitespace (each kept token must stay a copy of
the file's text for its map to be exact), so its `original` has the compact form, the same edits
as one JSON object `{"n": 2, "d": "<base64>", "t": "..."}`: three numbers per edit, `gap` from
the end of the previous edit (or 0) to its start, `width` = `end - start` and the `length` of its
text, as unsigned little-endian integers of `n` bytes (2, or 4 when one is 65536 or more),
base64-encoded; `t` holds all the texts one after another. The same list in 40% fewer bytes, made
and read without a Python object per number (the numbers are packed by `array`), so encoding it,
and writing and reading the manifest and parse cache that hold it, is cheaper. `decode` reads both
forms.
"""
from __future__ import annotations

import base64
import binascii
import json
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ManifestError

if TYPE_CHECKING:
    from .manifest import Manifest

Edit = tuple[int, int, str]
"""`(start, end, text)`: `source[start:end]` stands where the file has `text`."""

FIELD = "original"


class Span(NamedTuple):
    """A piece of a compiled source, `source[start:end]`.

    `replaced is None`: copied from the file, where it starts at offset `at`. Otherwise the
    compiler wrote it in place of the file's text `replaced`, which starts at offset `at`.
    """

    start: int
    end: int
    at: int
    replaced: str | None


def spans(source: str, edits: Sequence[Edit]) -> Iterator[Span]:
    """`source` cut into copied and written spans, in order (empty copied spans left out)."""
    position = at = 0
    for start, end, text in edits:
        if start > position:
            yield Span(position, start, at, None)
            at += start - position
        yield Span(start, end, at, text)
        position, at = end, at + len(text)
    if position < len(source):
        yield Span(position, len(source), at, None)


def restore(source: str, edits: Sequence[Edit]) -> str:
    """The file as written: `source` with every edit undone."""
    return "".join(source[s.start:s.end] if s.replaced is None else s.replaced for s in spans(source, edits))


def encode(edits: Sequence[Edit]) -> str:
    """The `original` field's value for these edits."""
    return json.dumps(list(edits), ensure_ascii=False, separators=(",", ":"))  # (tuples are arrays too)


def encode_compact(edits: Sequence[Edit]) -> str:
    """The `original` field's value for these edits, in the compact form."""
    numbers: list[int] = []
    extend = numbers.extend
    texts: list[str] = []
    append = texts.append
    previous = 0
    for start, end, text in edits:
        extend((start - previous, end - start, len(text)))
        append(text)
        previous = end
    return compact(numbers, "".join(texts))


def compact(numbers: list[int], texts: str) -> str:
    """The compact form's string from its two parts (for a caller that made them itself)."""
    return compact_packed(*pack(numbers), texts)


def pack(numbers: list[int]) -> tuple[int, bytes]:
    """(bytes per number, the numbers as the compact form packs them): unsigned little-endian
    integers of 2 bytes, or of 4 when one is 65536 or more."""
    try:
        packed = array("H", numbers)
    except OverflowError:
        packed = array("I", numbers)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.itemsize, packed.tobytes()


def unpack(width: int, packed: bytes) -> list[int]:
    """The numbers of `pack`'s result."""
    numbers = array("H" if width == 2 else "I")
    numbers.frombytes(packed)
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tolist()


def compact_packed(width: int, packed: bytes, texts: str) -> str:
    """The compact form's string from `pack`'s result and the texts: what `json.dumps` makes of
    {"n": width, "d": base64, "t": texts} (`ensure_ascii=False`, no spaces), written directly."""
    digits = binascii.b2a_base64(packed, newline=False).decode("ascii")
    return f'{{"n":{width},"d":"{digits}","t":{json.dumps(texts, ensure_ascii=False)}}}'


def _unpack(size: object, digits: object) -> list[int] | None:
    """The numbers of a compact form's `n` and `d`, or None when they are not such."""
    if type(size) is not int or size not in (2, 4) or not isinstance(digits, str):
        return None
    try:
        raw = base64.b64decode(digits, validate=True)
    except ValueError:
        return None
    if len(raw) % size:
        return None
    return unpack(size, raw)


def decode(value: str) -> list[Edit]:
    """The edits of an `original` value of either form (unchecked: see `problem`)."""
    loaded = json.loads(value)
    if isinstance(loaded, dict):
        return expand(_unpack(loaded["n"], loaded["d"]) or [], loaded["t"])
    return [(start, end, text) for start, end, text in loaded]


def expand(numbers: Sequence[int], texts: str) -> list[Edit]:
    """The edits of a compact form's numbers (gap, width, length per edit) and texts."""
    edits: list[Edit] = []
    append = edits.append
    position = offset = 0
    for index in range(0, len(numbers) - 2, 3):
        start = position + numbers[index]
        position = start + numbers[index + 1]
        length = numbers[index + 2]
        append((start, position, texts[offset:offset + length]))
        offset += length
    return edits


def problem(source: str, value: Any) -> str | None:
    """What is wrong with `value` as the `original` of an entry with this `source`, if anything."""
    try:
        edits = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        edits = None
    if isinstance(edits, dict):
        numbers, texts = _unpack(edits.get("n"), edits.get("d")), edits.get("t")
        if numbers is None or len(numbers) % 3 or not isinstance(texts, str):
            return 'must be {"n": 2 or 4, "d": base64 of (gap, width, length) per edit, "t": texts}'
        if sum(numbers[2::3]) != len(texts):
            return f'"t" must hold the edits\' texts ({sum(numbers[2::3])} code points), not {len(texts)}'
        edits = [list(edit) for edit in expand(numbers, texts)]
    if not isinstance(edits, list):
        return "must be a string holding a JSON array of [start, end, text] edits"
    position = 0
    for index, edit in enumerate(edits):
        if not (
            isinstance(edit, list) and len(edit) == 3
            and all(type(offset) is int for offset in edit[:2]) and isinstance(edit[2], str)
        ):
            return f"[{index}] must be [start, end, text] (two integers and a string)"
        start, end, _text = edit
        if not position <= start <= end <= len(source):
            return (
                f"[{index}] = [{start}, {end}, ...] must lie within the source ({len(source)} code"
                f" points) after the previous edit (which ends at {position})"
            )
        position = end
    return None


def entry_edits(manifest: Manifest, m: int, j: int) -> list[Edit] | None:
    """The checked `original` of data entry `j` of module `m` (None when its source is the file).

    A malformed one is a ManifestError naming the manifest file, the module and the field.
    """
    module = manifest.modules[m]
    entry = module.entries[j]
    value = entry.get(FIELD)
    if value is None:
        return None
    found = problem(str(entry.get("source") or ""), value)
    if found is not None:
        field = f"data[{j}].{FIELD}"
        raise ManifestError(f'bundles[{m}] ("{module.id}"): {field} {found}', manifest.path, module.id, field)
    return decode(value)


def check_manifest(manifest: Manifest) -> None:
    """Check every entry's `original` (what `mendel validate` adds to loading a manifest)."""
    for m, module in enumerate(manifest.modules):
        for j in range(len(module.entries)):
            entry_edits(manifest, m, j)
