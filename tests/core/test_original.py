"""`original`'s two forms: the JSON array of edits and the compact form minified entries carry
(`{"n", "d", "t"}`) decode to the same edits, and `problem` finds what is wrong with either."""
from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mendel_py.core.original import compact, decode, encode, encode_compact, pack, problem, restore, unpack

TEXTS = st.sampled_from(["", " ", "\n  ", "/* é */", '"q"\\', "€x", "\x00"])


@st.composite
def reversed_edits(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, str]]]:
    """A source and sorted, non-overlapping reversed edits of it (gaps up to past 65535)."""
    edits, position = [], 0
    for _ in range(draw(st.integers(0, 8))):
        start = position + draw(st.sampled_from([0, 1, 3, 70000]))
        end = start + draw(st.integers(0, 3))
        edits.append((start, end, draw(TEXTS)))
        position = end
    return "s" * (position + draw(st.integers(0, 2))), edits


@settings(max_examples=300, deadline=None)
@given(reversed_edits())
def test_both_forms_decode_to_the_same_edits(case: tuple[str, list[tuple[int, int, str]]]) -> None:
    source, edits = case
    compacted = encode_compact(edits)
    gaps = [start - end for (start, _, _), (_, end, _) in zip(edits, [(0, 0, ""), *edits])]
    assert json.loads(compacted)["n"] == (4 if any(gap >= 65536 for gap in gaps) else 2)
    assert decode(compacted) == edits == decode(encode(edits))
    assert problem(source, compacted) is None and problem(source, encode(edits)) is None
    assert restore(source, decode(compacted)) == restore(source, edits)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 300), max_size=30), st.text(max_size=20))
def test_the_compact_form_is_what_json_makes_of_it(numbers: list[int], texts: str) -> None:
    width, packed = pack(numbers)
    assert unpack(width, packed) == numbers
    assert width == (4 if any(number >= 65536 for number in numbers) else 2)
    digits = base64.b64encode(packed).decode("ascii")
    assert compact(numbers, texts) == json.dumps(
        {"n": width, "d": digits, "t": texts}, ensure_ascii=False, separators=(",", ":")
    )


def test_problem_finds_a_bad_compact_form() -> None:
    good = json.loads(encode_compact([(1, 2, "ab"), (4, 4, " ")]))
    assert problem("abcdef", json.dumps(good)) is None
    assert problem("abc", json.dumps(good)) is not None  # the second edit ends past the source
    for broken in ({**good, "n": 3}, {**good, "d": "not base64!"}, {**good, "d": good["d"][:-4]},
                   {**good, "t": "ab"}, {"d": good["d"], "t": good["t"]}):
        assert problem("abcdef", json.dumps(broken)) is not None, broken
