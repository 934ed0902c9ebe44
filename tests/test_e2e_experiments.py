"""Experiments in the example shop under gunicorn: unit cookie, stable URLs, cookie-free bundles,
QA links that work when signed and are ignored (never an error page) when not."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_support import Server, build_example_project, http_get, running_gunicorn
from mendel_py.qa import sign_qa_token

SECRET = "e2e-experiments-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    with running_gunicorn(project, extra_env={"SHOP_SECRET_KEY": SECRET}) as running:
        yield running


def script_url(html: str) -> str:
    return re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)


def cookie_pairs(set_cookie: str | None) -> dict[str, str]:
    pairs = {}
    for part in re.split(r",\s*(?=[A-Za-z_]+=)", set_cookie or ""):
        name, _, rest = part.partition("=")
        if name:
            pairs[name.strip()] = rest.split(";")[0]
    return pairs


def test_new_visitor_gets_a_unit_and_keeps_its_url(server: Server) -> None:
    first = http_get(server.url + "/")
    assert first.status == 200
    cookies = cookie_pairs(first.header("set-cookie"))
    assert "mendel_uid" in cookies and "mendel_sticky" in cookies
    assert "HttpOnly" in first.header("set-cookie") and "SameSite=Lax" in first.header("set-cookie")
    assert "private" in first.header("cache-control") and "Cookie" in first.header("vary")
    html = first.body.decode()
    assert "Chosen by experiment assignment" in html
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    urls = {script_url(http_get(server.url + "/", {"Cookie": jar}).body.decode()) for _ in range(5)}
    assert urls == {script_url(html)}
    bundle = http_get(server.url + script_url(html), {"Cookie": jar})
    assert bundle.status == 200 and bundle.header("set-cookie") is None
    assert "public" in bundle.header("cache-control") and "Cookie" not in (bundle.header("vary") or "")


def test_different_units_spread_over_variations(server: Server) -> None:
    urls = {script_url(http_get(server.url + "/", {"Cookie": f"mendel_uid=visitor{i:04d}xx"}).body.decode()) for i in range(40)}
    assert len(urls) >= 3  # two layers, five variation combinations


def test_qa_links_force_variations_and_bad_ones_are_ignored(server: Server) -> None:
    token = sign_qa_token(SECRET, ["bucket_D", "feature_C"], 3600)
    forced = http_get(server.url + f"/?mendel_qa={token}")
    assert forced.status == 200
    assert '<span id="active-variations">bucket_D, feature_C</span>' in forced.body.decode()
    assert "Chosen by a signed QA link" in forced.body.decode()
    for bad in (token[:-2] + "xx", sign_qa_token("another secret", ["bucket_D"], 3600),
                sign_qa_token(SECRET, ["bucket_D"], 1, now=1_000_000_000)):
        ignored = http_get(server.url + f"/?mendel_qa={bad}", {"Cookie": "mendel_uid=steadyvisitor01"})
        assert ignored.status == 200
        assert "Chosen by experiment assignment" in ignored.body.decode()
    server.output.wait_for("QA token")
