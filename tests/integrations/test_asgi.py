"""`mendel_py.asgi` in process (Starlette's TestClient over httpx): the resolver in
`request.state`, the FastAPI dependency, Jinja2Templates globals with variation templates,
streaming pages, bundle answers equal to the WSGI endpoint's, the QA page, lifespan."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse, StreamingResponse  # noqa: E402
from fastapi.templating import Jinja2Templates  # noqa: E402
from jinja2 import DictLoader, Environment  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from e2e_support import build_example_project  # noqa: E402
from mendel_py.asgi import MendelASGIMiddleware, MendelResolver, environ_from_scope, mendel_templates  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware, pass_through_app  # noqa: E402

PAGE = '{{ mendel_stylesheet("css") }}|{{ mendel_script("main", defer=True) }}|{% include "product_card.html" %}'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop"))


def make_app(project: Path, **options: object) -> MendelASGIMiddleware:
    api = FastAPI()
    templates = Jinja2Templates(env=Environment(autoescape=True, loader=DictLoader({"page.html": PAGE})))

    @api.get("/page", response_class=HTMLResponse)
    def page(request: Request, mendel: MendelResolver) -> HTMLResponse:
        assert request.state.mendel is mendel
        return templates.TemplateResponse(request, "page.html", {"product": {"id": "p1", "name": "Beans", "price": "1"}})

    @api.get("/stream")
    def stream(mendel: MendelResolver) -> StreamingResponse:
        url = mendel.bundle_url("main")
        return StreamingResponse(iter([b"<p>", url.encode(), b"</p>"]), media_type="text/html")

    @api.get("/plain")
    def plain() -> dict[str, str]:
        return {"no": "mendel"}

    app = MendelASGIMiddleware(api, str(project), secret_key="asgi-test", visitor_choice=True,
                               exposure_log="off", reload_interval=None, **options)
    mendel_templates(templates, trees=lambda: app.core.trees)
    return app


@pytest.fixture(scope="module")
def client(project: Path) -> Iterator[TestClient]:
    with TestClient(make_app(project)) as running:  # (runs the lifespan)
        yield running


def test_pages_get_the_tags_and_variation_templates_of_their_cookie(client: TestClient) -> None:
    base = client.get("/page", headers={"Cookie": "mendel_variations="})
    variant = client.get("/page", headers={"Cookie": "mendel_variations=bucket_B"})
    assert base.status_code == variant.status_code == 200
    css, script, card = variant.text.split("|")
    assert css.startswith('<link rel="stylesheet" href="/mendel/') and " defer" in script
    assert "Staff pick" in card and "Staff pick" not in base.text.split("|")[2]  # bucket_B's template
    assert base.text.split("|")[0] != css  # (bucket_B restyles the card)
    assert variant.headers["vary"] == "Cookie" and variant.headers["cache-control"] == "private"


def test_a_streaming_page_is_marked_and_streams(client: TestClient) -> None:
    response = client.get("/stream", headers={"Cookie": "mendel_variations=bucket_A"})
    assert response.status_code == 200 and response.text.startswith("<p>/mendel/")
    assert response.headers["vary"] == "Cookie" and response.headers["cache-control"] == "private"


def test_a_page_that_never_used_mendel_is_not_marked(client: TestClient) -> None:
    response = client.get("/plain", headers={"Cookie": "mendel_variations=bucket_A"})
    assert "vary" not in response.headers and "cache-control" not in response.headers


def test_bundle_answers_are_the_wsgi_endpoints(client: TestClient, project: Path) -> None:
    url = client.get("/stream", headers={"Cookie": "mendel_variations=bucket_D"}).text[3:-4]
    core = MendelMiddleware(pass_through_app, str(project), reload_interval=None, exposure_log="off",
                            secret_key="x")
    for method, headers in (("GET", {"Accept-Encoding": "gzip"}), ("HEAD", {"Accept-Encoding": "identity"}),
                            ("GET", {"Accept-Encoding": "br"})):
        response = client.request(method, url, headers=headers)
        expected = core.answer_bundle({"REQUEST_METHOD": method, "HTTP_ACCEPT_ENCODING": headers.get("Accept-Encoding")}, url)
        assert expected is not None and response.status_code == expected.status
        assert {k.lower(): v for k, v in expected.headers} == {k: v for k, v in response.headers.items()}
        if method == "GET":  # (the client undoes the coding: compare with the identity body)
            identity = core.answer_bundle({"REQUEST_METHOD": "GET"}, url)
            assert identity is not None and response.content == b"".join(identity.chunks)
    not_modified = client.get(url, headers={"If-None-Match": response.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert client.get(url + "?x=1").status_code == 404
    assert client.post(url).status_code == 405


def test_the_canonical_spelling_check_sees_the_raw_path() -> None:
    scope = {"type": "http", "method": "GET", "path": "/mendel/h/main.js", "raw_path": b"/mendel/h/main%2Ejs",
             "query_string": b"", "root_path": "", "headers": [(b"cookie", b"a=1"), (b"cookie", b"b=2")]}
    environ = environ_from_scope(scope)
    assert environ["RAW_URI"] == "/mendel/h/main%2Ejs" and environ["PATH_INFO"] == "/mendel/h/main.js"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"


@pytest.mark.parametrize("query, root, headers", [
    (b"", "", [(b"cookie", b"mendel_variations=bucket_A"), (b"user-agent", b"x")]),
    (b"mendel_qa=t&a=1", "/shop", [(b"cookie", b"a=1"), (b"accept", b"*/*"), (b"cookie", b"mendel_variations=bucket_B")]),
    (b"a=%C3%A9", "/shop/", [(b"cookie", b"sid=1; mendel_variations=")]),
])
def test_a_page_resolver_reads_the_scope_as_its_environ_says(project: Path, query: bytes, root: str,
                                                              headers: list[tuple[bytes, bytes]]) -> None:
    from mendel_py.asgi.middleware import ScopeResolver
    from mendel_py.serving.request import RequestResolver

    core = make_app(project).load()
    scope = {"type": "http", "method": "GET", "path": root.rstrip("/") + "/p", "raw_path": b"/p", "scheme": "https",
             "query_string": query, "root_path": root, "headers": headers}
    lazy, eager = ScopeResolver(core, scope), RequestResolver(core, environ_from_scope(scope))

    def decoded(inputs: tuple[bytes, bytes | None, str]) -> tuple[str, str | None, str]:
        query, header, root = inputs
        return query.decode("latin-1"), None if header is None else header.decode("latin-1"), root

    assert decoded(lazy._key_inputs()) == eager._key_inputs()  # (read from the scope, no environ made)
    assert lazy._environ is None
    assert lazy.request_key() == eager.request_key()
    assert lazy.environ == environ_from_scope(scope) and lazy.environ is lazy.environ
    assert decoded(lazy._key_inputs()) == eager._key_inputs()
    assert (lazy.variations, lazy.script_tag("main"), lazy.page_response_headers([])) == (
        eager.variations, eager.script_tag("main"), eager.page_response_headers([]))


def test_the_qa_page_opens_in_development_and_hides_otherwise(project: Path) -> None:
    with TestClient(make_app(project, development=True)) as dev:
        page = dev.get("/_mendel/")
        assert page.status_code == 200 and "bucket_A" in page.text
    with TestClient(make_app(project)) as production:
        assert production.get("/_mendel/").status_code == 404  # (FastAPI's own 404: handed on)


def test_without_lifespan_the_first_request_loads_the_trees(project: Path) -> None:
    app = make_app(project)
    client = TestClient(app)  # (not entered: no lifespan)
    assert client.get("/stream").status_code == 200
    assert app.core.trees is not None


def test_a_broken_project_fails_lifespan_start_up_with_one_line(tmp_path: Path) -> None:
    (tmp_path / ".mendelrc").write_text("bundles: [x\n")
    app = MendelASGIMiddleware(FastAPI(), str(tmp_path))
    messages = []

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, str]) -> None:
        messages.append(message)

    import anyio

    anyio.run(app, {"type": "lifespan"}, receive, send)
    [failed] = messages
    assert failed["type"] == "lifespan.startup.failed"
    assert failed["message"].startswith("mendel: the project can't be loaded: ") and "\n" not in failed["message"]


def test_a_page_leaves_no_reference_cycle_for_the_collector(project: Path) -> None:
    """The scope's state holds the page's resolver and the resolver its scope: after the page the
    middleware ends that cycle, so both are freed when the request ends (here, with the collector
    off), not at a later collection."""
    import gc
    import weakref

    from mendel_py.asgi.middleware import ScopeResolver

    resolvers: list[weakref.ref[object]] = []
    sent: list[object] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        resolver = scope["state"]["mendel"]  # type: ignore[index]
        assert type(resolver) is ScopeResolver
        resolvers.append(weakref.ref(resolver))
        body = str(resolver.script_tag("main")).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": body, "more_body": False})  # type: ignore[operator]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    middleware = MendelASGIMiddleware(app, str(project), secret_key="asgi-test", visitor_choice=True,
                                      exposure_log="off", reload_interval=None)
    middleware.load()
    gc.collect()
    gc.disable()
    try:
        request = middleware(
            {"type": "http", "method": "GET", "path": "/p", "raw_path": b"/p", "query_string": b"", "root_path": "",
             "headers": [(b"cookie", b"mendel_variations=bucket_A")], "state": {}},
            receive, send,
        )
        try:
            request.send(None)  # (nothing awaited suspends: the page runs to its end)
        except StopIteration:
            pass
        del request
        assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]  # type: ignore[index]
        assert b"/mendel/" in sent[1]["body"]  # type: ignore[index,operator]
        assert (b"vary", b"Cookie") in sent[0]["headers"]  # type: ignore[index,operator]
        sent.clear()
        assert resolvers and resolvers[0]() is None
    finally:
        gc.enable()
