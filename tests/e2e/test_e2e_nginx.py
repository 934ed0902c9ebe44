"""nginx as a caching reverse proxy (a CDN stand-in) in front of the example shop under gunicorn (the
Flask shop and the Django shop for the proxy tests; the Flask shop for the shipped conf)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e_support import (
    HttpResult,
    Server,
    build_example_project,
    deploy_example,
    free_port,
    http_get,
    render_shipped_nginx_conf,
    running_gunicorn,
    running_stack,
    stop_process,
    wait_for_port,
)

NGINX = "/usr/sbin/nginx"

if not os.path.exists(NGINX):
    pytest.skip(f"reverse-proxy test needs Debian's nginx ({NGINX})", allow_module_level=True)

# One access-log line per request as the origin saw it: method, path and the Cookie header.
ACCESS_FORMAT = "ORIGIN %(m)s %(U)s cookie=%({cookie}i)s"

NGINX_CONF = """\
daemon off;
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=bundles:1m max_size=64m inactive=1h
                     use_temp_path=off;

    upstream origin {{ server 127.0.0.1:{origin_port}; }}

    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        add_header X-Cache-Status $upstream_cache_status always;

        # Bundles: shared cache, keyed by URL only; the visitor's cookies never reach the origin.
        location /mendel/ {{
            proxy_pass http://origin;
            proxy_cache bundles;
            proxy_cache_key $scheme$host$request_uri;
            # Would cache 404s for 10 minutes: the origin's "no-store" must prevent it.
            proxy_cache_valid 200 404 10m;
            proxy_set_header Cookie "";
        }}

        # Pages: personalised by the cookie, passed through; the cache obeys the origin's headers.
        location / {{
            proxy_pass http://origin;
            proxy_cache bundles;
            proxy_cache_key $scheme$host$request_uri;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    url: str
    origin: Server
    project: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> HttpResult:
        return http_get(self.url + path, headers)


def write_nginx_conf(tmp: Path, port: int, origin_port: int) -> Path:
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the temp folders
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, origin_port=origin_port))
    return conf


@pytest.fixture(scope="module", params=["flask", "django"])
def proxy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx in front of the shop under gunicorn, as a Flask app and as a Django project."""
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    tmp = tmp_path_factory.mktemp("nginx")
    with running_stack(request.param, project, access_log_format=ACCESS_FORMAT) as origin:
        port = free_port()
        conf = write_nginx_conf(tmp, port, origin.port)
        command = [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
        nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, nginx)
            yield Proxy(f"http://127.0.0.1:{port}", origin, project)
        finally:
            stop_process(nginx)


def bundle_urls(html: str) -> tuple[str, str]:
    script = re.search(r'<script src="(/mendel/[^"]+)"', html).group(1)
    stylesheet = re.search(r'<link rel="stylesheet" href="(/mendel/[^"]+)"', html).group(1)
    return script, stylesheet


def page(proxy: Proxy, variations: str) -> HttpResult:
    return proxy.get("/", {"Cookie": f"mendel_variations={variations}"})  # empty: base


def origin_lines(proxy: Proxy, path: str) -> list[str]:
    """Access-log lines the origin has printed so far for `path`."""
    log = proxy.origin.access_log
    assert log is not None
    log.text()
    return [line.strip() for line in log.seen if f" {path} cookie=" in line]


def get_and_origin_line(proxy: Proxy, path: str, headers: dict[str, str] | None = None) -> tuple[HttpResult, str]:
    """GET `path` through nginx; also the origin's log line for it (waits for the line)."""
    before = len(origin_lines(proxy, path))
    response = proxy.get(path, headers)
    assert proxy.origin.access_log is not None
    proxy.origin.access_log.wait_for(f" {path} cookie=", count=before + 1)
    return response, origin_lines(proxy, path)[before]


def test_second_bundle_request_is_a_cache_hit(proxy: Proxy) -> None:
    script, _ = bundle_urls(page(proxy, "bucket_A").body.decode())
    first = proxy.get(script)
    second = proxy.get(script)
    assert first.status == second.status == 200
    assert first.header("x-cache-status") == "MISS"
    assert second.header("x-cache-status") == "HIT"
    assert second.body == first.body
    assert second.header("etag") == first.header("etag")
    assert second.header("cache-control") == "public, max-age=31536000, immutable"
    assert "Buy now" in second.body.decode()


