"""The bundle endpoint, the packed-bundle cache and the per-request resolver."""
from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from mendel_py.serving.bundles import (
    CSS_CONTENT_TYPE,
    IMMUTABLE_CACHE_CONTROL,
    JS_CONTENT_TYPE,
    BundleCache,
    brotli_available,
)
from mendel_py.packing.compression import Coder, gzip_coder
from mendel_py.config import config_from_dict
from mendel_py.errors import ConfigError, HashError, WalkError
from mendel_py.packing.packer import pack_css, pack_js
from mendel_py.serving.request import RequestResolver
from mendel_py.serving.wsgi import BundleRoute, MendelMiddleware
from test_packer import make_tree

needs_brotli = pytest.mark.skipif(not brotli_available(), reason="brotli is not installed")

BASE = "src/base"
FOLDERS = {"bucket_A": "src/variations/bucket_A", "feature_B": "src/variations/feature_B"}
SECRET_WORDS = ("bucket_A", "feature_B", "src/")


def js_specs(variation: str) -> list[dict[str, Any]]:
    return [
        {"id": "main.js", "entry": True, "deps": {"./util.js": "util.js"},
         "source": f"window.log.push(require('./util.js')); // built for {variation}"},
        {"id": "util.js", "source": "module.exports = '" + "x" * 2000 + "';"},
    ]


CSS_SPECS = [
    {"id": "b.css", "order": 2, "source": ".b{color:red}"},
    {"id": "a.css", "order": 1, "source": ".a{color:blue}"},
]


class FakeTrees:
    """Stands in for MendelTrees: the hash of a tree is "h" + the sorted matching variations."""

    def __init__(self, route: str = "/mendel/:hash/:bundle") -> None:
        bundles = {name: {} for name in ("main", "empty", "walk")}
        bundles["css"] = {"serveAs": "css"}
        self.config = config_from_dict({"route-config": {"hash": route}, "bundles": bundles}, root=".")
        self.bundles = tuple(self.config.bundles)
        self.hash_lookups = 0
        self.bug = False  # set to make every walk by hash fail like a bug would
        self.variation_walks = 0
        self.generation = None

    def reload_if_changed(self) -> None:
        return None

    def variations_and_chains(self, names: Any) -> tuple[list[str], list[list[str]]]:
        wanted = set(names)
        matching = [v for v in FOLDERS if v in wanted]
        return matching + ["base"], [[FOLDERS[v]] for v in matching] + [[BASE]]

    def find_tree_for_variations(self, bundle: str, chains: list[list[str]]) -> Any:
        self.variation_walks += 1
        names = [n for n, f in FOLDERS.items() if [f] in chains]
        return self._tree(bundle, "h" + "-".join(["base", *names]))

    def find_tree_for_hash(self, bundle: str, hash_: str) -> Any:
        self.hash_lookups += 1
        if bundle == "walk":
            raise WalkError(bundle, "main.js", "no chain matches")
        if self.bug:
            raise RuntimeError("a bug")
        if hash_ == "trvrsl":
            raise HashError("TRVRSL", f"tree has more paths than hash {hash_}")
        if hash_ == "hashmiss":
            raise HashError("HASHMISS", f"{hash_} is not canonical")
        if not hash_.startswith("hbase") or not set(hash_[5:].split("-")) <= set(FOLDERS) | {""}:
            raise HashError("BADHASH", f"invalid hash: {hash_}")
        return self._tree(bundle, hash_)

    def server_variation_map(self, bundle: str, chains: list[list[str]]) -> dict[str, str]:
        return {"main.js": chains[0][0]}

    def _tree(self, bundle: str, hash_: str) -> Any:
        if bundle == "css":
            tree = make_tree("css", CSS_SPECS)
        elif bundle == "empty":
            tree = make_tree("empty", [])
        else:
            tree = make_tree(bundle, js_specs(hash_))
        tree.hash = hash_
        return tree


def downstream_app(environ: dict[str, Any], start_response: Any) -> Any:
    resolver = environ["mendel"]
    body = f"app {type(resolver).__name__} {resolver.bundle_url('main')}"
    return Response(body)(environ, start_response)


