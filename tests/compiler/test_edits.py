"""`edits.compose`: the reversed edits of two chained steps, as one list from the last text back
to the first, must give the first text back and keep every copied span a copy of it."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mendel_py.compiler.edits import apply, compose
from mendel_py.core.original import problem, restore, spans


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
    """`compose` (on the edits alone) and `_compose_spans` (its reference, on the text cut into
    spans) give the same edits in the same order."""
    from mendel_py.compiler.edits import _compose_spans

    first = data.draw(st.text(alphabet="ab\n é", max_size=60))
    middle, inner = apply(first, data.draw(edited(first)))
    last, outer = apply(middle, data.draw(edited(middle)))
    if inner:
        assert compose(last, outer, middle, inner) == _compose_spans(last, outer, middle, inner)