def test_bundle_request_reaches_the_origin_without_cookie(proxy: Proxy) -> None:
    visitor_cookie = "mendel_variations=bucket_B; session=secret"
    shop_page, seen = get_and_origin_line(proxy, "/", {"Cookie": visitor_cookie})
    assert seen == f"ORIGIN GET / cookie={visitor_cookie}", "pages do get the cookie"
    _script, stylesheet = bundle_urls(shop_page.body.decode())

    other_cookie = {"Cookie": "mendel_variations=bucket_A; session=other"}
    with_cookie, seen = get_and_origin_line(proxy, stylesheet, other_cookie)
    assert with_cookie.status == 200 and with_cookie.header("x-cache-status") == "MISS"
    assert seen == f"ORIGIN GET {stylesheet} cookie=-"
    assert with_cookie.header("vary") == "Accept-Encoding"
    assert with_cookie.header("set-cookie") is None

    without_cookie = proxy.get(stylesheet)
    assert without_cookie.header("x-cache-status") == "HIT"
    assert without_cookie.body == with_cookie.body
    assert "#c64600" in with_cookie.body.decode(), "bucket_B's card styles, whatever the cookie"


def test_pages_are_not_shared_between_visitors(proxy: Proxy) -> None:
    first = page(proxy, "feature_C")
    second = page(proxy, "bucket_D")
    assert first.header("x-cache-status") != "HIT" and second.header("x-cache-status") != "HIT"
    assert "feature_C" in first.body.decode() and "bucket_D" in second.body.decode()
    assert bundle_urls(first.body.decode())[0] != bundle_urls(second.body.decode())[0]


def test_not_found_is_not_cached(proxy: Proxy) -> None:
    path = "/mendel/bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/main.js"
    first, _ = get_and_origin_line(proxy, path)
    second, _ = get_and_origin_line(proxy, path)  # waits for the origin to see it again
    assert first.status == second.status == 404
    assert first.header("cache-control") == "no-store"
    assert second.header("x-cache-status") != "HIT"
    assert len(origin_lines(proxy, path)) == 2


def test_mid_deploy_urls_leave_no_cached_error(proxy: Proxy) -> None:
    """Kept last in this module: it deploys a new generation under the running origin."""
    from mendel_py.core.trees import MendelTrees

    cookie = {"Cookie": "mendel_variations=bucket_A"}
    old_url = bundle_urls(page(proxy, "bucket_A").body.decode())[0]
    old = proxy.get(old_url)
    assert old.status == 200
    deploy_example(proxy.project, "mid-deploy")
    # a page rendered by an already switched host names the new URL; it reaches the CDN (and an
    # origin whose watcher has not switched yet) at once
    trees = MendelTrees(str(proxy.project))
    tree = trees.find_tree_for_variations("main", trees.variations_and_chains(["bucket_A"])[1])
    new_url = trees.config.bundle_path("main", tree.hash)
    first = proxy.get(new_url)
    assert first.status == 200 and b"deploy mid-deploy" in first.body
    second = proxy.get(new_url)
    assert second.header("x-cache-status") == "HIT" and second.body == first.body
    again = proxy.get(old_url)
    assert again.status == 200 and again.body == old.body
    # every worker switches within its poll interval (each on its own: wait until several pages
    # in a row, from whichever worker answers, name the new URL)
    in_a_row = 0
    for _ in range(200):
        in_a_row = in_a_row + 1 if bundle_urls(proxy.get("/", cookie).body.decode())[0] == new_url else 0
        if in_a_row == 10:
            break
        time.sleep(0.05)
    assert in_a_row == 10


# --- the shipped examples/nginx.conf: (a) caching proxy, (b) warm bundles from the store's disk ---

@dataclass
class Shipped(Proxy):
    store: Path
    public: bool


@pytest.fixture(scope="module", params=["proxy", "disk"])
def shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    tmp = tmp_path_factory.mktemp("nginx-shipped")
    store = tmp / "store"
    public = request.param == "disk"
    env = {"SHOP_MENDEL_STORE_DIR": str(store), "SHOP_MENDEL_STORE_PUBLIC": "true" if public else "false"}
    with running_gunicorn(project, access_log_format=ACCESS_FORMAT, extra_env=env) as origin:
        port = free_port()
        conf = render_shipped_nginx_conf(tmp, port, origin.port, store / "public")
        command = [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, nginx)
            yield Shipped(f"http://127.0.0.1:{port}", origin, project, store, public)
        finally:
            stop_process(nginx)


def origin_count(proxy: Proxy, path: str, settle: float = 0.3) -> int:
    time.sleep(settle)  # an origin request, if any, is logged by now
    return len(origin_lines(proxy, path))


