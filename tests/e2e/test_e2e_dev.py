"""`flask --app examples/shop/app.py mendel dev` in headless Chromium: the QA page, live reload,
the build-error overlay; and the QA page's gate under gunicorn (production)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from e2e_support import (
    REPO,
    OutputWatcher,
    Server,
    build_example_project,
    chromium,
    chromium_available,
    free_port,
    http_get,
    running_gunicorn,
    stop_process,
)

if not chromium_available():
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)
pytest.importorskip("watchfiles", reason="mendel dev needs watchfiles (the dev extra)")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
Image = pytest.importorskip("PIL.Image", reason="the screenshot check needs pillow (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from mendel_py.config import load_config  # noqa: E402
from mendel_py.qa.tokens import QA_COOKIE_NAME, QA_QUERY_PARAM, read_qa_token, sign_qa_token  # noqa: E402  # noqa: E402

WAIT_SECONDS = 20
QA = "/_mendel/"
BUTTON = "examples/shop/src/variations/bucket_A/components/button.js"


@contextmanager
def running_mendel_dev(project: Path) -> Iterator[Server]:
    """`flask --app examples/shop/app.py mendel dev --port N`, serving a copy of the example."""
    port = free_port()
    env = {**os.environ, "SHOP_MENDEL_BASEDIR": str(project), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "flask", "--app", "examples/shop/app.py", "mendel", "dev", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = OutputWatcher(process.stdout)
        output.wait_for("mendel dev: serving")
        yield Server(f"http://127.0.0.1:{port}", process, output)
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop-dev"))


@pytest.fixture(scope="module")
def dev_server(project: Path) -> Iterator[Server]:
    with running_mendel_dev(project) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        driver.set_window_size(1200, 1600)
        yield driver


def wait(browser: webdriver.Chrome):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, WAIT_SECONDS)


def shop_ready(browser: webdriver.Chrome) -> None:
    wait(browser).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "body[data-shop-ready='yes']"))
    )


def button_labels(browser: webdriver.Chrome) -> list[str]:
    """Read in one script call, so a reload in between can't leave a stale element."""
    script = "return Array.from(document.querySelectorAll('.add-to-cart'), b => b.textContent.trim());"
    return browser.execute_script(script)


def distinct_colours(png: Path) -> int:
    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24))


def test_qa_page_toggle_then_the_app_has_that_variation(
    browser: webdriver.Chrome, dev_server: Server, tmp_path: Path
) -> None:
    browser.get(dev_server.url + QA)
    browser.delete_all_cookies()
    # an empty variations cookie: base, not what the example's experiments would assign
    browser.add_cookie({"name": "mendel_variations", "value": "", "path": "/"})
    browser.get(dev_server.url + QA)
    assert browser.find_element(By.ID, "active-variations").text == "base only"
    legends = [legend.text for legend in browser.find_elements(By.TAG_NAME, "legend")]
    assert legends == ["Layer look", "Layer features"]  # the example's MENDEL_QA_LAYERS
    checkbox = browser.find_element(By.CSS_SELECTOR, "input[value='bucket_A']")
    label = checkbox.find_element(By.XPATH, "./ancestor::label")
    assert "bucket_A" in label.text  # the control is labelled
    checkbox.send_keys(" ")  # keyboard: space picks the focused choice
    assert checkbox.is_selected()
    browser.find_element(By.CSS_SELECTOR, ".variation-chooser button[type='submit']").click()
    wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[role='status']")))
    assert browser.find_element(By.ID, "active-variations").text == "bucket_A"
    assert browser.find_elements(By.CSS_SELECTOR, ".matrix svg rect[data-state='own']")
    screenshot = tmp_path / "qa-page.png"
    assert browser.save_screenshot(str(screenshot))
    assert distinct_colours(screenshot) > 8  # text, badges, matrix cells: not a blank page

    browser.get(dev_server.url + "/")
    shop_ready(browser)
    assert browser.find_element(By.ID, "active-variations").text == "bucket_A"
    assert button_labels(browser) == ["Buy now"] * 3


def test_an_edit_reloads_the_open_page_and_an_error_shows_the_overlay(
    browser: webdriver.Chrome, dev_server: Server, project: Path
) -> None:
    browser.get(dev_server.url + "/")
    browser.add_cookie({"name": "mendel_variations", "value": "bucket_A", "path": "/"})
    browser.get(dev_server.url + "/")
    shop_ready(browser)
    assert button_labels(browser) == ["Buy now"] * 3
    browser.execute_script("window.notReloadedYet = true;")
    button = project / BUTTON
    original = button.read_text()
    try:
        button.write_text(original.replace("Buy now", "Buy it today"))
        wait(browser).until(lambda b: button_labels(b) == ["Buy it today"] * 3)
        assert browser.execute_script("return window.notReloadedYet === undefined;")  # a real reload

        button.write_text(original + "\nvar broken = 'unterminated;\n")
        overlay = wait(browser).until(
            expected_conditions.visibility_of_element_located((By.ID, "mendel-dev-overlay"))
        )
        assert overlay.get_attribute("role") == "alertdialog"
        assert BUTTON in overlay.text and "unterminated" in overlay.text
        dev_server.output.wait_for("build failed")
        assert button_labels(browser) == ["Buy it today"] * 3  # the last good build still runs

        button.write_text(original.replace("Buy now", "Fixed and back"))
        wait(browser).until(lambda b: button_labels(b) == ["Fixed and back"] * 3)
        assert browser.find_elements(By.ID, "mendel-dev-overlay") == []
    finally:
        button.write_text(original)


def test_production_needs_a_qa_token(browser: webdriver.Chrome, project: Path) -> None:
    """Under gunicorn (no debug, no dev): a 404 that says nothing, unless a QA link was opened."""
    secret = "production secret"
    with running_gunicorn(project, extra_env={"SHOP_SECRET_KEY": secret}) as server:
        response = http_get(server.url + QA)
        assert response.status == 404
        assert b"bucket" not in response.body and b"mendel" not in response.body.lower()
        assert response.body == http_get(server.url + "/no-such-page").body
        forged = sign_qa_token("not the secret", ["bucket_A"], 600)
        assert http_get(f"{server.url}{QA}?{QA_QUERY_PARAM}={forged}").status == 404

        browser.get(server.url + "/")
        browser.delete_all_cookies()
        config_id = load_config(project).config_id  # QA tokens are bound to the project
        browser.get(f"{server.url}{QA}?{QA_QUERY_PARAM}={sign_qa_token(secret, ['bucket_A'], 600, project=config_id)}")
        wait(browser).until(expected_conditions.presence_of_element_located((By.ID, "active-variations")))
        assert browser.current_url == server.url + QA  # the token left the address bar
        assert "production" in browser.find_element(By.TAG_NAME, "h1").text
        # start from nothing: the QA link's bucket_A is what this browser gets now
        for none in browser.find_elements(By.CSS_SELECTOR, ".variation-chooser input[type='radio'][value='']"):
            none.click()
        for checked in browser.find_elements(By.CSS_SELECTOR, ".variation-chooser input[type='checkbox']:checked"):
            checked.click()
        browser.find_element(By.CSS_SELECTOR, "input[value='feature_C']").click()
        browser.find_element(By.CSS_SELECTOR, ".variation-chooser button[type='submit']").click()
        wait(browser).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[role='status']")))
        token = browser.get_cookie(QA_COOKIE_NAME)["value"]
        assert read_qa_token(secret, token, project=config_id) == ("feature_C",)