@pytest.fixture
def trees() -> FakeTrees:
    return FakeTrees()


@pytest.fixture
def middleware(trees: FakeTrees) -> MendelMiddleware:
    return MendelMiddleware(downstream_app, trees)


@pytest.fixture
def client(middleware: MendelMiddleware) -> Client:
    return Client(middleware)


def main_tree(hash_: str = "hbase") -> Any:
    return FakeTrees().find_tree_for_hash("main", hash_)


# --- successful responses -----------------------------------------------------------------------

def test_js_bundle_headers_and_body(client: Client) -> None:
    response = client.get("/mendel/hbase-bucket_A/main.js")
    assert response.status_code == 200
    assert response.data == pack_js(main_tree("hbase-bucket_A"))
    headers = response.headers
    assert headers["Content-Type"] == JS_CONTENT_TYPE
    assert headers["Content-Length"] == str(len(response.data))
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers.getlist("Vary") == ["Accept-Encoding"]
    assert "Set-Cookie" not in headers and "Content-Encoding" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10


def test_css_bundle(client: Client) -> None:
    response = client.get("/mendel/hbase/css.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CSS_CONTENT_TYPE
    assert response.data == b".a{color:blue}\n.b{color:red}\n" == pack_css(make_tree("css", CSS_SPECS))


def test_head_has_headers_without_body(client: Client) -> None:
    full = client.get("/mendel/hbase/main.js")
    head = client.head("/mendel/hbase/main.js")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))
    assert head.headers["ETag"] == full.headers["ETag"]


def test_etag_is_stable_and_differs_per_hash(client: Client) -> None:
    first = client.get("/mendel/hbase/main.js").headers["ETag"]
    assert client.get("/mendel/hbase/main.js").headers["ETag"] == first
    assert client.get("/mendel/hbase-feature_B/main.js").headers["ETag"] != first


