"""The request memo (`RequestResolver.request_key`, `MendelMiddleware.request_memo`): a page whose
variations follow from its request key gets from the memo exactly what the full policy gives,
and every request another source could decide runs the full policy."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_support import REPO
from mendel_py.serving.wsgi import MendelMiddleware, pass_through_app

PROJECT = REPO / "examples" / "shop"  # the root .mendelrc: experiments, built manifests
SECRET = "memo-test-secret"


def middleware(**options: object) -> MendelMiddleware:
    # one unit for every request: assignments (when the experiments decide) are the same on both hosts
    return MendelMiddleware(pass_through_app, str(PROJECT), secret_key=SECRET, reload_interval=None,
                            unit_loader=lambda environ: "unit-0123456789", exposure_log="off", **options)


MEMO = middleware(visitor_choice=True)
FULL = middleware(visitor_choice=True)
FULL.request_memo = None  # type: ignore[assignment]  (no memo: the full policy every time)


_EXPIRES = re.compile(r"; Expires=[^;]*")


def _without_expires(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # (a cookie's Expires is the clock's: two calls may fall either side of a second; Max-Age stays)
    return [(name, _EXPIRES.sub("", value)) for name, value in headers]


def page(host: MendelMiddleware, environ: dict[str, str]) -> tuple[object, ...]:
    resolver = host.resolver(dict(environ))
    css = resolver.stylesheet_tag("css")
    js = resolver.script_tag("main")
    again = resolver.script_tag("main", integrity=True)
    return (css, js, again, resolver.bundle_url("main"), resolver.variations, resolver.decided_by,
            resolver.requested, [a.variation for a in resolver.assignments],
            _without_expires(resolver.page_response_headers([("Content-Type", "text/html")])))


NAMES = st.sampled_from(["bucket_A", "bucket_B", "bucket_D", "feature_C", "nope", "", " bucket_A"])
VALUES = st.lists(NAMES, max_size=3).map(",".join)
OTHER = st.sampled_from(["sid=1", "mendel_variationsx=bucket_B", "xmendel_variations=bucket_B", "a", "mendel_qa=x",
                         'q="a;b"', "mendel_variations=bucket_D", "b=\u00e9"])


@settings(max_examples=150, deadline=None)
@given(value=st.none() | VALUES, before=st.lists(OTHER, max_size=2), after=st.lists(OTHER, max_size=2),
       space=st.sampled_from(["; ", ";", " ; "]), script_name=st.sampled_from(["", "/shop"]),
       query=st.sampled_from(["", "a=1", "mendel=bucket_B", "mendel_qa=bad"]))
def test_the_memo_answers_as_the_full_policy(value: str | None, before: list[str], after: list[str], space: str,
                                             script_name: str, query: str) -> None:
    parts = [*before, *([f"mendel_variations={value}"] if value is not None else []), *after]
    environ = {"HTTP_COOKIE": space.join(parts), "SCRIPT_NAME": script_name, "QUERY_STRING": query}
    for _ in range(2):  # the first makes the entry, the second reads it
        assert page(MEMO, environ) == page(FULL, environ)


def test_a_returning_visitor_is_answered_from_one_entry() -> None:
    host = middleware(visitor_choice=True)
    environ = {"HTTP_COOKIE": "mendel_variations=bucket_A; sid=1"}
    first = page(host, environ)
    assert len(host.request_memo) == 1
    assert page(host, {"HTTP_COOKIE": "sid=2; mendel_variations=bucket_A"}) == first
    assert len(host.request_memo) == 1


@pytest.mark.parametrize("environ", [
    {"HTTP_COOKIE": "mendel_qa=token; mendel_variations=bucket_A"},  # a QA token may decide
    {"HTTP_COOKIE": "mendel_variations=bucket_A", "QUERY_STRING": "mendel_qa=token"},
    {"HTTP_COOKIE": 'mendel_variations="bucket_A"'},  # quoted: werkzeug's parser reads it
    {"HTTP_COOKIE": "sid=1"},  # experiments assign
    {"HTTP_COOKIE": "mendel_variations=" + ",".join(f"made_up_{n}" for n in range(200))},  # too long to keep
])
def test_requests_another_source_may_decide_are_not_remembered(environ: dict[str, str]) -> None:
    host = middleware(visitor_choice=True)
    host.resolver(dict(environ)).script_tag("main")
    assert host.request_memo == {}


def test_without_visitor_choice_the_cookie_never_decides_and_nothing_is_remembered() -> None:
    host = middleware()
    resolver = host.resolver({"HTTP_COOKIE": "mendel_variations=bucket_A"})
    resolver.script_tag("main")
    assert resolver.decided_by == "experiment assignment" and host.request_memo == {}


def test_set_variations_is_the_apps_own_and_never_remembered() -> None:
    host = middleware(visitor_choice=True)
    resolver = host.resolver({"HTTP_COOKIE": "mendel_variations=bucket_A"})
    resolver.set_variations(["bucket_B"])
    assert "bucket_B" in resolver.variations
    resolver.script_tag("main")
    assert host.request_memo == {}


def test_a_new_generation_starts_the_memo_again(tmp_path: Path) -> None:
    host = middleware(visitor_choice=True)
    host.resolver({"HTTP_COOKIE": "mendel_variations=bucket_A"}).script_tag("main")
    [key] = host.request_memo
    host.request_memo[("older generation", *key[1:])] = host.request_memo.pop(key)
    host.resolver({"HTTP_COOKIE": "mendel_variations=bucket_B"}).script_tag("main")
    assert [k[0] for k in host.request_memo] == [key[0]]
