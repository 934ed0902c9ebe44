"""Subresource Integrity in headless Chromium: a bundle runs as served, one changed byte blocks it.

The page and bundles are served by werkzeug on a thread; a wrapper changes one byte of bundle
bodies on demand (what a tampering CDN or proxy would do), after the digest was computed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_support import (
    CHROMEDRIVER,
    CHROMIUM,
    Tampering,
    chromium,
    chromium_available,
    http_get,
    running_wsgi,
)
from factory import SAMPLE_RC, write_project
from lazy_project import CSS

if not chromium_available():
    pytest.skip(f"browser test needs {CHROMIUM} and {CHROMEDRIVER}", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402

from mendel_py.core.trees import MendelTrees  # noqa: E402
from mendel_py.serving.wsgi import MendelMiddleware  # noqa: E402

MODULES = {
    "main.js": {"entry": True, "base": {
        "deps": {"./mark.js": "mark.js"}, "source": 'require("./mark.js")("yes");'}},
    "mark.js": {"base": {"source": 'module.exports = function (v) { document.body.dataset.ran = v; };'}},
}
def page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    tag = environ["mendel"].script_tag("main")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [f"<!doctype html><html><body>{tag}</body></html>".encode()]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("sri"), SAMPLE_RC, {"main": MODULES, "css": CSS})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        yield driver


def ran(browser: Any, url: str) -> str | None:
    browser.get_log("browser")
    browser.get(url + "/")
    browser.find_element(By.TAG_NAME, "script")  # the page is there
    return browser.execute_script("return document.body.dataset.ran || null")


def errors(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.parametrize("cross_origin", [False, True], ids=["same-origin", "cdn-origin"])
def test_integrity_lets_the_bundle_run_and_blocks_a_changed_byte(
    project: Path, browser: Any, cross_origin: bool
) -> None:
    wrappers: list[Tampering] = []

    def app_for(url: str) -> Tampering:
        # "localhost" vs the page's "127.0.0.1": another origin, as a CDN prefix would be
        prefix = url.replace("127.0.0.1", "localhost") if cross_origin else ""
        middleware = MendelMiddleware(
            page, MendelTrees(str(project)), integrity=True, url_prefix=prefix, preload="preload"
        )
        wrappers.append(Tampering(middleware, b'"yes"', b'"yez"'))
        return wrappers[-1]

    with running_wsgi(app_for) as url:
        assert ran(browser, url) == "yes"
        assert errors(browser) == []
        tag = browser.find_element(By.TAG_NAME, "script")
        assert tag.get_attribute("integrity").startswith("sha384-")
        assert (tag.get_attribute("crossorigin") == "anonymous") is cross_origin
        link = http_get(url + "/").header("Link")
        assert f"<{tag.get_dom_attribute('src')}>; rel=preload; as=script" in link
        # the preload (same integrity, same CORS mode) is what the script used: one fetch
        fetched = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        assert fetched.count(tag.get_attribute("src")) == 1
        wrappers[0].on = True
        assert ran(browser, url) is None
        assert any("integrity" in message for message in errors(browser))
