"""Signed QA override tokens: round trip, expiry, tampering, key rotation, durations."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mendel_py.qa.tokens import parse_ttl, read_qa_token, sign_qa_token

SECRET = "s3cret"
NOW = 1_800_000_000


def test_round_trip_until_expiry():
    token = sign_qa_token(SECRET, ["bucket_A", "feature_C"], 3600, now=NOW)
    assert read_qa_token(SECRET, token, now=NOW + 1) == ("bucket_A", "feature_C")
    assert read_qa_token(SECRET, token, now=NOW + 3599) == ("bucket_A", "feature_C")
    assert read_qa_token(SECRET, token, now=NOW + 3600) is None


def test_expired_token_is_ignored_and_logged(caplog):
    token = sign_qa_token(SECRET, ["bucket_A"], 60, now=NOW)
    with caplog.at_level(logging.INFO, logger="mendel_py.qa.tokens"):
        assert read_qa_token(SECRET, token, now=NOW + 61) is None
    assert "expired" in caplog.text


def test_tampered_token_and_other_key_are_refused(caplog):
    token = sign_qa_token(SECRET, ["bucket_A"], 60, now=NOW)
    payload, _, signature = token.rpartition(".")
    flipped = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    with caplog.at_level(logging.WARNING, logger="mendel_py.qa.tokens"):
        assert read_qa_token(SECRET, flipped, now=NOW) is None
        assert read_qa_token("another secret", token, now=NOW) is None
    assert "bad signature" in caplog.text


@given(st.text(max_size=200))
def test_any_string_is_none_or_a_tuple_never_an_exception(text):
    assert read_qa_token(SECRET, text, now=NOW) is None


def test_key_rotation_accepts_old_tokens_and_signs_with_the_newest():
    old = sign_qa_token("old", ["bucket_A"], 60, now=NOW)
    rotated = ["old", "new"]
    assert read_qa_token(rotated, old, now=NOW) == ("bucket_A",)
    fresh = sign_qa_token(rotated, ["bucket_B"], 60, now=NOW)
    assert read_qa_token("new", fresh, now=NOW) == ("bucket_B",)
    assert read_qa_token("old", fresh, now=NOW) is None


def test_lifetime_and_secret_are_checked():
    with pytest.raises(ValueError):
        sign_qa_token(SECRET, ["a"], 0)
    with pytest.raises(ValueError):
        sign_qa_token(SECRET, ["a"], 400 * 86400)
    with pytest.raises(ValueError):
        sign_qa_token("", ["a"], 60)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("1h30m", 5400)]
)
def test_parse_ttl(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "-1h", "1h junk", "1.5h"])
def test_parse_ttl_refuses(text):
    with pytest.raises(ValueError):
        parse_ttl(text)


def test_a_token_is_bound_to_its_project_and_carries_its_variations() -> None:
    from mendel_py.qa.tokens import read_qa_grant

    token = sign_qa_token("k", ["bucket_A", "feature_C"], 600, project="shop-1", now=1000)
    grant = read_qa_grant("k", token, project="shop-1", now=1001)
    assert grant is not None and grant.variations == ("bucket_A", "feature_C") and grant.expires == 1600
    assert read_qa_token("k", token, project="shop-2", now=1001) is None  # same secret, other project
    unbound = sign_qa_token("k", ["bucket_A"], 600, now=1000)
    assert read_qa_token("k", unbound, project="shop-1", now=1001) is None  # a project reader wants one
    assert read_qa_token("k", unbound, now=1001) == ("bucket_A",)  # (callers that ask for none)


def test_a_derived_token_never_outlives_its_parent() -> None:
    from mendel_py.qa.tokens import read_qa_grant

    parent = sign_qa_token("k", ["bucket_A"], 5, project="p", now=1000)
    parent_expiry = read_qa_grant("k", parent, project="p", now=1000).expires
    child = sign_qa_token("k", ["bucket_B"], 3600, project="p", now=1003, not_after=parent_expiry)
    assert read_qa_grant("k", child, project="p", now=1003).expires == parent_expiry == 1005
    assert read_qa_token("k", child, project="p", now=1006) is None