@pytest.mark.parametrize("if_none_match", [
    "{etag}", "W/{etag}", '"nope", {etag}', "*", 'W/"x",   W/{etag}',
])
def test_if_none_match_gives_304(client: Client, if_none_match: str) -> None:
    etag = client.get("/mendel/hbase/main.js").headers["ETag"]
    response = client.get("/mendel/hbase/main.js",
                          headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == IMMUTABLE_CACHE_CONTROL
    assert response.headers.getlist("Vary") == ["Accept-Encoding"]


def test_if_none_match_other_etag_gives_200(client: Client) -> None:
    response = client.get("/mendel/hbase/main.js", headers={"If-None-Match": '"other", W/"x"'})
    assert response.status_code == 200 and response.data


@needs_brotli
def test_each_coding_has_its_own_etag_and_any_of_them_revalidates(client: Client) -> None:
    tags = {accept: get_encoded(client, accept).headers["ETag"] for accept in ("identity", "gzip", "br")}
    assert len(set(tags.values())) == 3
    for sent in tags.values():
        for accept, own in tags.items():
            response = client.get("/mendel/hbase/main.js",
                                  headers={"If-None-Match": sent, "Accept-Encoding": accept})
            assert response.status_code == 304 and response.headers["ETag"] == own


def test_etag_names_the_hash_without_hashing_the_body(middleware: MendelMiddleware) -> None:
    """Two hosts (processes) with the same hash give the same ETag, whatever their cache held."""
    other = MendelMiddleware(lambda e, s: [], FakeTrees())
    for accept in ("identity", "gzip"):
        one = Client(middleware).get("/mendel/hbase/main.js", headers={"Accept-Encoding": accept})
        two = Client(other).get("/mendel/hbase/main.js", headers={"Accept-Encoding": accept})
        assert one.headers["ETag"] == two.headers["ETag"] and one.data == two.data
        assert one.headers["ETag"].startswith('"hbase.')


def test_an_etag_of_another_hash_does_not_revalidate(client: Client) -> None:
    etag = client.get("/mendel/hbase-feature_B/main.js").headers["ETag"]
    assert client.get("/mendel/hbase/main.js", headers={"If-None-Match": etag}).status_code == 200


def test_head_if_none_match_gives_304(client: Client) -> None:
    etag = client.head("/mendel/hbase/main.js").headers["ETag"]
    assert client.head("/mendel/hbase/main.js", headers={"If-None-Match": etag}).status_code == 304


# --- content coding -----------------------------------------------------------------------------

def get_encoded(client: Client, accept: str | None) -> Any:
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    return client.get("/mendel/hbase/main.js", headers=headers)


def test_gzip_when_accepted(client: Client) -> None:
    response = get_encoded(client, "gzip")
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert gzip.decompress(response.data) == pack_js(main_tree())
    assert response.headers.getlist("Vary") == ["Accept-Encoding"]


@needs_brotli
def test_brotli_preferred_when_equally_acceptable(client: Client) -> None:
    import brotli

    response = get_encoded(client, "gzip, deflate, br")
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == pack_js(main_tree())


@pytest.mark.parametrize(("accept", "expected"), [
    (None, None),
    ("", None),
    ("deflate", None),
    ("gzip;q=0", None),
    ("gzip;q=0, br;q=0", None),
    ("identity;q=0", None),            # nothing acceptable: identity anyway
    ("*;q=0", None),
    ("gzip;q=0.5, identity", None),
    ("gzip;q=1, br;q=0.5", "gzip"),
    ("GZIP", "gzip"),
    ("x-gzip", "gzip"),
    ("gzip;q=0.2, identity;q=0.1", "gzip"),
    ("br;q=0, *", "gzip"),
    ("gzip;q=bogus", None),             # invalid q: the item is ignored
])
def test_accept_encoding_q_values(client: Client, accept: str | None, expected: str | None) -> None:
    assert get_encoded(client, accept).headers.get("Content-Encoding") == expected


@needs_brotli
@pytest.mark.parametrize(("accept", "expected"), [("*", "br"), ("br;q=0.1, gzip;q=0.1", "br"),
                                                  ("br;q=0.1", "br"), ("gzip;q=0", "br")])
def test_accept_encoding_with_brotli(client: Client, accept: str, expected: str) -> None:
    # "gzip;q=0" alone leaves br unmentioned, so not acceptable: identity
    response = get_encoded(client, accept)
    assert response.headers.get("Content-Encoding") == (None if accept == "gzip;q=0" else expected)


# --- errors -------------------------------------------------------------------------------------

def assert_404(response: Any, code: str) -> str:
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers and "Set-Cookie" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.get_data(as_text=True)
    assert text.startswith(f"404 {code}: ") and text.endswith("\n") and text.count("\n") == 1
    return text


@pytest.mark.parametrize(("path", "code"), [
    ("/mendel/hbase/nope.js", "NOBUNDLE"),
    ("/mendel/hbase/main.jsx", "NOBUNDLE"),
    ("/mendel/not-a-hash/main.js", "BADHASH"),
    ("/mendel/hbase-bucket_Z/main.js", "BADHASH"),
    ("/mendel/trvrsl/main.js", "TRVRSL"),
    ("/mendel/hashmiss/main.js", "HASHMISS"),
    ("/mendel/hbase/walk.js", "WALKERR"),
    ("/mendel/hbase/empty.js", "EMPTYBUNDLE"),
    ("/mendel/" + "A" * 5000 + "/main.js", "BADHASH"),
    ("/mendel/%C3%A9t%C3%A9/main.js", "BADHASH"),
    ("/mendel/%FF%FE/main.js", "NOTCANONICAL"),
    ("/mendel/hbase/main", "NOBUNDLE"),
    ("/mendel/hbase/main.css", "NOBUNDLE"),
    ("/mendel/hbase/css.js", "NOBUNDLE"),
    ("/mendel/hbase/css", "NOBUNDLE"),
    ("/mendel/%68base/main.js", "NOTCANONICAL"),
    ("/mendel/hbase/main%2Ejs", "NOTCANONICAL"),
    ("/mendel/hbase/main.js?v=2", "NOTCANONICAL"),
    ("/mendel/hbase/main.js%2F", "NOROUTE"),
    ("/mendel", "NOROUTE"),
    ("/mendel/", "NOROUTE"),
    ("/mendel/x", "NOROUTE"),
    ("/mendel/hbase", "NOROUTE"),
    ("/mendel//main.js", "NOROUTE"),
    ("/mendel/hbase/main.js/", "NOROUTE"),
    ("/mendel/hbase/main.js/extra", "NOROUTE"),
])
def test_error_paths_are_404_no_store(client: Client, path: str, code: str) -> None:
    text = assert_404(client.get(path), code)
    for word in ("hbase", "bucket", "trvrsl", "hashmiss", "AAAA", "nope", "jsx"):
        assert word not in text


def test_head_on_error_has_no_body(client: Client) -> None:
    response = client.head("/mendel/hbase/nope.js")
    assert response.status_code == 404 and response.data == b""


def test_hash_errors_are_not_cached(client: Client, middleware: MendelMiddleware) -> None:
    client.get("/mendel/not-a-hash/main.js")
    assert len(middleware.cache) == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(client: Client, method: str) -> None:
    response = client.open("/mendel/hbase/main.js", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Cache-Control"] == "no-store"


# --- the warm path ------------------------------------------------------------------------------

def test_a_large_bundle_is_kept_as_its_pieces_and_sent_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity body of a JS bundle is the packer's shared pieces: held for a few KB, sent
    as chunks of about CHUNK_BYTES, the very bytes `pack_js` gives; gzip of the same bytes."""
    from mendel_py.packing.body import CHUNK_BYTES

    specs = [{"id": "main.js", "entry": True, "deps": {f"./m{n}.js": f"m{n}.js" for n in range(60)},
              "source": "require('./m0.js');"}]
    specs += [{"id": f"m{n}.js", "source": f"module.exports = '{n}' + '" + "y" * 5000 + "';"} for n in range(60)]
    monkeypatch.setattr("test_wsgi.js_specs", lambda _variation: specs)
    middleware = MendelMiddleware(downstream_app, FakeTrees())
    environ = EnvironBuilder(path="/mendel/hbase/main.js").get_environ()
    body, status, _headers = run_wsgi_app(middleware, environ)
    chunks = list(body)
    expected = pack_js(main_tree())
    assert status == "200 OK" and b"".join(chunks) == expected and len(expected) > 300_000
    assert len(chunks) >= len(expected) // (2 * CHUNK_BYTES) and max(map(len, chunks)) < 2 * CHUNK_BYTES
    held = middleware.cached_bundle("main", "hbase")
    assert held.size == len(expected) and held.weight < 5_000 and held.body == expected
    zipped = Client(middleware).get("/mendel/hbase/main.js", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.data) == expected


def test_warm_request_does_no_walking_packing_or_compressing(
    client: Client, middleware: MendelMiddleware, trees: FakeTrees, monkeypatch: pytest.MonkeyPatch
) -> None:
    for accept in ("gzip", "br, gzip", None):
        get_encoded(client, accept)
    cold_lookups = trees.hash_lookups  # one per coding first asked for (MendelTrees memoizes them)

    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("work on a warm request")

    monkeypatch.setattr("mendel_py.serving.wsgi.js_body", forbidden)
    coders = middleware.cache.coders
    monkeypatch.setattr(middleware.cache, "coders",
                        {name: Coder(c.coding, c.tag, forbidden) for name, c in coders.items()})
    for accept in ("gzip", "br, gzip", None):
        assert get_encoded(client, accept).status_code == 200
    assert trees.hash_lookups == cold_lookups


def test_response_headers_are_copies(middleware: MendelMiddleware) -> None:
    """A server that mutates the header list it was given must not corrupt the cache."""
    def greedy_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers.append(("X-Server", "mutated"))

    environ = EnvironBuilder("/mendel/hbase/main.js").get_environ()
    for _ in range(2):
        list(middleware(dict(environ), greedy_start_response))
    _body, _status, headers = run_wsgi_app(middleware, dict(environ))
    assert "X-Server" not in headers


# --- passing through ----------------------------------------------------------------------------

def test_an_unexpected_exception_is_a_logged_500_no_store(
    client: Client, trees: FakeTrees, caplog: pytest.LogCaptureFixture
) -> None:
    trees.bug = True
    with caplog.at_level("ERROR", logger="mendel_py.serving.wsgi"):
        response = client.get("/mendel/hbase/main.js")
    assert response.status_code == 500
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data(as_text=True) == "500 INTERNAL: bundle can't be served\n"
    assert "RuntimeError: a bug" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("path", ["/", "/mendelx", "/other/hbase/main.js", "/x/mendel/hbase/main.js"])
def test_other_paths_reach_the_app_with_a_resolver(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "app RequestResolver /mendel/hbase/main.js"


def test_cookie_variations_reach_the_app(client: Client) -> None:
    client.set_cookie("mendel_variations", "feature_B,unknown")
    response = client.get("/page")
    assert response.get_data(as_text=True) == "app RequestResolver /mendel/hbase-feature_B/main.js"
    assert "Set-Cookie" not in response.headers


def test_bundle_url_round_trip(client: Client, trees: FakeTrees) -> None:
    client.set_cookie("mendel_variations", "bucket_A")
    url = client.get("/page").get_data(as_text=True).split()[-1]
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == pack_js(trees.find_tree_for_variations("main", [[FOLDERS["bucket_A"]], [BASE]]))


# --- routes -------------------------------------------------------------------------------------

def test_route_with_literal_suffix_and_url_prefix(trees: FakeTrees) -> None:
    middleware = MendelMiddleware(downstream_app, trees, route="/static/:bundle.js/:hash",
                                  url_prefix="https://cdn.example.com/")
    client = Client(middleware)
    assert middleware.url_for_hash("css", "hbase") == "https://cdn.example.com/static/css.js/hbase"
    assert client.get("/static/css.js/hbase").status_code == 200
    assert client.get("/static/main.js/hbase").headers["Content-Type"] == JS_CONTENT_TYPE
    assert_404(client.get("/static/main/hbase"), "NOROUTE")
    assert client.get("/page").get_data(as_text=True).endswith(" https://cdn.example.com/static/main.js/hbase")


def test_route_from_config() -> None:
    trees = FakeTrees(route="/b/:hash/:bundle")
    client = Client(MendelMiddleware(downstream_app, trees))
    assert client.get("/page").get_data(as_text=True).endswith(" /b/hbase/main.js")
    assert client.get("/b/hbase/css.css").headers["Content-Type"] == CSS_CONTENT_TYPE


@pytest.mark.parametrize("pattern", ["/mendel/:hash", "/mendel/:bundle", "mendel/:hash/:bundle"])
def test_bad_routes_are_config_errors(pattern: str) -> None:
    with pytest.raises(ConfigError):
        BundleRoute(pattern)


def test_route_builds_quoted_urls() -> None:
    route = BundleRoute("/mendel/:hash/:bundle")
    assert route.build("a b", "h", ".js") == "/mendel/h/a%20b.js"
    assert route.match("/mendel/h/a b.js") == ("h", "a b.js")


# --- fuzzing: no input gives a 5xx ---------------------------------------------------------------

FUZZ_SEGMENTS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["main", "main.js", "css.css", "hbase", "hbase-bucket_A", "..", ".", "%00",
                     "%2F", "%FF", "trvrsl", "walk", "empty.js"]),
    st.binary(max_size=40).map(lambda raw: "".join(f"%{b:02X}" for b in raw)),
    st.integers(min_value=0, max_value=9000).map(lambda n: "Q" * n),
)


def header_safe(text: str) -> str:
    """`text` as a header value werkzeug's test client accepts (latin-1, no line breaks)."""
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace("\n", " ")


def assert_sane(status: int, body: bytes, headers: Any) -> None:
    assert status < 500
    assert b"Traceback" not in body
    if status == 404:
        assert headers["Cache-Control"] == "no-store"
        assert body == b"" or body.count(b"\n") == 1


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(FUZZ_SEGMENTS, min_size=0, max_size=4),
       method=st.sampled_from(["GET", "HEAD", "POST"]),
       accept=st.one_of(st.none(), st.text(max_size=30)),
       inm=st.one_of(st.none(), st.text(max_size=30)))
def test_fuzz_paths_through_client(middleware: MendelMiddleware, segments: list[str], method: str,
                                   accept: str | None, inm: str | None) -> None:
    headers = {}
    if accept is not None:
        headers["Accept-Encoding"] = header_safe(accept)
    if inm is not None:
        headers["If-None-Match"] = header_safe(inm)
    response = Client(middleware).open("/mendel/" + "/".join(segments), method=method, headers=headers)
    assert_sane(response.status_code, response.data, response.headers)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), prefix=st.sampled_from([b"/mendel/", b"/mendel/hbase/", b"", b"/"]))
