"""Assets for real: a project whose stylesheet paints an image and whose script renders with React
19 from npm, built by `mendel build`, served by gunicorn, fetched through nginx as a caching proxy,
and shown in headless Chromium (the image's pixels on a screenshot; a variation that overrides
only the image paints another colour); React 19 (`react-dom/client`) and Preact 10 render there."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_support import (
    Server,
    chromium,
    chromium_available,
    free_port,
    http_get,
    running_gunicorn,
    stop_process,
    wait_for_port,
)
from node_support import ensure_npm_package

NGINX = "/usr/sbin/nginx"
REACT = ("react@19.3.1", "react-dom@19.3.1", "scheduler@0.28.0", "preact@10.29.8")
RC = """\
base-config:
  dir: ./src/base
variation-config:
  variation-dirs: [./src/variations]
  variations:
    var_a:
bundles:
  main:
    entries: [main.js]
    manifest: manifests/main.manifest.json
  style:
    entries: [style.css]
    serveAs: css
    manifest: manifests/style.manifest.json
"""
STYLE = ".hero { width: 64px; height: 64px; background: url(img/dot.png); }\n"
MAIN = (
    "import React from 'react';\n"
    "import { createRoot } from 'react-dom/client';\n"
    "import { flushSync } from 'react-dom';\n"
    "function Hello({ name }) { return React.createElement('p', { id: 'hello' }, 'hello ', name); }\n"
    "const root = createRoot(document.getElementById('root'));\n"
    "flushSync(() => root.render(React.createElement(Hello, { name: 'react' })));\n"
    "import { h, render } from 'preact';\n"
    "import { useState } from 'preact/hooks';\n"
    "function Count() { const [n] = useState(2); return h('b', { id: 'count' }, 'preact ', n); }\n"
    "render(h(Count, null), document.getElementById('proot'));\n"
    "document.body.setAttribute('data-ready', 'yes');\n"
)
RED, BLUE = (220, 20, 20), (20, 40, 220)


def png(colour: tuple[int, int, int], size: int = 4) -> bytes:
    """A solid `size` x `size` RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    rows = b"".join(b"\x00" + bytes(colour) * size for _ in range(size))
    header = size.to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("assets")
    files: dict[str, bytes] = {
        ".mendelrc": RC.encode(),
        "src/base/style.css": STYLE.encode(),
        "src/base/main.js": MAIN.encode(),
        "src/base/img/dot.png": png(RED),
        "src/variations/var_a/img/dot.png": png(BLUE),  # the variation overrides only the image
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    if shutil.which("node") and shutil.which("npm"):
        for spec in REACT:
            modules = ensure_npm_package(spec)
        (root / "node_modules").mkdir()
        for name in ("react", "react-dom", "scheduler", "preact"):
            os.symlink(modules / name, root / "node_modules" / name)
    else:
        (root / "src/base/main.js").write_text("document.body.setAttribute('data-ready', 'yes');\n")
    done = subprocess.run(
        [sys.executable, "-m", "mendel_py", "build", "--basedir", str(root)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    with running_gunicorn(project, app="asset_app:create_app()") as running:
        yield running


def asset_url_of(server_url: str, variations: str = "") -> tuple[str, str]:
    """(stylesheet URL, asset URL in it) of the page in `variations`."""
    page = http_get(f"{server_url}/?v={variations}").body.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    css = http_get(server_url + stylesheet).body.decode()
    return stylesheet, re.search(r"url\(([^)]+)\)", css).group(1)  # type: ignore[union-attr]


def head(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_gunicorn_serves_the_asset_immutable_with_etag_and_304(server: Server) -> None:
    _, asset = asset_url_of(server.url)
    assert re.fullmatch(r"/mendel/a/[0-9a-f]{20}/dot\.png", asset)
    response = http_get(server.url + asset)
    assert response.status == 200 and response.body == png(RED)
    assert response.header("content-type") == "image/png"
    assert response.header("cache-control") == "public, max-age=31536000, immutable"
    etag = response.header("etag")
    assert etag
    assert http_get(server.url + asset, {"If-None-Match": etag}).status == 304
    status, headers, body = head(server.url + asset)
    assert (status, body, headers["content-length"]) == (200, b"", str(len(png(RED))))
    _, other = asset_url_of(server.url, "var_a")
    assert other != asset and http_get(server.url + other).body == png(BLUE)
    assert "var_a" not in other and "src" not in other
    missing = http_get(server.url + asset.replace("dot.png", "dot.gif"))
    assert missing.status == 404 and missing.header("cache-control") == "no-store"


NGINX_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=bundles:1m max_size=64m inactive=1h use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        add_header X-Cache-Status $upstream_cache_status always;
        location /mendel/ {{
            proxy_pass http://127.0.0.1:{origin_port};
            proxy_cache bundles;
            proxy_cache_key $scheme$host$request_uri;
            proxy_cache_valid 200 404 10m;  # the origin's no-store must keep 404s out
            proxy_set_header Cookie "";
        }}
        location / {{ proxy_pass http://127.0.0.1:{origin_port}; }}
    }}
}}
"""


@pytest.mark.skipif(not os.path.exists(NGINX), reason=f"needs Debian's nginx ({NGINX})")
def test_nginx_caches_assets_and_not_their_404s(server: Server, tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp_path, port=port, origin_port=server.port))
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, nginx)
        proxy = f"http://127.0.0.1:{port}"
        _, asset = asset_url_of(proxy)
        first, second = http_get(proxy + asset), http_get(proxy + asset)
        assert (first.status, second.status) == (200, 200)
        assert (first.header("x-cache-status"), second.header("x-cache-status")) == ("MISS", "HIT")
        assert second.body == png(RED) and second.header("etag") == first.header("etag")
        assert second.header("cache-control") == "public, max-age=31536000, immutable"
        missing = asset.replace("dot.png", "nope.png")
        assert http_get(proxy + missing).status == 404
        again = http_get(proxy + missing)
        assert again.status == 404 and again.header("x-cache-status") != "HIT"
    finally:
        stop_process(nginx)


@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and chromium-driver")
def test_chromium_paints_the_css_image_and_runs_react(server: Server, project: Path) -> None:
    pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as browser:
        for variations, colour in (("", RED), ("var_a", BLUE)):
            browser.get(f"{server.url}/?v={variations}")
            WebDriverWait(browser, 30).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "body[data-ready='yes']"))
            )
            shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
            ratio = shot.width / browser.execute_script("return window.innerWidth")
            pixel = shot.getpixel((int(32 * ratio), int(32 * ratio)))
            assert all(abs(a - b) <= 8 for a, b in zip(pixel, colour, strict=True)), (variations, pixel)
            if (project / "node_modules").exists():
                assert browser.find_element(By.CSS_SELECTOR, "#hello").text == "hello react"
                assert browser.find_element(By.CSS_SELECTOR, "#count").text == "preact 2"
            errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
            assert not errors, errors
