"""The example shop under gunicorn (examples/gunicorn.conf.py), spoken to over real HTTP."""
from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import pytest

from e2e_support import Server, build_example_project, http_get, running_gunicorn


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    with running_gunicorn(project) as running:
        yield running


def page_for(server: Server, variations: str) -> str:
    cookie = {"Cookie": f"mendel_variations={variations}"}  # empty: base, no assignment
    response = http_get(server.url + "/", cookie)
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    return response.body.decode()


def bundle_urls(html: str) -> tuple[str, str]:
    script = re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)
    stylesheet = re.search(r'<link rel="stylesheet" href="(/mendel/[^"]+)"', html).group(1)
    return script, stylesheet


def test_gunicorn_runs_two_preloaded_workers(server: Server) -> None:
    server.output.wait_for("Booting worker", count=2)
    assert server.output.text().count("Booting worker") == 2


def test_pages_for_two_variation_sets_embed_different_bundles(server: Server) -> None:
    base_page = page_for(server, "")
    variant_page = page_for(server, "bucket_B,feature_C")
    assert '<span id="active-variations">none (base)</span>' in base_page
    assert '<span id="active-variations">bucket_B, feature_C</span>' in variant_page
    assert "Staff pick" in variant_page and "Staff pick" not in base_page
    base_js, base_css = bundle_urls(base_page)
    variant_js, variant_css = bundle_urls(variant_page)
    assert base_js != variant_js and base_css != variant_css
    assert base_js.endswith("/main.js") and base_css.endswith("/css.css")
    assert "bucket" not in variant_js + variant_css and "feature" not in variant_js + variant_css


def test_same_variations_get_the_same_urls_from_every_worker(server: Server) -> None:
    urls = {bundle_urls(page_for(server, "bucket_D")) for _ in range(6)}
    assert len(urls) == 1


def test_bundles_are_served_with_cache_headers(server: Server) -> None:
    script, stylesheet = bundle_urls(page_for(server, "bucket_A,feature_C"))
    js = http_get(server.url + script)
    assert js.status == 200
    assert js.header("content-type") == "application/javascript; charset=utf-8"
    assert js.header("cache-control") == "public, max-age=31536000, immutable"
    assert js.header("vary") == "Accept-Encoding"
    assert js.header("content-length") == str(len(js.body))
    assert re.fullmatch(r'"[^"]+"', js.header("etag") or "")
    assert js.header("set-cookie") is None
    source = js.body.decode()
    assert "Buy now" in source and "Recommended for you" in source
    assert "Add to cart" not in source and "examples/shop" not in source

    css = http_get(server.url + stylesheet)
    assert css.status == 200
    assert css.header("content-type") == "text/css; charset=utf-8"
    assert "#26a269" in css.body.decode() and ".recommended" in css.body.decode()

    again = http_get(server.url + script, {"If-None-Match": js.header("etag")})
    assert again.status == 304 and again.body == b""


def test_bundles_are_compressed_on_request(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, ""))
    plain = http_get(server.url + script)
    zipped = http_get(server.url + script, {"Accept-Encoding": "gzip"})
    assert zipped.header("content-encoding") == "gzip"
    assert gzip.decompress(zipped.body) == plain.body


def test_bundle_response_does_not_depend_on_the_cookie(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, "bucket_A"))
    without = http_get(server.url + script)
    with_cookie = http_get(server.url + script, {"Cookie": "mendel_variations=bucket_B"})
    assert with_cookie.body == without.body
    assert with_cookie.header("etag") == without.header("etag")


def test_bad_hash_and_unknown_bundle_are_404(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, ""))
    good_hash = script.split("/")[2]
    for path in (
        "/mendel/bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/main.js",
        "/mendel/not-a-hash/main.js",
        f"/mendel/{good_hash[:-2]}/main.js",
        f"/mendel/{good_hash}/nope.js",
    ):
        response = http_get(server.url + path)
        assert response.status == 404, path
        assert response.header("cache-control") == "no-store", path
        assert response.header("content-type") == "text/plain; charset=utf-8", path
        assert len(response.body.decode().splitlines()) == 1, path


def test_variation_form_sets_the_cookie_for_the_next_page(server: Server) -> None:
    chosen = http_get(
        server.url + "/variations", method="POST", form={"look": "bucket_B", "features": "feature_C"}
    )
    assert chosen.status == 303
    cookie = chosen.header("set-cookie").split(";", 1)[0]
    assert cookie.startswith("mendel_variations=")
    response = http_get(server.url + "/", {"Cookie": cookie})
    assert '<span id="active-variations">bucket_B, feature_C</span>' in response.body.decode()