def test_fuzz_raw_path_bytes(middleware: MendelMiddleware, raw: bytes, prefix: bytes) -> None:
    environ = EnvironBuilder("/").get_environ()
    environ["PATH_INFO"] = (prefix + raw).decode("latin-1")
    body, status, headers = run_wsgi_app(middleware, environ, buffered=True)
    assert_sane(int(status.split()[0]), b"".join(body), headers)


# --- the per-request resolver -------------------------------------------------------------------

def make_resolver(trees: FakeTrees, environ: dict[str, Any] | None = None, **options: Any) -> RequestResolver:
    return RequestResolver(MendelMiddleware(downstream_app, trees, route="/u/:hash/:bundle", **options), environ)


def test_set_variations_first_call_wins(trees: FakeTrees) -> None:
    resolver = make_resolver(trees)
    assert resolver.variations is None and resolver.lookup_chains is None
    assert resolver.set_variations(["feature_B", "nope", "bucket_A"]) == ["bucket_A", "feature_B", "base"]
    assert resolver.set_variations(["feature_B"]) == ["bucket_A", "feature_B", "base"]
    assert resolver.lookup_chains == [[FOLDERS["bucket_A"]], [FOLDERS["feature_B"]], [BASE]]
    assert resolver.set_variations("x") is resolver.variations


