"""Subresource Integrity and preload: tags and Link headers for a request's bundles."""
from __future__ import annotations

import base64
import gzip
import hashlib
import re
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.http import parse_options_header
from werkzeug.test import Client
from werkzeug.wrappers import Response

from mendel_py.core.trees import MendelTrees
from mendel_py.integrations.flask import Mendel
from mendel_py.serving import html as tags
from mendel_py.serving.wsgi import MendelMiddleware

PAGE = '{{ mendel_stylesheet("css") }}{{ mendel_script("main") }}'


def sha384(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def flask_app(project: Path, **config: object) -> Flask:
    app = Flask("tags_test", root_path=str(project))
    app.config.update(MENDEL_BASEDIR=str(project), **config)
    Mendel(app)
    app.add_url_rule("/", "page", lambda: render_template_string(PAGE))
    return app


def attribute(html: str, tag: str, name: str) -> str | None:
    found = re.search(rf"<{tag} [^>]*?\b{name}=\"([^\"]*)\"", html)
    return found.group(1) if found else None


def test_integrity_is_sha384_of_the_served_bytes_in_every_coding(sample_project: Path) -> None:
    app = flask_app(sample_project, MENDEL_INTEGRITY=True)
    client = app.test_client()
    client.set_cookie("mendel_variations", "bucket_A")
    html = client.get("/").get_data(as_text=True)
    for tag, url_attribute in (("script", "src"), ("link", "href")):
        url = attribute(html, tag, url_attribute)
        integrity = attribute(html, tag, "integrity")
        plain = client.get(url)
        assert plain.status_code == 200
        assert integrity == sha384(plain.get_data())
        assert plain.headers["Access-Control-Allow-Origin"] == "*"
        zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers.get("Content-Encoding") in ("gzip", None)
        body = zipped.get_data()
        if zipped.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert integrity == sha384(body)  # the browser checks the decoded bytes
    assert "crossorigin" not in html  # same origin: no CORS mode needed


def test_integrity_differs_per_variation_set_and_is_off_by_default(sample_project: Path) -> None:
    client = flask_app(sample_project, MENDEL_INTEGRITY=True).test_client()
    base = client.get("/").get_data(as_text=True)
    client.set_cookie("mendel_variations", "partner_C")
    other = client.get("/").get_data(as_text=True)
    assert attribute(base, "script", "integrity") != attribute(other, "script", "integrity")
    plain = flask_app(sample_project).test_client().get("/").get_data(as_text=True)
    assert "integrity" not in plain


def test_per_tag_switch_overrides_the_setting(sample_project: Path) -> None:
    app = flask_app(sample_project)
    app.add_url_rule("/one", "one", lambda: render_template_string('{{ mendel_script("main", integrity=True) }}'))
    html = app.test_client().get("/one").get_data(as_text=True)
    assert attribute(html, "script", "integrity").startswith("sha384-")


def test_cdn_prefix_adds_crossorigin_to_tags_and_preloads(sample_project: Path) -> None:
    app = flask_app(
        sample_project, MENDEL_INTEGRITY=True, MENDEL_PRELOAD="preload",
        MENDEL_URL_PREFIX="https://cdn.example.com",
    )
    response = app.test_client().get("/")
    html = response.get_data(as_text=True)
    assert attribute(html, "script", "crossorigin") == "anonymous"
    assert attribute(html, "link", "crossorigin") == "anonymous"
    assert attribute(html, "script", "src").startswith("https://cdn.example.com/mendel/")
    link = response.headers["Link"]
    assert link.count("crossorigin=anonymous") == 2


def test_preload_link_header_names_the_bundles_the_page_used(sample_project: Path) -> None:
    app = flask_app(sample_project, MENDEL_INTEGRITY=True, MENDEL_PRELOAD="preload")
    app.add_url_rule("/none", "none", lambda: "no bundles")
    client = app.test_client()
    response = client.get("/")
    html = response.get_data(as_text=True)
    script, style = attribute(html, "script", "src"), attribute(html, "link", "href")
    links = [parse_options_header(part.strip()) for part in response.headers["Link"].split(",")]
    assert links == [
        (f"<{style}>", {"rel": "preload", "as": "style", "integrity": attribute(html, "link", "integrity")}),
        (f"<{script}>", {"rel": "preload", "as": "script", "integrity": attribute(html, "script", "integrity")}),
    ]
    assert "Link" not in client.get("/none").headers


def test_modulepreload_is_for_scripts_only(sample_project: Path) -> None:
    app = flask_app(sample_project, MENDEL_PRELOAD="modulepreload")
    links = app.test_client().get("/").headers["Link"]
    assert "rel=preload; as=style" in links
    assert re.search(r"main\.js>; rel=modulepreload(,|$)", links)


def test_an_unknown_preload_relation_is_refused(sample_project: Path) -> None:
    with pytest.raises(ValueError, match="modulepreload"):
        MendelMiddleware(lambda environ, start: [], str(sample_project), preload="prefetch")


def test_digest_is_computed_once_per_bundle_and_hash(sample_project: Path) -> None:
    seen: list[str] = []

    def page(environ, start_response):  # type: ignore[no-untyped-def]
        resolver = environ["mendel"]
        body = resolver.script_tag("main") + resolver.stylesheet_tag("css")
        seen.append(resolver.integrity("main"))
        return Response(body, mimetype="text/html")(environ, start_response)

    middleware = MendelMiddleware(page, MendelTrees(str(sample_project)), integrity=True)
    packs: list[str] = []
    original = middleware._pack
    middleware._pack = lambda bundle, tree, *chunk: packs.append(bundle) or original(bundle, tree, *chunk)  # type: ignore[method-assign]
    client = Client(middleware)
    for _ in range(5):
        assert client.get("/").status_code == 200
    assert sorted(packs) == ["css", "main"]
    assert len(set(seen)) == 1
    # serving the bundle afterwards packs it again only because no representation was held
    url = re.search(r'src="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    assert tags.integrity_of(client.get(url).get_data()) == seen[0]


def test_wsgi_resolver_tags_escape_attributes(sample_project: Path) -> None:
    def page(environ, start_response):  # type: ignore[no-untyped-def]
        tag = environ["mendel"].script_tag("main", defer=True, data_x='"><b>')
        return Response(tag, mimetype="text/html")(environ, start_response)

    html = Client(MendelMiddleware(page, str(sample_project))).get("/").get_data(as_text=True)
    assert html.startswith('<script src="/mendel/') and " defer " in html
    assert 'data-x="&#34;&gt;&lt;b&gt;"' in html and "integrity" not in html
