"""Lazy chunks: modules a tree reaches only through import() are served as chunks of its bundle."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from werkzeug.test import Client

from lazy_project import write_lazy_project
from mendel_py.core.manifest import compile_manifest
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ManifestError
from mendel_py.packing.packer import pack_js
from mendel_py.serving import html as tags
from mendel_py.serving.route import BundleRoute
from mendel_py.serving.wsgi import MendelMiddleware


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_lazy_project(tmp_path)


def client_for(project: Path, **options: object) -> tuple[MendelMiddleware, Client]:
    middleware = MendelMiddleware(lambda environ, start: [], MendelTrees(str(project)), **options)
    return middleware, Client(middleware)


def main_url(middleware: MendelMiddleware, variations: list[str]) -> str:
    _matching, chains = middleware.trees.variations_and_chains(variations)
    return middleware.url_for_hash("main", middleware.trees.find_tree_for_variations("main", chains).hash)


def chunk_table(script: str) -> dict[str, str]:
    return json.loads(re.search(r'&&require,(\{.*\})\);\n$', script).group(1))


def test_main_script_leaves_the_lazy_part_to_a_chunk(project: Path) -> None:
    middleware, client = client_for(project)
    url = main_url(middleware, [])
    script = client.get(url).get_data(as_text=True)
    assert 'exports.tag = "util"' in script and "window.openPanel" in script
    assert "deep" not in script and "module.exports = {label" not in script
    table = chunk_table(script)
    [(chunk_id, (relative, integrity))] = table.items()
    assert relative == f"main~{chunk_id}.js"
    chunk = client.get(url.replace("main.js", relative))
    assert integrity == tags.integrity_of(chunk.get_data())
    assert chunk.status_code == 200
    assert chunk.headers["Content-Type"].startswith("application/javascript")
    assert chunk.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    body = chunk.get_data(as_text=True)
    assert body.startswith("document.currentScript.mendelAdd([")
    assert 'module.exports = "deep"' in body and "require(\"./deep.js\")" in body
    assert 'exports.tag = "util"' not in body  # the main part already has it
    again = client.get(url.replace("main.js", relative), headers={"If-None-Match": chunk.headers["ETag"]})
    assert again.status_code == 304


def test_a_variation_overrides_the_lazily_loaded_file(project: Path) -> None:
    middleware, client = client_for(project)
    url = main_url(middleware, ["bucket_A"])
    assert url != main_url(middleware, [])
    [(relative, _integrity)] = chunk_table(client.get(url).get_data(as_text=True)).values()
    body = client.get(url.replace("main.js", relative)).get_data(as_text=True)
    assert "panel of bucket A" in body and "deep" not in body


@pytest.mark.parametrize("suffix, code", [
    ("~999.js", "NOCHUNK"),
    ("~07.js", "NOBUNDLE"),
    ("~x.js", "NOBUNDLE"),
    ("~.js", "NOBUNDLE"),
])
def test_a_chunk_url_the_tree_lacks_is_a_404_no_store(project: Path, suffix: str, code: str) -> None:
    middleware, client = client_for(project)
    url = main_url(middleware, []).replace(".js", suffix)
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert code in response.get_data(as_text=True)


def test_a_css_bundle_has_no_chunks(project: Path) -> None:
    middleware, client = client_for(project)
    _m, chains = middleware.trees.variations_and_chains([])
    url = middleware.url_for_hash("css", middleware.trees.find_tree_for_variations("css", chains).hash)
    assert client.get(url).status_code == 200
    response = client.get(url.replace("css.css", "css~1.css"))
    assert response.status_code == 404 and "NOBUNDLE" in response.get_data(as_text=True)


def test_chunk_urls_are_relative_for_any_route_shape() -> None:
    route = BundleRoute("/m/:bundle/:hash")
    assert route.chunk_path("main", "H", 7, ".js") == "/m/main~7/H"
    assert route.chunk_url_from_bundle("main", "H", 7, ".js") == "../main~7/H"
    assert route.chunk_of("main~7", {"main": ".js"}) == ("main", 7)
    default = BundleRoute("/mendel/:hash/:bundle")
    assert default.chunk_url_from_bundle("main", "H", 7, ".js") == "main~7.js"
    assert default.chunk_of("main~7.js", {"main": ".js"}) == ("main", 7)
    assert default.chunk_of("main~7", {"main": ".js"}) is None
    assert default.chunk_of("other~7.js", {"main": ".js"}) is None


def test_chunks_under_another_route_shape(project: Path) -> None:
    middleware, client = client_for(project, route="/m/:bundle/:hash")
    url = main_url(middleware, [])
    [(relative, _integrity)] = chunk_table(client.get(url).get_data(as_text=True)).values()
    chunk_url = url.rsplit("/", 2)[0] + "/" + relative.removeprefix("../")
    assert client.get(chunk_url).status_code == 200


def test_pack_without_chunk_urls_holds_every_module(project: Path) -> None:
    trees = MendelTrees(str(project))
    tree = trees.find_tree_for_variations("main", [["src/base"]])
    script = pack_js(tree).decode()
    assert 'module.exports = "deep"' in script and "r.lazy=" in script
    assert chunk_table(script) == {}


def test_lazy_must_name_a_dependency(project: Path) -> None:
    data = json.loads((project / "manifests" / "main.manifest.json").read_text())
    data["bundles"][data["indexes"]["main.js"]]["data"][0]["lazy"] = ["./nowhere.js"]
    with pytest.raises(ManifestError, match=r'data\[0\]\.lazy'):
        compile_manifest(data, "main.manifest.json", "main")