def test_set_variations_accepts_a_comma_string(trees: FakeTrees) -> None:
    assert make_resolver(trees).set_variations("feature_B, bucket_A") == ["bucket_A", "feature_B", "base"]


def test_tree_is_memoized_per_request(trees: FakeTrees) -> None:
    resolver = make_resolver(trees)
    resolver.set_variations(["bucket_A"])
    assert resolver.tree("main") is resolver.tree("main")
    assert trees.variation_walks == 1
    assert resolver.bundle_url("main") == "/u/hbase-bucket_A/main.js"
    assert resolver.bundle_entries("main") == ["main.js"]


def test_tree_loads_variations_lazily_from_the_cookie(trees: FakeTrees) -> None:
    environ = EnvironBuilder("/", headers={"Cookie": "mendel_variations=feature_B%2Cbucket_A"}).get_environ()
    resolver = make_resolver(trees, environ)
    assert resolver.variations is None
    assert resolver.tree("main").hash == "hbase-bucket_A-feature_B"
    assert resolver.variations == ["bucket_A", "feature_B", "base"]


def test_custom_cookie_name(trees: FakeTrees) -> None:
    environ = EnvironBuilder("/", headers={"Cookie": "ab=feature_B; mendel_variations=bucket_A"}).get_environ()
    assert make_resolver(trees, environ, cookie_name="ab").load_variations() == ["feature_B", "base"]


