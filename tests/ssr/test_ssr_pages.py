"""Pages that server-render: the request's own tree, the client-rendered fallback logged once per
(tree, reason), the counts in the status and the Prometheus text; Flask and Jinja helpers."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from build_support import build, make_project
from mendel_py.serving.metrics import prometheus_text
from mendel_py.serving.wsgi import MendelMiddleware

RC = """\
base-config:
  dir: src/base
variation-config:
  variation-dirs: [src/variations]
  variations:
    blue:
bundles:
  main:
    entries: [render.js]
    manifest: manifests/main.manifest.json
    ssr:
      module: render.js
"""
RENDER = """\
var colour = require('./colour.js');
exports.render = function (props) {
  if (props.fail) { throw new Error('asked to fail'); }
  return '<p class="' + colour + '">' + props.items.length + '</p>';
};
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    make_project(tmp_path, {
        "src/base/render.js": RENDER,
        "src/base/colour.js": "module.exports = 'base';\n",
        "src/variations/blue/colour.js": "module.exports = 'blue';\n",
    }, RC)
    build(tmp_path)
    return tmp_path


def wsgi_page(environ: dict[str, Any], start_response: Any) -> Any:
    query = unquote(environ.get("QUERY_STRING") or "")
    props = json.loads(query) if query else {"items": [1, 2]}
    html = environ["mendel"].render("main", props) + f'<script src="{environ["mendel"].bundle_url("main")}"></script>'
    return Response(html, mimetype="text/html")(environ, start_response)


def test_the_page_renders_its_own_tree_and_the_props(project: Path) -> None:
    middleware = MendelMiddleware(wsgi_page, str(project), visitor_choice=True, cookie_name="v")
    client = Client(middleware)
    client.set_cookie("v", "blue")
    html = client.get("/").get_data(as_text=True)
    assert html.startswith('<div data-mendel-root="main" data-mendel-ssr=""><p class="blue">2</p></div>'
                           '<script type="application/json" data-mendel-props="main">{"items":[1,2]}</script>')
    tree = middleware.trees.find_tree_for_variations("main", middleware.trees.variations_and_chains(["blue"])[1])
    assert tree.hash in html  # the bundle of the same tree
    status = middleware.status()["ssr"]
    assert status["renders"] == 1 and status["fallbacks"] == 0 and status["contexts"] >= 1
    assert 'mendel_ssr_renders_total{pid="' in prometheus_text(middleware)


def test_a_fault_falls_back_logged_once_per_tree_and_reason(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    from urllib.parse import quote

    middleware = MendelMiddleware(wsgi_page, str(project))
    client = Client(middleware)
    with caplog.at_level("WARNING", logger="mendel_py.ssr"):
        for _ in range(3):
            html = client.get("/?" + quote(json.dumps({"fail": True, "items": [], "x": "</script><b>"}))).get_data(as_text=True)
            assert html.startswith('<div data-mendel-root="main"></div><script type="application/json"')
            assert "</script><b>" not in html and "\\u003c/script\\u003e\\u003cb\\u003e" in html
            assert "asked to fail" not in html and "render.js" not in html  # nothing of the error reaches the page
    logged = [r for r in caplog.records if "falls back to client rendering" in r.getMessage()]
    assert len(logged) == 1 and "src/base/render.js:3" in logged[0].getMessage()
    status = middleware.status()["ssr"]
    assert status["fallbacks"] == 3 and status["faults"]["error"] == 3
    assert re.search(r'mendel_ssr_faults_total\{pid="\d+",reason="error"\} 3', prometheus_text(middleware))
    assert 'mendel_ssr_fallbacks_total{pid="' in prometheus_text(middleware)


def test_flask_and_jinja_helpers(project: Path) -> None:
    from flask import Flask, render_template_string

    from mendel_py.integrations.flask import Mendel, mendel

    app = Flask(__name__)
    app.config.update(MENDEL_BASEDIR=str(project), MENDEL_VISITOR_CHOICE=True, MENDEL_COOKIE_NAME="v")
    Mendel(app)

    @app.route("/jinja")
    def jinja() -> str:
        return render_template_string('{{ mendel_render("main", {"items": [1, 2, 3]}) }}')

    @app.route("/python")
    def python() -> str:
        return mendel.render("main", {"items": []})

    client = app.test_client()
    client.set_cookie("v", "blue")
    assert client.get("/jinja").get_data(as_text=True).startswith(
        '<div data-mendel-root="main" data-mendel-ssr=""><p class="blue">3</p></div>')
    assert '<p class="blue">0</p>' in client.get("/python").get_data(as_text=True)
