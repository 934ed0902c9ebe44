"""Server-side rendering for real: gunicorn workers (sync and gthread, preloaded) render in both
engines; Chromium hydrates the server's HTML with the bundle of the same hash (React 19
`hydrateRoot`, Preact `hydrate`) without a mismatch; the shop's server-rendered variation shows
with JavaScript off."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from e2e_support import (
    CHROMEDRIVER,
    CHROMIUM,
    REPO,
    build_example_project,
    chromium,
    chromium_available,
    free_port,
    http_get,
    running_gunicorn,
    running_wsgi,
    stop_process,
    wait_for_port,
)
from ssr_project import TRICKY_PROPS, VARIATION_SETS, make_ssr_project, node_render

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
WAIT_SECONDS = 30
WINDOW = "1000,1400"
needs_chromium = pytest.mark.skipif(not chromium_available(), reason=f"needs {CHROMIUM} and {CHROMEDRIVER}")


def root_html(page: str) -> str:
    found = re.search(r'<div data-mendel-root="main" data-mendel-ssr="">(.*?)</div><script', page, re.S)
    assert found, page[:2000]
    return found.group(1)


@pytest.fixture(scope="module", params=["react", "preact"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs node and npm")
    work = tmp_path_factory.mktemp(request.param)
    root = make_ssr_project(work / "project", request.param)
    (work / "props.json").write_text(json.dumps(TRICKY_PROPS), encoding="utf-8")
    return request.param, root, work


# ------------------------------------------------------------------ gunicorn, preloaded

GUNICORN_CONF = """
import os
wsgi_app = "ssr_app:create_app()"
pythonpath = {helpers!r}
bind = [os.environ["SSR_BIND"]]
workers = 2
worker_class = {worker_class!r}
threads = {threads}
preload_app = True
"""


@contextmanager
def running_ssr_gunicorn(root: Path, work: Path, worker_class: str, engine: str) -> Iterator[str]:
    """gunicorn with `preload_app = True`: the app (and its MendelTrees) loads in the master, and
    each worker makes its engine contexts on its first render."""
    port = free_port()
    conf = work / f"gunicorn-{worker_class}-{engine}.conf.py"
    conf.write_text(GUNICORN_CONF.format(
        helpers=str(HELPERS), worker_class=worker_class, threads=4 if worker_class == "gthread" else 1))
    env = {**os.environ, "SSR_BIND": f"127.0.0.1:{port}", "SSR_BASEDIR": str(root),
           "SSR_PROPS_FILE": str(work / "props.json"), "MENDEL_SSR_ENGINE": engine, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(conf)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_preloaded_gunicorn_workers_render_nodes_html(
    built: tuple[str, Path, Path], worker_class: str, engine: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _library, root, work = built
    native = {names: node_render(root, names, TRICKY_PROPS, work) for names in VARIATION_SETS}
    with running_ssr_gunicorn(root, work, worker_class, engine) as url:
        def fetch(names: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
            response = http_get(url + "/", {"Cookie": f"v={','.join(names)}"})
            assert response.status == 200
            return names, response.body.decode("utf-8")

        # concurrent requests, each variation set several times: both workers, several threads
        with ThreadPoolExecutor(max_workers=6) as pool:
            pages = list(pool.map(fetch, list(VARIATION_SETS) * 6))
        for names, page in pages:
            assert root_html(page) == native[names], names
        statuses = [json.loads(http_get(url + "/status").body) for _ in range(6)]
        ssr = [status["ssr"] for status in statuses if "ssr" in status]
        assert ssr and all(s["engine"] == engine and s["fallbacks"] == 0 for s in ssr)
        assert all(s["context_bytes"] <= s["budget_bytes"] for s in ssr)


# ------------------------------------------------------------------ Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(window_size=WINDOW) as driver:
        yield driver


@needs_chromium
def test_chromium_hydrates_the_server_html_without_a_mismatch(built: tuple[str, Path, Path], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from ssr_app import create_app

    library, root, _work = built
    with running_wsgi(lambda _url: create_app(str(root), TRICKY_PROPS)) as url:
        for names in VARIATION_SETS:
            browser.get(url + "/")
            browser.delete_all_cookies()
            browser.add_cookie({"name": "v", "value": ",".join(names), "path": "/"})
            browser.get_log("browser")
            browser.get(url + "/")
            WebDriverWait(browser, WAIT_SECONDS).until(lambda b: b.execute_script("return window.__hydrated"))
            assert browser.execute_script("return window.__hydrated") == "hydrate"
            # the server's nodes were kept (marked before the bundle ran), and no mismatch reported
            assert browser.execute_script("return document.querySelector('h1').__fromServer === true"), names
            assert browser.execute_script("return window.__hydrationErrors") == [], names
            errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR", "WARNING")]
            assert errors == [], (library, names, errors)
            # and the page is live: the hydrated button updates its state
            browser.find_element(By.ID, "clicker").click()
            WebDriverWait(browser, WAIT_SECONDS).until(
                expected_conditions.text_to_be_present_in_element((By.ID, "clicker"), "clicked 1"))
            heading = browser.find_element(By.CSS_SELECTOR, "h1")
            assert (heading.get_attribute("class") == "bold") == ("bold" in names)


# ------------------------------------------------------------------ the example shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    with running_gunicorn(project) as running:
        yield running.url


@needs_chromium
def test_the_shops_server_rendered_variation_shows_with_javascript_off(shop: str) -> None:
    from PIL import Image
    from selenium.webdriver.common.by import By

    with chromium(javascript=False, window_size=WINDOW) as driver:
        for cookie, headline, colour in (
            ("bucket_D", "Promo week: two bags for the price of one", (0xC2, 0x18, 0x5B)),
            ("", "Fresh coffee, roasted this week", (0xF0, 0xF8, 0xFF)),
        ):
            driver.get(shop + "/")
            driver.delete_all_cookies()
            driver.add_cookie({"name": "mendel_variations", "value": cookie, "path": "/"})
            driver.get(shop + "/")
            offer = driver.find_element(By.ID, "offer")
            assert driver.find_element(By.ID, "offer-headline").text == headline
            assert driver.find_element(By.ID, "offer-state").text == "Rendered on the server"  # no script ran
            assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-shop-ready") is None
            # the element's own screenshot: its box painted in the variation's colours, no script
            shot = Image.open(io.BytesIO(offer.screenshot_as_png)).convert("RGB")
            assert shot.width > 100 and shot.height > 40
            assert shot.getpixel((3, 3)) == colour, (cookie, shot.getpixel((3, 3)))
            grid = [shot.getpixel((x, y)) for x in range(0, shot.width, 7) for y in range(0, shot.height, 7)]
            assert sum(1 for pixel in grid if pixel == colour) > 0.5 * len(grid)  # mostly background


@needs_chromium
def test_the_shop_hydrates_its_server_rendered_offer(shop: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(shop + "/")
    browser.delete_all_cookies()
    browser.add_cookie({"name": "mendel_variations", "value": "bucket_D", "path": "/"})
    browser.get(shop + "/")
    WebDriverWait(browser, WAIT_SECONDS).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-mendel-root='main'][data-hydrated='yes']")))
    assert browser.find_element(By.ID, "offer-state").text == "Rendered on the server, hydrated in the browser"
    assert browser.find_element(By.ID, "offer-headline").text == "Promo week: two bags for the price of one"


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_the_fastapi_shop_renders_from_its_thread_pool(tmp_path: Path, engine: str) -> None:
    """Under uvicorn, FastAPI renders a sync view's template in its thread pool, several at once.
    With V8 this crashed the process (SIGSEGV in mini-racer's context initialisation) until every
    mini-racer call of a process ran on one thread of its own (`ssr.engines`)."""
    from concurrent.futures import ThreadPoolExecutor

    from e2e_support import running_stack

    project = build_example_project(tmp_path)
    with running_stack("fastapi", project, {"MENDEL_SSR_ENGINE": engine}) as server:
        def page(index: int) -> str:
            cookie = {"Cookie": "mendel_variations=" + ("bucket_D" if index % 2 else "")}
            response = http_get(server.url + "/", cookie)
            assert response.status == 200
            return response.body.decode()

        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(page, range(24)))
    for index, html in enumerate(pages):
        assert 'data-mendel-ssr=""' in html, html[:400]  # rendered, not the fallback container
        assert ("Promo week" in html) == bool(index % 2)