def test_no_source_means_base(trees: FakeTrees) -> None:
    assert make_resolver(trees, EnvironBuilder("/").get_environ()).load_variations() == ["base"]


def test_variations_loader_wins_over_cookie(trees: FakeTrees) -> None:
    seen: list[Any] = []

    def loader(environ: dict[str, Any]) -> list[str]:
        seen.append(environ)
        return ["feature_B"]

    environ = EnvironBuilder("/", headers={"Cookie": "mendel_variations=bucket_A"}).get_environ()
    resolver = make_resolver(trees, environ, variations_loader=loader)
    assert resolver.load_variations() == ["feature_B", "base"]
    assert seen == [environ]


def test_explicit_set_variations_wins_over_sources(trees: FakeTrees) -> None:
    environ = EnvironBuilder("/", headers={"Cookie": "mendel_variations=bucket_A"}).get_environ()
    resolver = make_resolver(trees, environ)
    resolver.set_variations([])
    assert resolver.tree("main").hash == "hbase"


def test_query_override_is_off_by_default(trees: FakeTrees) -> None:
    environ = EnvironBuilder("/?mendel=feature_B").get_environ()
    assert make_resolver(trees, environ).load_variations() == ["base"]


def test_query_override_when_enabled(trees: FakeTrees) -> None:
    environ = EnvironBuilder("/?mendel=feature_B&mendel=bucket_A,zzz",
                             headers={"Cookie": "mendel_variations=bucket_A"}).get_environ()
    resolver = make_resolver(trees, environ, query_override=True, variations_loader=lambda e: [])
    assert resolver.load_variations() == ["bucket_A", "feature_B", "base"]
    empty = EnvironBuilder("/?mendel=", headers={"Cookie": "mendel_variations=bucket_A"}).get_environ()
    assert make_resolver(trees, empty, query_override=True).load_variations() == ["base"]
    absent = EnvironBuilder("/?x=mendel", headers={"Cookie": "mendel_variations=bucket_A"}).get_environ()
    assert make_resolver(trees, absent, query_override=True).load_variations() == ["bucket_A", "base"]


