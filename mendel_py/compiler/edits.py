"""Edit lists: apply forward edits, and chain the reversed edits of two compile steps into one.

A compile step turns a text into another by edits; what it records is the reversed form that a
manifest entry's `original` carries (`mendel_py/core/original.py`): `(start, end, text)`, the
output's `[start:end]` was written where the input has `text`. When the input of one step is the
output of another (TypeScript erased, then the ES module compiled, then minified), `compose`
gives the edits from the last output straight back to the file as written, so a source map still
points every copied token at its own line and column in the file.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from operator import itemgetter

from ..core.original import Edit, restore

__all__ = ["Edit", "apply", "compose"]


def apply(source: str, edits: Sequence[tuple[int, int, str]]) -> tuple[str, list[Edit]]:
    """`source` with the forward edits `(start, end, new text)` applied (sorted, not
    overlapping; offsets in code points), and the reversed edits of the result."""
    parts: list[str] = []
    reversed_edits: list[Edit] = []
    position = length = 0
    for start, end, text in edits:
        if start > position:
            parts.append(source[position:start])
            length += start - position
        parts.append(text)
        reversed_edits.append((length, length + len(text), source[start:end]))
        length += len(text)
        position = end
    parts.append(source[position:])
    return "".join(parts), reversed_edits


def compose(outer_source: str, outer: Sequence[Edit], middle: str, inner: Sequence[Edit]) -> list[Edit]:
    """The reversed edits from `outer_source` to the first text, given `outer` (from
    `outer_source` to `middle`) and `inner` (from `middle` to the first text).

    Edits of both steps are ranges of `middle`; ranges that overlap (or an insertion strictly
    inside another's range) become one edit, the outer text of the whole range against the
    first text's; elsewhere each step's edits pass through, moved to outer offsets.
    """
    if not inner:
        return list(outer)
    return _compose_edits(len(outer_source), outer, middle, inner)


def _compose_edits(length: int, outer: Sequence[Edit], middle: str, inner: Sequence[Edit]) -> list[Edit]:
    """`compose` without cutting the text into spans: what cutting the text into spans and
    clustering them does, on the outer edits and their middle offsets alone (a test holds it
    equal to that reference, the algorithm of earlier versions). A minified ES module has
    hundreds of the minifier's edits and a few of the compiler's; most edits meet none of the
    other step's and pass through (outer ones as they are, inner ones moved by bisection), so
    the spans, about 2 ms a module, are never made."""
    starts: list[int] = []  # each outer edit's middle offset
    shift = 0
    for start, end, replaced in outer:
        starts.append(start - shift)
        shift += (end - start) - len(replaced)
    items = [(at, at + len(edit[2]), 0, k) for k, (at, edit) in enumerate(zip(starts, outer))]
    items += [(first, last, 1, index) for index, (first, last, _text) in enumerate(inner)]
    items.sort()  # (by range; ties: outer before inner, each in its own order)
    out: list[Edit] = []
    cluster: list[tuple[int, int, int, int]] = []
    low = high = -1
    for item in items:
        start, end = item[0], item[1]
        if cluster and low < high and (start < high if end > start else low < start < high):
            cluster.append(item)
            if end > high:
                high = end
            continue
        if cluster:
            _flush(cluster, out, length, outer, starts, middle, inner)
        cluster = [item]
        low, high = start, end
    if cluster:
        _flush(cluster, out, length, outer, starts, middle, inner)
    out.sort(key=_range)  # (stable: ties keep their order)
    return out


def _flush(
    cluster: list[tuple[int, int, int, int]], out: list[Edit], length: int, outer: Sequence[Edit],
    starts: list[int], middle: str, inner: Sequence[Edit],
) -> None:
    """The composed edits of one cluster of meeting edits (most are one edit alone)."""
    if len(cluster) == 1:
        first, last, step, index = cluster[0]
        if step == 0:  # an outer edit that meets no inner one passes through
            out.append(outer[index])
        elif first == last:  # an inner insertion, where its place in the outer text is
            place = _outer_offset(outer, starts, length, first)
            out.append((place, place, inner[index][2]))
        else:  # an inner edit over copied text
            out.append((_outer_offset(outer, starts, length, first),
                        _outer_offset(outer, starts, length, last - 1) + 1, inner[index][2]))
        return
    first = cluster[0][0]
    last = max(item[1] for item in cluster)
    written = [item[3] for item in cluster if item[2] == 0]  # outer edits, by index
    if first == last:  # insertions only, at one place
        for k in written:
            out.append((outer[k][0], outer[k][1], ""))
        texts = [inner[item[3]][2] for item in cluster if item[2] == 1]
        if texts:
            position = min((outer[k][0] for k in written), default=None)
            if position is None:
                position = _outer_offset(outer, starts, length, first)
            out.append((position, position, "".join(texts)))
        return
    begins = [outer[k][0] for k in written if starts[k] == first]
    ends = [outer[k][1] for k in written]
    begin = min(begins) if begins else _outer_offset(outer, starts, length, first)
    if not any(starts[k] + len(outer[k][2]) == last and outer[k][2] for k in written):
        ends.append(_outer_offset(outer, starts, length, last - 1) + 1)
    shifted = sorted((
        (inner[item[3]][0] - first, inner[item[3]][1] - first, inner[item[3]][2])
        for item in cluster if item[2] == 1
    ), key=_range)
    out.append((begin, max(ends), restore(middle[first:last], shifted)))


def _outer_offset(outer: Sequence[Edit], starts: list[int], length: int, position: int) -> int:
    """The outer offset of the middle text's offset `position`: inside copied text, where it was
    copied from; inside or at the end of an edit's written text, that edit's end; at the start of
    an edit's range, where the copied text before it ends."""
    j = bisect_right(starts, position) - 1
    if j < 0:  # in the copied text before the first edit
        return position
    start, end, replaced = outer[j]
    copied_at = starts[j] + len(replaced)  # where the copied text after edit j starts, in middle
    next_start = outer[j + 1][0] if j + 1 < len(outer) else length
    if next_start > end and copied_at <= position:  # in that copied text
        return end + position - copied_at
    if starts[j] < position:  # inside or at the end of the text edit j wrote
        return end
    # at the start of edit j's range: where the copied text before it ends, back over edits
    # that start at the same place with nothing copied between
    i = j
    while i > 0 and outer[i - 1][1] == outer[i][0] and starts[i - 1] == position:
        i -= 1
    return outer[i][0]


_range = itemgetter(0, 1)
