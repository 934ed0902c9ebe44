"""Assets: a stylesheet's url(), a script's `import logo from "./logo.svg"` and `new URL(...,
import.meta.url)` become immutable, content-addressed URLs under the route's prefix, copied to the
asset store by the build and served by the middleware with its default options."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from werkzeug.test import Client

from build_support import DEFAULT_RC, build, make_project, manifest, module
from mendel_py.compiler import BuildError
from mendel_py.core.assets import digest_of
from mendel_py.core.trees import MendelTrees
from mendel_py.packing.packer import css_body, pack_js
from mendel_py.serving.wsgi import MendelMiddleware
from node_support import VM_HARNESS

BASE = "src/base"
VAR_A, VAR_B, VAR_C = (f"src/variations/{name}" for name in ("var_a", "var_b", "var_c"))
RC = DEFAULT_RC + """\
  style:
    entries: [style.css]
    serveAs: css
    manifest: manifests/style.manifest.json
"""
PNG = bytes.fromhex(  # a 1x1 red PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d4944415478da63f8cfc0f01f0005000201" "e0d1e6e70000000049454e44ae426082"
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><rect width="2" height="2"/></svg>\n'
URL = re.compile(r"/mendel/a/([0-9a-f]{20})/([\w.+-]+)")


def page(environ: dict[str, object], start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"page"]


def project(root: Path, extra: dict[str, str | bytes] | None = None) -> None:
    files: dict[str, str | bytes] = {
        f"{BASE}/main.js": (
            "import logo from './img/logo.svg';\n"
            "const icon = new URL('./img/icon.png', import.meta.url);\n"
            "console.log(logo, String(require('./img/logo.svg') === logo), icon.href);\n"
            "export { icon };\n"
        ),
        f"{BASE}/style.css": (
            "/* url(ignored.png) */\n"
            "@import url('https://fonts.example/x.css');\n"
            ".hero { background: url(img/icon.png) no-repeat; }\n"
            '.logo { background-image: url("./img/logo.svg"); }\n'
            ".keep { background: url(data:image/png;base64,AA==), url(/site.png), url(#f); }\n"
        ),
        f"{BASE}/img/logo.svg": SVG,
        f"{BASE}/img/icon.png": PNG,
        **(extra or {}),
    }
    text = {k: v for k, v in files.items() if isinstance(v, str)}
    for name in ("var_a", "var_b", "var_c"):
        (root / "src" / "variations" / name).mkdir(parents=True, exist_ok=True)
    make_project(root, text, RC)
    for name, data in files.items():
        if isinstance(data, bytes):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)


def css_of(root: Path, chain: list[str]) -> str:
    """The stylesheet a lookup chain of folders gets (base last)."""
    tree = MendelTrees(str(root)).find_tree_for_variations("style", [[*chain, BASE]])
    return b"".join(css_body(tree).chunks()).decode()


def test_css_urls_are_rewritten_to_content_addressed_urls_and_copied(tmp_path: Path) -> None:
    project(tmp_path)
    build(tmp_path)
    css = css_of(tmp_path, [])
    png, svg = digest_of(PNG), digest_of(SVG.encode())
    assert f"url(/mendel/a/{png}/icon.png)" in css
    assert f'url("/mendel/a/{svg}/logo.svg")' in css
    assert "url(data:image/png;base64,AA==), url(/site.png), url(#f)" in css
    assert "/* url(ignored.png) */" in css and "https://fonts.example/x.css" in css
    assert "src/" not in css and "base/" not in css  # no source path
    assert (tmp_path / "manifests" / "assets" / png / "icon.png").read_bytes() == PNG
    assert (tmp_path / "manifests" / "assets" / svg / "logo.svg").read_text() == SVG


def test_minified_stylesheets_keep_their_asset_urls(tmp_path: Path) -> None:
    """The minifier runs over the stylesheet with each url's place marked, so the asset URLs the
    graph writes in land in the minified text (and a variation's asset still gets its own)."""
    project(tmp_path)
    build(tmp_path, minify=True)
    css = css_of(tmp_path, [])
    png, svg = digest_of(PNG), digest_of(SVG.encode())
    assert f".hero{{background:url(/mendel/a/{png}/icon.png) no-repeat}}" in css
    assert f'.logo{{background-image:url("/mendel/a/{svg}/logo.svg")}}' in css
    assert "ignored.png" not in css and "__mendel_url" not in css and "\n\n" not in css


def test_script_assets_are_their_urls(tmp_path: Path) -> None:
    project(tmp_path)
    build(tmp_path)
    document = manifest(tmp_path)
    assert module(document, "img/logo.svg")["data"][0]["source"] == (
        f'module.exports = "/mendel/a/{digest_of(SVG.encode())}/logo.svg";'
    )
    tree = MendelTrees(str(tmp_path)).find_tree_for_variations("main", [[BASE]])
    bundle = tmp_path / "bundle.js"
    bundle.write_bytes(pack_js(tree).replace(b"self.location.href", b"'http://shop.test/x/'"))
    harness = tmp_path / "harness.cjs"
    harness.write_text(VM_HARNESS.replace("const sandbox = {", "const sandbox = {URL, "))
    done = subprocess.run(["node", str(harness), str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.stdout == (
        f"/mendel/a/{digest_of(SVG.encode())}/logo.svg true http://shop.test/mendel/a/{digest_of(PNG)}/icon.png\n"
    )
    source = module(document, "main.js")["data"][0]["source"]
    assert "import.meta" not in source and 'require("./img/icon.png")' in source


def test_a_variation_overriding_only_an_asset_changes_the_bundles_that_use_it(tmp_path: Path) -> None:
    other_png = PNG[:-4] + b"\x00\x00\x00\x01"
    project(tmp_path, {f"{VAR_A}/img/icon.png": other_png})  # type: ignore[dict-item]
    (tmp_path / VAR_A / "img" / "icon.png").write_bytes(other_png)
    build(tmp_path)
    trees = MendelTrees(str(tmp_path))
    assert f"/mendel/a/{digest_of(other_png)}/icon.png" in css_of(tmp_path, [VAR_A])
    assert f"/mendel/a/{digest_of(other_png)}/icon.png" in css_of(tmp_path, [VAR_C, VAR_A])  # inherits var_a
    assert f"/mendel/a/{digest_of(PNG)}/icon.png" in css_of(tmp_path, [VAR_B])
    chains = ([BASE], [VAR_A, BASE], [VAR_B, BASE])
    style = [trees.find_tree_for_variations("style", [chain]).hash for chain in chains]
    script = [trees.find_tree_for_variations("main", [chain]).hash for chain in chains]
    assert style[0] != style[1] and style[0] == style[2]
    assert script[0] != script[1] and script[0] == script[2]
    entry = module(manifest(tmp_path, "style"), "style.css")
    assert entry["variations"] == [BASE, VAR_A]
    assert all(data["file"] == f"{BASE}/style.css" for data in entry["data"])


@pytest.mark.parametrize(
    ("file", "text", "line", "shown"),
    [
        ("style.css", "a {}\n\n.x { background: url(./img/missing.png) }\n", 3, 'url("./img/missing.png")'),
        ("main.js", "var x = 1;\nimport logo from './img/missing.svg';\n", 2, './img/missing.svg'),
    ],
)
def test_a_missing_asset_fails_the_build_with_file_and_line(
    tmp_path: Path, file: str, text: str, line: int, shown: str
) -> None:
    project(tmp_path, {f"{BASE}/{file}": text})
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    assert (caught.value.file, caught.value.line) == (f"{BASE}/{file}", line)
    assert shown in str(caught.value)


def test_the_middleware_serves_assets_immutable_with_etag_304_and_head(tmp_path: Path) -> None:
    project(tmp_path)
    build(tmp_path)
    client = Client(MendelMiddleware(page, str(tmp_path)))
    png = digest_of(PNG)
    url = f"/mendel/a/{png}/icon.png"
    response = client.get(url)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["ETag"] == f'"{png}"'
    assert response.headers["Content-Length"] == str(len(PNG))
    svg = client.get(f"/mendel/a/{digest_of(SVG.encode())}/logo.svg")
    assert svg.headers["Content-Type"] == "image/svg+xml; charset=utf-8" and svg.text == SVG
    head = client.head(url)
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(PNG))
    again = client.get(url, headers={"If-None-Match": f'"{png}"'})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == f'"{png}"'
    for bad in (
        f"/mendel/a/{png}/other.png", f"/mendel/a/{'0' * 20}/icon.png", "/mendel/a/x", f"/mendel/a/{png}",
        f"/mendel/a/{png}/icon.png?v=1", f"/mendel/a/{png}/icon.png/x",
    ):
        missing = client.get(bad)
        assert missing.status_code == 404, bad
        assert missing.headers["Cache-Control"] == "no-store"
    assert client.post(url).status_code == 405


def test_a_tampered_asset_is_not_served(tmp_path: Path) -> None:
    project(tmp_path)
    build(tmp_path)
    png = digest_of(PNG)
    (tmp_path / "manifests" / "assets" / png / "icon.png").write_bytes(PNG + b"x")
    client = Client(MendelMiddleware(page, str(tmp_path)))
    assert client.get(f"/mendel/a/{png}/icon.png").status_code == 404


def test_a_large_asset_is_served_from_its_checked_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mendel_py.serving import assets

    monkeypatch.setattr(assets, "IN_MEMORY_BYTES", 10)
    project(tmp_path)
    build(tmp_path)
    png = digest_of(PNG)
    middleware = MendelMiddleware(page, str(tmp_path))
    assert middleware.assets.assets[png, "icon.png"].data is None
    client = Client(middleware)
    assert client.get(f"/mendel/a/{png}/icon.png").data == PNG
    (tmp_path / "manifests" / "assets" / png / "icon.png").write_bytes(b"other bytes, other size")
    assert client.get(f"/mendel/a/{png}/icon.png").status_code == 404


def test_url_prefix_makes_full_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENDEL_URL_PREFIX", "https://cdn.example.com/")
    project(tmp_path)
    build(tmp_path)
    assert f"url(https://cdn.example.com/mendel/a/{digest_of(PNG)}/icon.png)" in css_of(tmp_path, [])
    data = json.loads((tmp_path / "manifests" / "main.manifest.json").read_text())
    assert "https://cdn.example.com/mendel/a/" in module(data, "img/logo.svg")["data"][0]["source"]


def test_assets_live_beside_a_bundle_named_a_under_any_route(tmp_path: Path) -> None:
    rc = (RC.replace("  main:\n", "  a:\n") + "route-config:\n  hash: /m/:bundle/:hash\n")
    project(tmp_path)
    (tmp_path / ".mendelrc").write_text(rc)
    build(tmp_path)
    css = css_of(tmp_path, [])
    asset = re.search(r"url\((/m/a/[0-9a-f]{20}/icon\.png)\)", css)
    assert asset is not None, css
    middleware = MendelMiddleware(page, str(tmp_path))
    client = Client(middleware)
    tree = MendelTrees(str(tmp_path)).find_tree_for_variations("a", [[BASE]])
    assert client.get(middleware.url_for_hash("a", tree.hash)).status_code == 200
    assert client.get(asset.group(1)).data == PNG


def test_text_assets_are_served_compressed_when_asked(tmp_path: Path) -> None:
    import gzip

    big = SVG.replace("/>", "/>" + "<!-- padding -->" * 40)
    project(tmp_path, {f"{BASE}/img/logo.svg": big})
    build(tmp_path)
    client = Client(MendelMiddleware(page, str(tmp_path)))
    url = f"/mendel/a/{digest_of(big.encode())}/logo.svg"
    plain = client.get(url)
    assert plain.headers["Vary"] == "Accept-Encoding" and "Content-Encoding" not in plain.headers
    assert plain.text == big
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == big.encode()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert zipped.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == zipped.headers["ETag"]
    head = client.head(url, headers={"Accept-Encoding": "gzip"})
    assert head.data == b"" and head.headers["Content-Length"] == str(len(zipped.data))
    png = client.get(f"/mendel/a/{digest_of(PNG)}/icon.png", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in png.headers and "Vary" not in png.headers


def test_the_same_bytes_under_two_names_are_two_urls(tmp_path: Path) -> None:
    style = ".a { background: url(img/icon.png) }\n.b { background: url(img/copy.png) }\n"
    project(tmp_path, {f"{BASE}/style.css": style})
    (tmp_path / BASE / "img" / "copy.png").write_bytes(PNG)
    build(tmp_path)
    client = Client(MendelMiddleware(page, str(tmp_path)))
    for name in ("icon.png", "copy.png"):
        assert client.get(f"/mendel/a/{digest_of(PNG)}/{name}").data == PNG


def test_the_dev_build_serves_an_edited_asset_at_its_new_url(tmp_path: Path) -> None:
    from mendel_py.compiler.incremental import IncrementalBuild
    from mendel_py.config import load_config

    style = ".a { background: url(img/icon.png) }\n.c { cursor: url(img/hand.cur) }\n"
    project(tmp_path, {f"{BASE}/style.css": style})
    (tmp_path / BASE / "img" / "hand.cur").write_bytes(b"\xff\x00binary")
    build_ = IncrementalBuild(load_config(str(tmp_path)))
    build_.rebuild()
    trees = MendelTrees(str(tmp_path), follow_current=False)
    client = Client(MendelMiddleware(page, trees, development=True))
    assert client.get(f"/mendel/a/{digest_of(PNG)}/icon.png").status_code == 200
    edited = PNG[:-4] + b"\x00\x00\x00\x02"
    (tmp_path / BASE / "img" / "icon.png").write_bytes(edited)
    result = build_.update([str(tmp_path / BASE / "img" / "icon.png")])
    assert set(result.written) == {"main", "style"}  # the stylesheet and the script's asset module
    trees.reload()
    tree = trees.find_tree_for_variations("style", [[BASE]])
    assert f"/mendel/a/{digest_of(edited)}/icon.png" in b"".join(css_body(tree).chunks()).decode()
    assert client.get(f"/mendel/a/{digest_of(edited)}/icon.png").data == edited
    (tmp_path / BASE / "img" / "hand.cur").write_bytes(b"\xff\x01binary")  # only a stylesheet's asset
    assert build_.update([str(tmp_path / BASE / "img" / "hand.cur")]).written == ("style",)
    trees.reload()
    cursor = b"\xff\x01binary"
    assert client.get(f"/mendel/a/{digest_of(cursor)}/hand.cur").data == cursor


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_asgi_middleware_serves_assets_with_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """Assets are part of the bundle URL's one decision, so ASGI (and Django) serve them too: from
    memory, or (large ones) from the checked file in a worker thread."""
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from mendel_py.asgi import MendelASGIMiddleware
    from mendel_py.serving import assets

    if not in_memory:
        monkeypatch.setattr(assets, "IN_MEMORY_BYTES", 10)
    project(tmp_path)
    build(tmp_path)

    png = digest_of(PNG)
    url = f"/mendel/a/{png}/icon.png"
    wsgi = Client(MendelMiddleware(page, str(tmp_path))).get(url)
    with TestClient(MendelASGIMiddleware(Starlette(), str(tmp_path), reload_interval=None)) as client:
        response = client.get(url)
        assert response.status_code == 200 and response.content == PNG
        assert {k.lower(): v for k, v in wsgi.headers.items()} == dict(response.headers.items())
        head = client.head(url)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(PNG))
        assert client.get(url, headers={"If-None-Match": f'"{png}"'}).status_code == 304
        missing = client.get(f"/mendel/a/{png}/other.png")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("damage", [b"", PNG[:10], PNG + b"x"])
def test_a_damaged_stored_asset_is_written_again_by_the_next_build(tmp_path: Path, damage: bytes) -> None:
    """A store file is skipped only when its bytes are its digest's: a truncated or corrupted one
    (a server refuses it: 404) is replaced by the next build, not kept for good; so is a copy
    in a generation store (`copy_store`), which never takes a damaged source."""
    from mendel_py.core.assets import copy_store

    project(tmp_path)
    build(tmp_path)
    png = digest_of(PNG)
    stored = tmp_path / "manifests" / "assets" / png / "icon.png"
    stored.write_bytes(damage)
    assert Client(MendelMiddleware(page, str(tmp_path))).get(f"/mendel/a/{png}/icon.png").status_code == 404
    copied = tmp_path / "copy"
    copy_store(str(tmp_path / "manifests" / "assets"), str(copied))
    assert not (copied / png / "icon.png").exists()  # (the damaged source is not spread)
    build(tmp_path)
    assert stored.read_bytes() == PNG
    assert Client(MendelMiddleware(page, str(tmp_path))).get(f"/mendel/a/{png}/icon.png").data == PNG
    (copied / png).mkdir(parents=True)
    (copied / png / "icon.png").write_bytes(damage)
    assert copy_store(str(tmp_path / "manifests" / "assets"), str(copied)) >= 1
    assert (copied / png / "icon.png").read_bytes() == PNG
