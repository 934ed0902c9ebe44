"""`edits.compose`: the reversed edits of two chained steps, as one list from the last text back
to the first, must give the first text back and keep every copied span a copy of it."""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from mendel_py.compiler.edits import apply, compose
from mendel_py.core.original import Edit, Span, problem, restore, spans


@st.composite
def edited(draw: st.DrawFn, text: str) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping forward edits of `text` (insertions, deletions, replacements)."""
    edits, position = [], 0
    while position <= len(text) and draw(st.booleans()):
        start = draw(st.integers(position, len(text)))
        end = draw(st.integers(start, min(len(text), start + 4)))
        new = draw(st.sampled_from(["", "x", "yy", "\n", " ", "zzz"]))
        if start == end and not new:
            continue
        edits.append((start, end, new))
        position = end + draw(st.integers(0, 1))
    return edits


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_composed_edits_give_the_first_text_back_exactly(data: st.DataObject) -> None:
    first = data.draw(st.text(alphabet="ab\n é", max_size=30))
    middle, inner = apply(first, data.draw(edited(first)))
    last, outer = apply(middle, data.draw(edited(middle)))
    assert restore(middle, inner) == first and restore(last, outer) == middle
    composed = compose(last, outer, middle, inner)
    assert problem(last, json.dumps([list(edit) for edit in composed])) is None  # sorted, in range
    assert restore(last, composed) == first
    for span in spans(last, composed):
        if span.replaced is None:  # what the composed list calls copied is the first text's own
            assert last[span.start:span.end] == first[span.at:span.at + span.end - span.start]


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_composing_without_spans_gives_what_the_spans_give(data: st.DataObject) -> None:
    """`compose` (on the edits alone) and `reference_compose` (its reference, on the text cut into
    spans) give the same edits in the same order."""
    first = data.draw(st.text(alphabet="ab\n é", max_size=60))
    middle, inner = apply(first, data.draw(edited(first)))
    last, outer = apply(middle, data.draw(edited(middle)))
    if inner:
        assert compose(last, outer, middle, inner) == reference_compose(last, outer, middle, inner)


def reference_compose(outer_source: str, outer: Sequence[Edit], middle: str, inner: Sequence[Edit]) -> list[Edit]:
    """`compose` as earlier versions made it, by cutting `outer_source` into spans (the reference
    the edits-only `compose` must match edit for edit, so manifests stay byte for byte)."""
    all_spans = list(spans(outer_source, outer))
    span_at = [span.at for span in all_spans]
    items: list[tuple[int, int, int, int]] = []  # (middle start, middle end, 0 outer / 1 inner, index)
    for index, span in enumerate(all_spans):
        if span.replaced is not None:
            items.append((span.at, span.at + len(span.replaced), 0, index))
    for index, (start, end, _) in enumerate(inner):
        items.append((start, end, 1, index))
    items.sort()  # (by range; ties in the order added: outer before inner, each in its own order)
    clusters: list[list[tuple[int, int, int, int]]] = []
    low = high = -1
    for item in items:
        start, end = item[0], item[1]
        if clusters and low < high and (start < high if end > start else low < start < high):
            clusters[-1].append(item)
            if end > high:
                high = end
        else:
            clusters.append([item])
            low, high = start, end
    out: list[Edit] = []
    for cluster in clusters:
        if len(cluster) == 1:  # (most are: what the general case below makes of one edit)
            first, last, step, index = cluster[0]
            if step == 0:  # an outer edit that meets no inner one passes through
                span = all_spans[index]
                out.append((span.start, span.end, middle[first:last]))
            elif first == last:  # an inner insertion, where its place in the outer text is
                place = _outer_at(all_spans, span_at, first, len(outer_source))
                out.append((place, place, inner[index][2]))
            else:  # an inner edit over copied text
                start = _outer_at(all_spans, span_at, first, len(outer_source))
                end = _outer_at(all_spans, span_at, last - 1, len(outer_source)) + 1
                out.append((start, end, inner[index][2]))
            continue
        first = cluster[0][0]
        last = max(item[1] for item in cluster)
        written = [all_spans[item[3]] for item in cluster if item[2] == 0]
        if first == last:  # insertions only, at one place
            for span in written:
                out.append((span.start, span.end, ""))
            texts = [inner[item[3]][2] for item in cluster if item[2] == 1]
            if texts:
                position = min((span.start for span in written), default=None)
                if position is None:
                    position = _outer_at(all_spans, span_at, first, len(outer_source))
                out.append((position, position, "".join(texts)))
            continue
        starts = [span.start for span in written if span.at == first]
        ends = [span.end for span in written]
        start = min(starts) if starts else _outer_at(all_spans, span_at, first, len(outer_source))
        if not any(span.at + len(span.replaced or "") == last and len(span.replaced or "") for span in written):
            ends.append(_outer_at(all_spans, span_at, last - 1, len(outer_source)) + 1)
        end = max(ends)
        shifted = sorted((
            (inner[item[3]][0] - first, inner[item[3]][1] - first, inner[item[3]][2])
            for item in cluster if item[2] == 1
        ), key=lambda edit: (edit[0], edit[1]))
        out.append((start, end, restore(middle[first:last], shifted)))
    out.sort(key=lambda edit: (edit[0], edit[1]))  # (stable: ties keep their order)
    return out


def _outer_at(all_spans: list[Span], span_at: list[int], position: int, length: int) -> int:
    """The outer offset of the middle text's offset `position` where a copied span holds it."""
    index = bisect_right(span_at, position) - 1
    while index >= 0:
        span = all_spans[index]
        if span.replaced is None and span.at <= position < span.at + span.end - span.start:
            return span.start + position - span.at
        if span.at < position:
            return span.end
        index -= 1
    first = bisect_left(span_at, position)
    return all_spans[first].start if first < len(all_spans) else length
