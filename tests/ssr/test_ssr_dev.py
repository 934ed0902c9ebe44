"""Server rendering under the development loop: a saved edit shows in the server's HTML after the
rebuild, and a render error shows over the page with its original file and line."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from e2e_support import build_example_project
from mendel_py.dev.loop import DevLoop, DevMiddleware
from mendel_py.qa.page import DEFAULT_QA_ROUTE
from mendel_py.serving.wsgi import MendelMiddleware

pytest.importorskip("watchfiles", reason="mendel dev needs watchfiles (the dev extra)")

OFFER = "examples/shop/src/variations/bucket_D/components/offer.js"
PROPS = {"products": [{"name": "Beans", "price": "$1"}]}


def page(environ: dict[str, Any], start_response: Any) -> Any:
    html = f"<!doctype html><html><body>{environ['mendel'].render('main', PROPS)}</body></html>"
    return Response(html, mimetype="text/html")(environ, start_response)


@pytest.fixture()
def dev(tmp_path: Path) -> tuple[Path, DevLoop, Client]:
    project = build_example_project(tmp_path)
    middleware = MendelMiddleware(page, str(project), development=True)
    loop = DevLoop(middleware, on_status=lambda status: None)
    client = Client(DevMiddleware(middleware, loop, DEFAULT_QA_ROUTE + "dev/events"))
    client.set_cookie("mendel_variations", "bucket_D")
    return project, loop, client


def test_a_saved_edit_shows_in_the_server_html(dev: tuple[Path, DevLoop, Client]) -> None:
    project, loop, client = dev
    assert "Promo week" in client.get("/").get_data(as_text=True)
    offer = project / OFFER
    offer.write_text(offer.read_text().replace("Promo week", "Mega week"))
    assert loop.apply([str(offer)]).error is None
    html = client.get("/").get_data(as_text=True)
    assert "Mega week" in html and "Promo week" not in html and 'data-mendel-ssr=""' in html


def test_a_render_error_shows_in_the_overlay_with_its_file_and_line(dev: tuple[Path, DevLoop, Client]) -> None:
    project, loop, client = dev
    offer = project / OFFER
    text = offer.read_text()
    offer.write_text(text.replace("exports.html = function (props) {\n",
                                  "exports.html = function (props) {\n    props.missing.explode();\n"))
    assert loop.apply([str(offer)]).error is None
    html = client.get("/").get_data(as_text=True)
    assert '<div data-mendel-root="main"></div>' in html  # the client-rendered fallback
    errors = json.loads(re.search(r"renderErrors = (\[.*?\]);", html).group(1))
    assert len(errors) == 1 and errors[0].startswith("error: TypeError")
    line = text.split("\n").index("exports.html = function (props) {") + 2
    assert f"{OFFER}:{line}:" in errors[0]
    # fixed: the overlay goes with the next page
    offer.write_text(text)
    loop.apply([str(offer)])
    assert "renderErrors = []" in client.get("/").get_data(as_text=True)


def test_the_dev_snippet_with_render_errors_is_valid_javascript(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from mendel_py.dev.loop import Status, client_snippet

    if shutil.which("node") is None:
        pytest.skip("needs node")
    snippet = str(client_snippet("/events", Status(1), ["error: TypeError: x\n    at f (a.js:1:2)</script>"]))
    script = snippet.split(">", 1)[1].rsplit("<", 1)[0]
    assert "</script>" not in script
    (tmp_path / "snippet.js").write_text(script)
    done = subprocess.run(["node", "--check", str(tmp_path / "snippet.js")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
