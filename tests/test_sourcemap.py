"""Source maps: exact positions (checked in node by the `source-map` package), nothing leaked."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from e2e_support import REPO, build_example_project
from lazy_project import write_lazy_project
from mendel_py.cli import cli
from mendel_py.sourcemap import _vlq
from mendel_py.trees import MendelTrees
from mendel_py.wsgi import MendelMiddleware

NODE_PREFIX = REPO / "benchmarks" / ".node"  # gitignored, shared with the other node checks
SOURCE_MAP_SPEC = "source-map@0.7.4"
CHECKER = Path(__file__).parent / "js" / "check_sourcemap.js"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)


def ensure_source_map_package() -> Path:
    """npm install the source-map consumer into the gitignored node folder, once."""
    modules = NODE_PREFIX / "node_modules"
    installed = modules / "source-map" / "package.json"
    wanted = SOURCE_MAP_SPEC.rsplit("@", 1)[1]
    # another package's dependency (browser-pack brings source-map 0.5) may hold the name
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        subprocess.run(
            ["npm", "install", "--prefix", str(NODE_PREFIX), SOURCE_MAP_SPEC, "--no-audit", "--no-fund",
             "--loglevel=error"],
            check=True, stdout=subprocess.DEVNULL, timeout=300,
        )
    return modules


def hash_of(trees: MendelTrees, bundle: str, names: list[str]) -> str:
    _matching, chains = trees.variations_and_chains(names)
    return trees.find_tree_for_variations(bundle, chains).hash


ESM_PROLOGUE = '"use strict";Object.defineProperty(exports,"__esModule"'


def test_vlq_matches_the_published_encoding() -> None:
    assert [_vlq(n) for n in (0, 1, -1, 15, 16, -16, 123, 1000)] == ["A", "C", "D", "e", "gB", "hB", "2H", "w+B"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop-maps"))


def test_production_bundles_point_at_no_map_and_maps_are_not_served(shop: Path) -> None:
    middleware = MendelMiddleware(lambda e, s: [], str(shop))
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", ["bucket_A"]))
    client = Client(middleware)
    body = client.get(url).get_data()
    assert b"sourceMappingURL" not in body and b"examples/" not in body and b"bucket_A" not in body
    response = client.get(url + ".map")
    assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"


def development_client(project: Path, **options: object) -> tuple[MendelMiddleware, Client]:
    middleware = MendelMiddleware(lambda e, s: [], str(project), development=True, **options)
    return middleware, Client(middleware)


def test_development_bundle_carries_its_map_url_and_the_map_is_served(shop: Path) -> None:
    middleware, client = development_client(shop)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", ["bucket_A"]))
    body = client.get(url).get_data(as_text=True)
    assert body.endswith("\n//# sourceMappingURL=main.js.map\n")
    assert b"examples/" not in body.encode() and "bucket_A" not in body
    response = client.get(url + ".map")
    assert response.status_code == 200 and response.mimetype == "application/json"
    source_map = json.loads(response.get_data())
    assert source_map["file"] == "main.js"
    assert any("variations/bucket_A" in source for source in source_map["sources"])
    for source, content in zip(source_map["sources"], source_map["sourcesContent"]):
        on_disk = (shop / source).read_text()
        if content.startswith(ESM_PROLOGUE):
            # An ES module's content is what the bundle runs: the compiled module, whose lines
            # are the file's lines (the prologue is prepended to line 1).
            assert content.count("\n") == on_disk.count("\n") and content.endswith(on_disk.splitlines()[-1] + "\n")
        else:
            assert on_disk == content  # CommonJS: positions refer to the real files
    production_etag = Client(MendelMiddleware(lambda e, s: [], str(shop))).get(url).headers["ETag"]
    assert client.get(url).headers["ETag"] != production_etag  # other bytes, other ETag


def test_development_maps_refuse_stylesheets_and_odd_spellings(shop: Path) -> None:
    middleware, client = development_client(shop)
    css = middleware.url_for_hash("css", hash_of(middleware.trees, "css", []))
    assert "NOMAP" in client.get(css + ".map").get_data(as_text=True)
    main = middleware.url_for_hash("main", hash_of(middleware.trees, "main", []))
    assert client.get(main + ".map?x=1").status_code == 404
    assert client.get(main.replace("main.js", "nope.js") + ".map").status_code == 404


@needs_node
@pytest.mark.parametrize("variations", [[], ["bucket_A"], ["bucket_D", "feature_C"]])
def test_every_token_maps_exactly_in_a_real_consumer(shop: Path, tmp_path: Path, variations: list[str]) -> None:
    modules = ensure_source_map_package()
    middleware, client = development_client(shop)
    url = middleware.url_for_hash("main", hash_of(middleware.trees, "main", variations))
    (tmp_path / "main.js").write_bytes(client.get(url).get_data())
    (tmp_path / "main.js.map").write_bytes(client.get(url + ".map").get_data())
    report = check_in_node(modules, tmp_path / "main.js", tmp_path / "main.js.map")
    assert report["wrong"] == [] and report["checked"] > 100


def check_in_node(modules: Path, script: Path, source_map: Path) -> dict:
    done = subprocess.run(
        ["node", str(CHECKER), str(modules), str(script), str(source_map)],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return json.loads(done.stdout)


@needs_node
def test_cli_writes_the_map_of_a_bundle_and_of_a_lazy_chunk(tmp_path: Path) -> None:
    modules = ensure_source_map_package()
    (tmp_path / "project").mkdir()
    project = write_lazy_project(tmp_path / "project")
    middleware, client = development_client(project)
    hash = hash_of(middleware.trees, "main", [])
    url = middleware.url_for_hash("main", hash)
    chunk_relative = json.loads(
        client.get(url).get_data(as_text=True).split("&&require,", 1)[1].rsplit(");", 1)[0]
    )
    [(chunk_id, (relative, _integrity))] = chunk_relative.items()
    runner = CliRunner()
    for chunk, name in ((None, "main.js"), (int(chunk_id), relative)):
        output = tmp_path / f"{name}.map"
        args = ["sourcemap", "--basedir", str(project), "--bundle", "main", hash, "-o", str(output)]
        result = runner.invoke(cli, args + (["--chunk", str(chunk)] if chunk is not None else []))
        assert result.exit_code == 0, result.output
        script_url = url if chunk is None else url.replace("main.js", relative)
        script = tmp_path / name
        script.write_bytes(client.get(script_url).get_data())
        served = client.get(script_url + ".map").get_data()
        assert json.loads(output.read_bytes()) == json.loads(served)
        report = check_in_node(modules, script, output)
        assert report["wrong"] == [] and report["checked"] > 10
        expected = {"src/base/deep.js"} if chunk is not None else {"src/base/main.js", "src/base/util.js"}
        assert set(report["sources"]) >= expected
    missing = runner.invoke(cli, ["sourcemap", "--basedir", str(project), "--bundle", "main", hash, "--chunk", "999"])
    assert missing.exit_code == 1 and "no lazy chunk 999" in missing.output
