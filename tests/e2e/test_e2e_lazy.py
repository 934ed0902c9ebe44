"""Lazy chunks in headless Chromium: the chunk is fetched from the bundle's hash URL only when the
page asks for it, under each variation set, same-origin and from another origin (a CDN prefix)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_support import CHROMEDRIVER, CHROMIUM, Tampering, chromium, chromium_available, running_wsgi
from lazy_project import write_lazy_project

if not chromium_available():
    pytest.skip(f"browser test needs {CHROMIUM} and {CHROMEDRIVER}", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402

from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402


def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    query = environ.get("QUERY_STRING", "")
    resolver = environ["mendel"]
    resolver.set_variations(query.removeprefix("v=") if query.startswith("v=") else "")
    tag = resolver.script_tag("main")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [f"<!doctype html><html><head></head><body>{tag}</body></html>".encode()]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lazy_project(tmp_path_factory.mktemp("lazy"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def scripts_fetched(browser: Any) -> list[str]:
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        ".filter(function (name) { return name.indexOf('/mendel/') >= 0; })"
    )


def open_panel(browser: Any) -> str:
    return browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "window.openPanel().then(function () { done(document.body.dataset.panel); },"
        " function (e) { done('failed: ' + e.message); });"
    )


@pytest.mark.parametrize("cross_origin", [False, True], ids=["same-origin", "cdn-origin"])
def test_lazy_chunk_loads_on_demand_per_variation(project: Path, browser: Any, cross_origin: bool) -> None:
    def app_for(url: str) -> MendelMiddleware:
        prefix = url.replace("127.0.0.1", "localhost") if cross_origin else ""
        return MendelMiddleware(page, MendelTrees(str(project)), integrity=True, url_prefix=prefix)

    with running_wsgi(app_for) as url:
        for variations, label in (("", "deep/util"), ("bucket_A", "panel of bucket A")):
            browser.get_log("browser")
            browser.get(f"{url}/?v={variations}")
            browser.find_element(By.CSS_SELECTOR, "body[data-main='util']")
            fetched = scripts_fetched(browser)
            assert len(fetched) == 1 and fetched[0].endswith("/main.js")
            assert open_panel(browser) == label
            chunks = [name for name in scripts_fetched(browser) if name not in fetched]
            assert len(chunks) == 1
            assert chunks[0].startswith(fetched[0][: -len("main.js")]) and "/main~" in chunks[0]
            assert open_panel(browser) == label  # loaded once: a second import() is answered from the registry
            assert len(scripts_fetched(browser)) == 2
            severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert severe == []


def test_a_changed_byte_in_a_chunk_fails_its_import(project: Path, browser: Any) -> None:
    wrappers: list[Tampering] = []

    def app_for(url: str) -> Tampering:
        middleware = MendelMiddleware(page, MendelTrees(str(project)), integrity=True)
        wrappers.append(Tampering(middleware, b'"deep"', b'"DEEP"', marker="/main~"))
        return wrappers[-1]

    with running_wsgi(app_for) as url:
        wrappers[0].on = True
        browser.get_log("browser")
        browser.get(f"{url}/?v=")
        browser.find_element(By.CSS_SELECTOR, "body[data-main='util']")
        assert open_panel(browser).startswith("failed: Loading chunk")
        assert any("integrity" in e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE")