def test_server_variation_map(trees: FakeTrees) -> None:
    resolver = make_resolver(trees)
    resolver.set_variations(["feature_B"])
    assert resolver.server_variation_map("main") == {"main.js": FOLDERS["feature_B"]}


def test_middleware_passes_its_options_to_the_resolver(trees: FakeTrees) -> None:
    middleware = MendelMiddleware(downstream_app, trees, cookie_name="ab", query_override=True)
    client = Client(middleware)
    client.set_cookie("ab", "bucket_A")
    assert client.get("/p").get_data(as_text=True).endswith("/mendel/hbase-bucket_A/main.js")
    assert client.get("/p?mendel=feature_B").get_data(as_text=True).endswith("/mendel/hbase-feature_B/main.js")


# --- with the real core over the sample project -------------------------------------------------

NEUTRAL_MAIN = {
    "main.js": {"entry": True, "base": {
        "deps": {"./button": "components/button.js", "react": False},
        "source": "window.log.push('main:' + require('./button'));"}},
    "components/button.js": {
        "base": {"source": "module.exports = 'plain';"},
        "bucket_A": {"source": "module.exports = 'green';"},
        "feature_B": {"source": "module.exports = 'big';", "deps": {"./shared": "lib/shared.js"}},
    },
    "lib/shared.js": {"expose": "shared", "base": {"source": "module.exports = 42;"}},
}
NEUTRAL_CSS = {
    "styles/b.css": {"entry": True, "order": 1, "base": {"source": ".b{}"}, "bucket_A": {"source": ".b2{}"}},
    "styles/a.css": {"entry": True, "order": 0, "base": {"source": ".a{}"}},
}


@pytest.fixture
def real_project(tmp_path: Any) -> Any:
    from factory import write_project

    return write_project(tmp_path, manifests={"main": NEUTRAL_MAIN, "css": NEUTRAL_CSS})


@pytest.fixture
def real_client(real_project: Any) -> Client:
    return Client(MendelMiddleware(downstream_app, str(real_project)))


def url_for_variations(client: Client, names: str) -> str:
    client.set_cookie("mendel_variations", names)
    return client.get("/page").get_data(as_text=True).split()[-1]


@pytest.mark.parametrize("names", ["", "bucket_A", "feature_B", "bucket_A,feature_B", "nope"])
def test_real_bundle_round_trip_has_no_paths(real_client: Client, names: str) -> None:
    url = url_for_variations(real_client, names)
    assert url.startswith("/mendel/") and url.endswith("/main.js")
    response = real_client.get(url)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for needle in ("src/", "bucket_A", "feature_B", "variations", "components/", "lib/", "main.js"):
        assert needle not in text