BUNDLE_HEADERS = {
    "cache-control": "public, max-age=31536000, immutable",
    "access-control-allow-origin": "*",
    "x-content-type-options": "nosniff",
}


def test_shipped_conf_serves_a_cold_bundle_from_gunicorn_and_a_warm_one_without_it(shipped: Shipped) -> None:
    script, stylesheet = bundle_urls(page(shipped, "bucket_A").body.decode())
    first, seen = get_and_origin_line(shipped, script, {"Cookie": "session=secret"})
    assert first.status == 200 and first.header("x-mendel-from") == "origin"
    assert seen == f"ORIGIN GET {script} cookie=-", "no visitor cookie reaches the origin"
    assert first.header("x-cache-status") == "MISS"
    count = origin_count(shipped, script)
    for _ in range(3):
        again = shipped.get(script)
        assert again.status == 200 and again.body == first.body
        assert again.header("content-type") == "application/javascript; charset=utf-8"
        for name, value in BUNDLE_HEADERS.items():
            assert again.header(name) == value
        if shipped.public:
            assert again.header("x-mendel-from") == "disk"
        else:
            assert again.header("x-mendel-from") == "origin" and again.header("x-cache-status") == "HIT"
    assert origin_count(shipped, script) == count, "warm requests never reach gunicorn"
    css = shipped.get(stylesheet)
    assert css.status == 200 and css.header("content-type") == "text/css; charset=utf-8"


def test_shipped_conf_serves_gzip_from_the_stored_sibling(shipped: Shipped) -> None:
    script, _ = bundle_urls(page(shipped, "bucket_B").body.decode())
    gzip_headers = {"Accept-Encoding": "gzip"}
    first, _ = get_and_origin_line(shipped, script, gzip_headers)
    assert first.status == 200 and first.header("content-encoding") == "gzip"
    count = origin_count(shipped, script)
    warm = shipped.get(script, gzip_headers)
    assert warm.status == 200 and warm.header("content-encoding") == "gzip" and warm.body == first.body
    assert "Accept-Encoding" in (warm.header("vary") or "")
    assert warm.header("x-mendel-from") == ("disk" if shipped.public else "origin")
    assert origin_count(shipped, script) == count
    if shipped.public:
        stored = shipped.store / "public" / script.lstrip("/")
        assert Path(str(stored) + ".gz").read_bytes() == first.body, "nginx sent the stored sibling"


def test_shipped_conf_leaves_bad_urls_to_the_app_and_caches_no_error(shipped: Shipped) -> None:
    script, _ = bundle_urls(page(shipped, "bucket_A").body.decode())
    assert shipped.get(script).status == 200  # warm (on disk, with the public tree)
    with_query = shipped.get(script + "?v=1")
    assert with_query.status == 404 and b"NOTCANONICAL" in with_query.body
    assert with_query.header("cache-control") == "no-store"
    garbage = "/mendel/bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/main.js"
    before = origin_count(shipped, garbage, settle=0)
    for _ in range(2):
        missing = shipped.get(garbage)
        assert missing.status == 404 and missing.header("cache-control") == "no-store"
    assert origin_count(shipped, garbage) == before + 2, "every 404 asked the origin: none was kept"


def test_store_verify_removes_a_corrupted_public_file_and_nginx_falls_back_to_gunicorn(shipped: Shipped) -> None:
    if not shipped.public:
        pytest.skip("the proxy mode has no public tree")
    import sys

    script, _ = bundle_urls(page(shipped, "feature_C").body.decode())
    good = shipped.get(script)
    on_disk = shipped.store / "public" / script.lstrip("/")
    assert on_disk.read_bytes() == good.body
    data = bytearray(on_disk.read_bytes())
    data[len(data) // 2] ^= 0x01
    with open(on_disk, "r+b") as handle:  # in place: the same inode as the stored file
        handle.write(bytes(data))
    verify = [sys.executable, "-m", "mendel_py", "store", "verify", "--store-dir", str(shipped.store)]
    found = subprocess.run(verify, capture_output=True, text=True, timeout=60)
    assert found.returncode == 1 and "digest mismatch" in found.stdout
    assert not on_disk.exists()
    again = shipped.get(script)
    # never the bad bytes: nginx's cache (kept from the cold request) or gunicorn answers
    assert again.status == 200 and again.body == good.body and again.header("x-mendel-from") == "origin"
    assert subprocess.run(verify, capture_output=True, text=True, timeout=60).returncode == 0
