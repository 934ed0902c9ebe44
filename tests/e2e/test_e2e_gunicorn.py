"""The example shop's HTTP contract over real HTTP, one suite for its three servings: Flask under
gunicorn (examples/gunicorn.conf.py), Django under gunicorn (examples/django_shop) and FastAPI
under uvicorn (examples/fastapi_shop), each started with its documented command line."""
from __future__ import annotations

import gzip
import http.client
import re
from collections.abc import Iterator

import pytest

from e2e_support import STACKS, Server, build_example_project, http_get, running_stack


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return build_example_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module", params=STACKS)
def server(request: pytest.FixtureRequest, project) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    with running_stack(request.param, project) as running:
        running.stack = request.param  # type: ignore[attr-defined]
        yield running


def page_for(server: Server, variations: str) -> str:
    cookie = {"Cookie": f"mendel_variations={variations}"}  # empty: base, no assignment
    response = http_get(server.url + "/", cookie)
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert response.header("vary") == "Cookie" and response.header("cache-control") == "private"
    return response.body.decode()


def bundle_urls(html: str) -> tuple[str, str]:
    script = re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)
    stylesheet = re.search(r'<link rel="stylesheet" href="(/mendel/[^"]+)"', html).group(1)
    return script, stylesheet


def test_gunicorn_runs_two_preloaded_workers(server: Server) -> None:
    if server.stack == "fastapi":  # type: ignore[attr-defined]
        pytest.skip("uvicorn runs one process here")
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


def test_every_stack_server_renders_the_visitors_offer_box(server: Server) -> None:
    """The shop's `mendel_render("main", ...)`: the offer box of the visitor's own tree, in the
    page's HTML before any script runs (bucket_D overrides the component)."""
    assert "Rendered on the server" in page_for(server, "")
    assert "Fresh coffee, roasted this week" in page_for(server, "")
    assert "Promo week: two bags for the price of one" in page_for(server, "bucket_D")


def test_same_variations_get_the_same_urls_from_every_worker(server: Server) -> None:
    urls = {bundle_urls(page_for(server, "bucket_D")) for _ in range(6)}
    assert len(urls) == 1


def test_the_three_stacks_build_the_same_urls(project) -> None:  # type: ignore[no-untyped-def]
    """Same sources, same .mendelrc: the same variations give the same bundle URLs everywhere."""
    found = {}
    for stack in STACKS:
        with running_stack(stack, project) as running:
            found[stack] = bundle_urls(page_for(running, "bucket_A,feature_C"))
    assert len(set(found.values())) == 1, found


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
    assert again.header("etag") == js.header("etag") and again.header("content-type") is None


def test_head_gives_the_headers_of_get_and_no_body(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, "bucket_A"))
    get = http_get(server.url + script, {"Accept-Encoding": "gzip"})
    head = http_get(server.url + script, {"Accept-Encoding": "gzip"}, method="HEAD")
    assert head.status == 200 and head.body == b""
    for name in ("content-length", "etag", "content-encoding", "cache-control", "content-type"):
        assert head.header(name) == get.header(name), name


def test_other_methods_are_405(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, ""))
    response = http_get(server.url + script, method="POST", form={"a": "b"})
    assert response.status == 405
    assert response.header("allow") == "GET, HEAD" and response.header("cache-control") == "no-store"


def test_bundles_are_compressed_on_request(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, ""))
    plain = http_get(server.url + script)
    zipped = http_get(server.url + script, {"Accept-Encoding": "gzip"})
    assert zipped.header("content-encoding") == "gzip"
    assert gzip.decompress(zipped.body) == plain.body
    assert zipped.header("etag") != plain.header("etag")


def test_bundle_response_does_not_depend_on_the_cookie(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, "bucket_A"))
    without = http_get(server.url + script)
    with_cookie = http_get(server.url + script, {"Cookie": "mendel_variations=bucket_B"})
    assert with_cookie.body == without.body
    assert with_cookie.header("etag") == without.header("etag")


def test_bad_hash_unknown_bundle_and_other_spellings_are_404(server: Server) -> None:
    script, _ = bundle_urls(page_for(server, ""))
    good_hash = script.split("/")[2]
    for path in (
        "/mendel/bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/main.js",
        "/mendel/not-a-hash/main.js",
        f"/mendel/{good_hash[:-2]}/main.js",
        f"/mendel/{good_hash}/nope.js",
        f"/mendel/{good_hash}/main%2Ejs",  # not the canonical spelling
        f"{script}?v=1",  # a query string: each one a new cache key
        "/mendel/",
    ):
        response = http_get(server.url + path)
        assert response.status == 404, path
        assert response.header("cache-control") == "no-store", path
        assert response.header("content-type") == "text/plain; charset=utf-8", path
        assert len(response.body.decode().splitlines()) == 1, path


def test_keep_alive_serves_pages_and_bundles_on_one_connection(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", "/", headers={"Cookie": "mendel_variations=bucket_D"})
        page = connection.getresponse()
        script, stylesheet = bundle_urls(page.read().decode())
        for path in (script, stylesheet, script):
            connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200 and len(body) == int(response.getheader("Content-Length"))
        connection.request("GET", script, headers={"If-None-Match": response.getheader("ETag") or ""})
        assert connection.getresponse().status in (200, 304)
    finally:
        connection.close()


def test_variation_form_sets_the_cookie_for_the_next_page(server: Server) -> None:
    chosen = http_get(
        server.url + "/variations", method="POST", form={"look": "bucket_B", "features": "feature_C"}
    )
    assert chosen.status == 303
    cookie = chosen.header("set-cookie").split(";", 1)[0]
    assert cookie.startswith("mendel_variations=")
    response = http_get(server.url + "/", {"Cookie": cookie})
    assert '<span id="active-variations">bucket_B, feature_C</span>' in response.body.decode()


def test_a_visitor_without_a_cookie_is_assigned_and_gets_the_unit_cookie(server: Server) -> None:
    response = http_get(server.url + "/")
    assert response.status == 200
    assert "mendel_uid=" in (response.header("set-cookie") or "")
    assert "experiment assignment" in response.body.decode()


def test_the_qa_page_is_hidden_without_a_token(server: Server) -> None:
    response = http_get(server.url + "/_mendel/")
    assert response.status == 404
    assert "bucket_A" not in response.body.decode()
