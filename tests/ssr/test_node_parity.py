"""React 19 and Preact 10 from npm: the sandbox's HTML is node's, byte for byte.

node renders the project's own files natively (base, each variation's files laid over it, node's
own copies of the packages); `Renderer` in both engines, `mendel render` and a Flask page must
give the same bytes, for several variation sets, with props that need escaping.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mendel_py.core.trees import MendelTrees
from mendel_py.ssr import Renderer, RenderError
from node_support import needs_node_and_npm
from ssr_project import TRICKY_PROPS, VARIATION_SETS, make_ssr_project, node_render

pytestmark = needs_node_and_npm
LIBRARIES = ["react", "preact"]


@pytest.fixture(scope="module", params=LIBRARIES)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    work = tmp_path_factory.mktemp(request.param)
    return request.param, make_ssr_project(work / "project", request.param), work


@pytest.fixture(scope="module")
def native(built: tuple[str, Path, Path]) -> dict[tuple[str, ...], str]:
    _library, root, work = built
    return {names: node_render(root, names, TRICKY_PROPS, work) for names in VARIATION_SETS}


def test_the_variation_sets_render_differently_in_node(native: dict[tuple[str, ...], str]) -> None:
    assert len(set(native.values())) == len(VARIATION_SETS)
    for html in native.values():
        assert "&lt;script" in html and "<script>" not in html and "\u00fc" in html


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_the_sandbox_renders_what_node_renders(
    built: tuple[str, Path, Path], native: dict[tuple[str, ...], str], engine: str
) -> None:
    _library, root, _work = built
    renderer = Renderer(MendelTrees(str(root)), engine=engine)
    for names in VARIATION_SETS:
        assert renderer.render("main", names, TRICKY_PROPS) == native[names], names
        # and again in the same context, with nothing kept from the first
        assert renderer.render("main", names, TRICKY_PROPS) == native[names], names
    renderer.contexts.clear()


def test_mendel_render_prints_nodes_html_and_one_newline(
    built: tuple[str, Path, Path], native: dict[tuple[str, ...], str], tmp_path: Path
) -> None:
    _library, root, _work = built
    props_file = tmp_path / "props.json"
    props_file.write_text(json.dumps(TRICKY_PROPS), encoding="utf-8")
    for names in VARIATION_SETS:
        done = subprocess.run(
            [sys.executable, "-m", "mendel_py", "render", "main", "--basedir", str(root),
             "--variations", ",".join(names), "--props", f"@{props_file}"],
            capture_output=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout == native[names].encode("utf-8") + b"\n", names


def test_a_page_embeds_nodes_html_and_the_props(
    built: tuple[str, Path, Path], native: dict[tuple[str, ...], str]
) -> None:
    from flask import Flask, render_template_string

    from mendel_py.integrations.flask import Mendel

    _library, root, _work = built
    app = Flask(__name__)
    app.config.update(MENDEL_BASEDIR=str(root), MENDEL_VISITOR_CHOICE=True, MENDEL_COOKIE_NAME="v", TESTING=True)
    Mendel(app)

    @app.route("/")
    def page() -> str:
        return render_template_string('<body>{{ mendel_render("main", props) }}{{ mendel_script("main") }}</body>',
                                      props=TRICKY_PROPS)

    client = app.test_client()
    for names in VARIATION_SETS:
        client.set_cookie("v", ",".join(names))
        html = client.get("/").get_data(as_text=True)
        found = re.search(r'<div data-mendel-root="main" data-mendel-ssr="">(.*?)</div><script type="application/json"'
                          r' data-mendel-props="main">(.*?)</script>', html, re.S)
        assert found, html
        assert found.group(1) == native[names], names
        assert json.loads(found.group(2)) == TRICKY_PROPS
        assert "<script>alert" not in found.group(2) and "\u2028" not in found.group(2)


def test_react_faults_fall_back_to_the_client_container(built: tuple[str, Path, Path]) -> None:
    from mendel_py.ssr import page_html

    _library, root, _work = built
    trees = MendelTrees(str(root))
    renderer = Renderer(trees, timeout=1.0)
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains([])[1])
    with pytest.raises(RenderError):
        renderer.render_tree("main", tree, {"title": "x", "items": None})  # items.map of null
    html = page_html(renderer, "main", tree, {"title": "x", "items": None})
    assert html.startswith('<div data-mendel-root="main"></div><script type="application/json"')
    assert renderer.status()["fallbacks"] == 1
    assert renderer.render_tree("main", tree, {"title": "x", "items": []}).startswith("<main")
