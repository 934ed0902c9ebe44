"""The example shop in headless Chromium: the bundles run and each variation behaves differently."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e_support import (
    CHROMEDRIVER,
    CHROMIUM,
    Server,
    build_example_project,
    chromium,
    chromium_available,
    running_gunicorn,
)

WAIT_SECONDS = 30

if not chromium_available():
    pytest.skip(
        "headless browser test needs Debian's chromium and chromium-driver "
        f"({CHROMIUM}, {CHROMEDRIVER})",
        allow_module_level=True,
    )

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = build_example_project(tmp_path_factory.mktemp("shop"))
    with running_gunicorn(project) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


def open_shop(browser: webdriver.Chrome, server: Server, variations: str) -> None:
    """Load the shop with `variations` in the cookie and wait until its script has run."""
    browser.get(server.url + "/")  # a page of the origin, so its cookie can be set
    browser.delete_all_cookies()
    # an empty cookie is an explicit "base": no experiment assignment
    browser.add_cookie({"name": "mendel_variations", "value": variations, "path": "/"})
    browser.get_log("browser")  # drop messages of earlier pages
    browser.get(server.url + "/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "body[data-shop-ready='yes']"))
    )


def text_of(browser: webdriver.Chrome, selector: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, selector).text


def button_labels(browser: webdriver.Chrome) -> list[str]:
    return [button.text for button in browser.find_elements(By.CSS_SELECTOR, ".add-to-cart")]


def click_first_button(browser: webdriver.Chrome, times: int) -> None:
    button = browser.find_element(By.CSS_SELECTOR, ".add-to-cart")
    for clicks in range(1, times + 1):
        button.click()
        WebDriverWait(browser, WAIT_SECONDS).until(
            expected_conditions.text_to_be_present_in_element((By.ID, "cart-count"), str(clicks))
        )


def console_errors(browser: webdriver.Chrome) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def background_color(browser: webdriver.Chrome, selector: str) -> str:
    element = browser.find_element(By.CSS_SELECTOR, selector)
    return element.value_of_css_property("background-color")


def test_base_shop_runs_its_bundles(browser: webdriver.Chrome, server: Server) -> None:
    open_shop(browser, server, "")
    assert text_of(browser, "#banner") == "Welcome to the shop"
    assert button_labels(browser) == ["Add to cart"] * 3
    assert background_color(browser, ".add-to-cart") == "rgba(26, 95, 180, 1)"
    assert browser.find_elements(By.ID, "recommended") == []
    click_first_button(browser, 2)
    assert text_of(browser, "#cart-count") == "2"
    assert console_errors(browser) == []


def test_bucket_d_with_feature_c(browser: webdriver.Chrome, server: Server) -> None:
    open_shop(browser, server, "bucket_D,feature_C")
    assert text_of(browser, "#active-variations") == "bucket_D, feature_C"
    assert text_of(browser, "#banner") == "Free shipping on every order today"  # bucket_D's own
    assert button_labels(browser) == ["Buy now"] * 3  # inherited from bucket_A
    assert background_color(browser, ".add-to-cart") == "rgba(38, 162, 105, 1)"
    assert text_of(browser, "#recommended") == "Recommended for you: Espresso cups, Milk frother"
    click_first_button(browser, 3)
    assert text_of(browser, "#cart-count") == "3"
    assert console_errors(browser) == []


def test_bucket_b_changes_the_server_template(browser: webdriver.Chrome, server: Server) -> None:
    open_shop(browser, server, "bucket_B")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".product-card--compact .badge")) == 3
    assert button_labels(browser) == ["Add to cart"] * 3
    assert browser.find_element(By.CSS_SELECTOR, ".products").value_of_css_property("display") == "grid"
    click_first_button(browser, 1)
    assert console_errors(browser) == []


def test_visitor_picks_variations_with_the_form(browser: webdriver.Chrome, server: Server) -> None:
    open_shop(browser, server, "")
    browser.find_element(By.CSS_SELECTOR, "input[name='look'][value='bucket_A']").click()
    browser.find_element(By.CSS_SELECTOR, ".variation-picker button[type='submit']").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.text_to_be_present_in_element((By.ID, "active-variations"), "bucket_A")
    )
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "body[data-shop-ready='yes']"))
    )
    assert button_labels(browser) == ["Buy now"] * 3
    assert console_errors(browser) == []


def test_console_errors_would_be_seen(browser: webdriver.Chrome, server: Server) -> None:
    """The no-error assertions above are not vacuous: an error in the page does show up."""
    open_shop(browser, server, "")
    browser.execute_script("console.error('probe from the test')")
    assert any("probe from the test" in entry["message"] for entry in console_errors(browser))


def script_requests(browser: webdriver.Chrome) -> list[str]:
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/mendel/') && n.endsWith('.js'))"
    )


@pytest.mark.parametrize(("variations", "reviews"), [("", "base"), ("bucket_A", "bucket_A")])
def test_es_module_shop_loads_its_lazy_chunk_on_demand(
    browser: webdriver.Chrome, server: Server, variations: str, reviews: str
) -> None:
    # main.js is an ES module; components/reviews.js comes in by import(), and bucket_A overrides it.
    open_shop(browser, server, variations)
    (bundle,) = script_requests(browser)
    assert "~" not in bundle and browser.find_element(By.ID, "reviews").text == ""
    browser.find_element(By.ID, "show-reviews").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"#reviews[data-reviews='{reviews}']"))
    )
    requested = script_requests(browser)
    (chunk,) = requested[1:]
    assert chunk.startswith(bundle.rsplit("/", 1)[0] + "/main~")  # same hash URL, a chunk of it
    browser.find_element(By.ID, "show-reviews").click()
    assert len(script_requests(browser)) == 2  # loaded once
    assert console_errors(browser) == []
    if reviews == "bucket_A":
        assert text_of(browser, "#reviews") == 'Shoppers who clicked "Buy now" loved it'
    else:
        assert text_of(browser, "#reviews") == "Customers rate this shop 4.5 out of 5"