def test_real_bundle_serves_the_chosen_variation(real_client: Client, real_project: Any) -> None:
    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(str(real_project))
    response = real_client.get(url_for_variations(real_client, "feature_B"))
    matching, chains = trees.variations_and_chains(["feature_B"])
    assert response.data == pack_js(trees.find_tree_for_variations("main", chains))
    assert b"'big'" in response.data and b"'plain'" not in response.data


def test_real_css_bundle(real_project: Any) -> None:
    from mendel_py.core.trees import MendelTrees

    trees = MendelTrees(str(real_project))
    middleware = MendelMiddleware(downstream_app, trees)
    client = Client(middleware)
    resolver = middleware.resolver(EnvironBuilder("/").get_environ())
    resolver.set_variations(["bucket_A"])
    url = resolver.bundle_url("css")
    assert url.endswith("/css.css")
    response = client.get(url)
    assert response.headers["Content-Type"] == CSS_CONTENT_TYPE
    assert response.data == b".a{}\n.b2{}\n"


def test_real_hash_errors(real_client: Client) -> None:
    url = url_for_variations(real_client, "bucket_A")
    _, _, hash_, bundle = url.split("/")
    assert_404(real_client.get(f"/mendel/{hash_}x/{bundle}"), "BADHASH")
    assert_404(real_client.get(f"/mendel/dGVzdF9fAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/{bundle}"), "BADHASH")
    other = url_for_variations(real_client, "feature_B").split("/")[2]
    # a valid hash of a different tree doesn't fit this bundle's walk, or doesn't match it
    text = real_client.get(f"/mendel/{other}/css.css").get_data(as_text=True)
    assert text.split(":")[0] in ("404 TRVRSL", "404 HASHMISS")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_real_hashes(real_client: Client, data: st.DataObject) -> None:
    url = url_for_variations(real_client, data.draw(st.sampled_from(["", "bucket_A", "feature_B"])))
    hash_ = url.split("/")[2]
    position = data.draw(st.integers(min_value=0, max_value=len(hash_)))
    insert = data.draw(st.text(alphabet="ABCxyz019-_=%.+", max_size=4))
    cut = data.draw(st.integers(min_value=0, max_value=3))
    mutated = hash_[:position] + insert + hash_[position + cut:]
    bundle = data.draw(st.sampled_from(["main", "main.js", "css.css", "css"]))
    response = real_client.get(f"/mendel/{mutated}/{bundle}")
    assert_sane(response.status_code, response.data, response.headers)
    assert response.status_code in (200, 404) or mutated == ""


# --- hostile cookies ----------------------------------------------------------------------------

@pytest.mark.parametrize(("cookie", "expected"), [
    ("mendel_variations=\xe9", "/mendel/hbase/main.js"),
    ("unrelated=\xe9; mendel_variations=bucket_A", "/mendel/hbase-bucket_A/main.js"),
    ("mendel_variations=bucket_A\xff\xfe", "/mendel/hbase/main.js"),
    ("\xc3\xa9=\xc3\xa9; mendel_variations=feature_B", "/mendel/hbase-feature_B/main.js"),
    ("mendel_variations=\"bucket_A", "/mendel/hbase/main.js"),
    ("mendel_variations=" + ",".join(f"x{i}" for i in range(2000)), "/mendel/hbase/main.js"),
])
def test_unreadable_cookies_count_as_absent(middleware: MendelMiddleware, cookie: str, expected: str) -> None:
    response = Client(middleware, use_cookies=False).get("/page", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == f"app RequestResolver {expected}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_fuzz_cookie_bytes_never_fail_a_page(middleware: MendelMiddleware, raw: bytes) -> None:
    header = raw.replace(b"\r", b" ").replace(b"\n", b" ").decode("latin-1")
    response = Client(middleware, use_cookies=False).get("/page", headers={"Cookie": header})
    assert response.status_code == 200
