"""The QA page: gating, what it shows, the variation chooser and the variation matrix."""
from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session
from werkzeug.test import Client
from werkzeug.wrappers import Response

from mendel_py.core.trees import MendelTrees
from mendel_py.experiments import experiment_set
from mendel_py.integrations.flask import Mendel
from mendel_py.qa.matrix import INHERITED, OWN, render_svg, variation_matrix
from mendel_py.qa.page import DEFAULT_QA_ROUTE, safe_next
from mendel_py.qa.tokens import QA_COOKIE_NAME, QA_QUERY_PARAM, read_qa_token, sign_qa_token
from mendel_py.serving.wsgi import MendelMiddleware

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
APP_404 = b"the app's own not-found page"


@pytest.fixture(scope="module")
def trees() -> MendelTrees:
    return MendelTrees(str(REPO))


def app(environ: dict[str, Any], start_response: Any) -> Any:
    """A WSGI app that knows "/" and answers everything else with its own 404."""
    if environ["PATH_INFO"] == "/":
        names = ",".join(environ["mendel"].load_variations())
        return Response(f"variations={names}", mimetype="text/plain")(environ, start_response)
    return Response(APP_404, status=404)(environ, start_response)


SECRET = "qa-secret"


def client(trees: MendelTrees, **options: Any) -> Client:
    """The middleware with a secret (experiments require one) and, so a test can set the
    variations cookie, the visitor-choice opt-in."""
    options.setdefault("secret_key", SECRET)
    options.setdefault("visitor_choice", True)
    return Client(MendelMiddleware(app, trees, **options))


def qa_token(trees: MendelTrees, names: list[str], ttl: int = 600, secret: str = SECRET, **options: Any) -> str:
    """A QA token of this project (tokens are bound to the config id)."""
    return sign_qa_token(secret, names, ttl, project=trees.config.config_id, **options)


def test_open_in_development_and_shows_every_variation(trees: MendelTrees) -> None:
    response = client(trees, development=True).get(DEFAULT_QA_ROUTE)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    for variation in trees.variations:
        assert f'value="{variation.id}"' in html  # a toggle for each
    assert re.search(r"bucket_D</code>.*?<td><code>bucket_A</code></td>", html, re.S)  # inherits


def test_without_token_or_hook_the_app_answers_as_for_any_unknown_url(trees: MendelTrees) -> None:
    browser = client(trees)
    for path in (DEFAULT_QA_ROUTE, DEFAULT_QA_ROUTE + "matrix.svg", DEFAULT_QA_ROUTE.rstrip("/")):
        response = browser.get(path)
        assert response.status_code == 404
        assert response.data == APP_404
    refused = browser.post(DEFAULT_QA_ROUTE, data={"variation": "bucket_A"})
    assert refused.status_code == 404 and "Set-Cookie" not in refused.headers


def test_the_apps_access_hook_opens_it(trees: MendelTrees) -> None:
    staff = client(trees, qa_access=lambda environ: environ.get("HTTP_X_STAFF") == "yes")
    assert staff.get(DEFAULT_QA_ROUTE, headers={"X-Staff": "yes"}).status_code == 200
    assert staff.get(DEFAULT_QA_ROUTE).data == APP_404


def test_a_failing_access_hook_keeps_it_closed(trees: MendelTrees) -> None:
    def broken(environ: dict[str, Any]) -> bool:
        raise RuntimeError("auth backend down")

    assert client(trees, qa_access=broken).get(DEFAULT_QA_ROUTE).data == APP_404


def test_this_browser_section_says_what_and_why(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    browser.set_cookie("mendel_variations", "bucket_D,nonsense")
    html = browser.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    assert re.search(r'id="active-variations"><code>bucket_D</code></strong>', html)
    assert "the variations cookie" in html
    assert re.search(r"Ignored \(not configured\): <code>nonsense</code>", html)


def test_bundle_facts_match_what_the_endpoint_serves(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    browser.set_cookie("mendel_variations", "bucket_D,feature_C")
    html = browser.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    chains = trees.variations_and_chains(["bucket_D", "feature_C"])[1]
    for bundle in trees.bundles:
        tree = trees.find_tree_for_variations(bundle, chains)
        section = html.split(f'<h3 id="bundle-{bundle}">', 1)[1].split("<h3", 1)[0]
        url = re.search(r'<a href="([^"]+)">', section).group(1)
        assert tree.hash in url and "bucket" not in url and "feature" not in url
        served = browser.get(url)
        gzipped = browser.get(url, headers={"Accept-Encoding": "gzip"})
        assert served.status_code == 200
        assert f"{len(served.data):,} B raw" in section
        assert f"{len(gzipped.data):,} B gzip" in section
        for module_id, folder in tree.variation_map.items():
            assert f"<code>{module_id}</code>" in section and folder in section


def test_choosing_variations_sets_the_cookie_and_returns_to_the_page(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    response = browser.post(DEFAULT_QA_ROUTE, data={"variation": ["feature_C", "bucket_B", "unknown"]})
    assert response.status_code == 303
    assert response.headers["Location"] == DEFAULT_QA_ROUTE + "?changed"
    assert browser.get("/").get_data(as_text=True) == "variations=bucket_B,feature_C,base"
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'role="status"' in page
    browser.post(DEFAULT_QA_ROUTE, data={})
    assert browser.get("/").get_data(as_text=True) == "variations=base"


def test_choosing_can_go_back_to_the_app_but_only_on_this_site(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    back = browser.post(DEFAULT_QA_ROUTE, data={"variation": "bucket_A", "next": "/shop?x=1"})
    assert back.headers["Location"] == "/shop?x=1"
    away = browser.post(DEFAULT_QA_ROUTE, data={"variation": "bucket_A", "next": "//evil.example/"})
    assert away.headers["Location"] == DEFAULT_QA_ROUTE + "?changed"


@pytest.mark.parametrize("value", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:x", ""])
def test_safe_next_refuses_other_origins(value: str) -> None:
    assert safe_next(value, "/default") == "/default"


def test_a_cross_site_post_is_refused(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    response = browser.post(
        DEFAULT_QA_ROUTE, data={"variation": "bucket_A"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and "Set-Cookie" not in response.headers


def test_the_route_is_configurable_or_off(trees: MendelTrees) -> None:
    moved = client(trees, development=True, qa_route="/qa/")
    assert moved.get("/qa/").status_code == 200
    assert moved.get(DEFAULT_QA_ROUTE).data == APP_404
    assert moved.get("/qa").headers["Location"] == "/qa/"
    off = client(trees, development=True, qa_route=None)
    assert off.get(DEFAULT_QA_ROUTE).data == APP_404


def test_matrix_marks_own_and_inherited_overrides(trees: MendelTrees) -> None:
    matrix = variation_matrix(trees)
    cells = {
        (variation, column.module): matrix.cells[row][position]
        for row, variation in enumerate(matrix.variations)
        for position, column in enumerate(matrix.columns)
    }
    assert cells[("bucket_A", "components/button.js")] == OWN
    assert cells[("bucket_D", "components/button.js")] == INHERITED  # from bucket_A
    assert cells[("bucket_D", "components/banner.js")] == OWN
    assert cells[("bucket_B", "components/button.js")] is None
    overridden = {column.module for column in matrix.columns}
    assert "main.js" not in overridden and "components/cart.js" not in overridden


def test_matrix_svg_is_accessible_and_has_a_cell_per_pair(trees: MendelTrees) -> None:
    matrix = variation_matrix(trees)
    svg = ET.fromstring(render_svg(matrix))
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text and svg.find(f"{SVG}desc").text
    cells = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("data-state")]
    assert len(cells) == len(matrix.variations) * len(matrix.columns)
    states = [cell.get("data-state") for cell in cells]
    assert states.count(OWN) == sum(row.count(OWN) for row in matrix.cells)
    assert all(cell.find(f"{SVG}title").text for cell in cells)


def test_matrix_picture_is_served(trees: MendelTrees) -> None:
    response = client(trees, development=True).get(DEFAULT_QA_ROUTE + "matrix.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    ET.fromstring(response.data)


# --------------------------------------------------------------------------- Flask


def flask_app(**config: Any) -> tuple[Flask, Mendel]:
    flask = Flask(__name__)
    flask.config.update(MENDEL_BASEDIR=str(REPO), SECRET_KEY="test", **config)
    extension = Mendel(flask)

    @flask.route("/login")
    def login() -> str:
        session["staff"] = True
        return "ok"

    return flask, extension


def test_flask_dev_setting_opens_it_and_the_debug_flag_never_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENDEL_DEV", raising=False)
    assert flask_app(MENDEL_DEV=True)[0].test_client().get(DEFAULT_QA_ROUTE).status_code == 200
    assert flask_app()[0].test_client().get(DEFAULT_QA_ROUTE).status_code == 404
    debug, _ = flask_app(DEBUG=True)  # FLASK_DEBUG=1: no QA page, no source maps
    assert debug.test_client().get(DEFAULT_QA_ROUTE).status_code == 404
    assert debug.extensions["mendel"].middleware.development is False
    monkeypatch.setenv("MENDEL_DEV", "1")  # the explicit switch
    assert flask_app(DEBUG=False)[0].test_client().get(DEFAULT_QA_ROUTE).status_code == 200


def test_flask_qa_access_check_runs_with_the_session() -> None:
    flask, extension = flask_app()

    @extension.qa_access
    def staff_only(request: Any) -> bool:
        return bool(session.get("staff")) and request.path == DEFAULT_QA_ROUTE

    browser = flask.test_client()
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 404
    browser.get("/login")
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200


def test_flask_qa_route_setting() -> None:
    flask, _ = flask_app(MENDEL_DEV=True, MENDEL_QA_ROUTE="/staff/mendel/")
    browser = flask.test_client()
    assert browser.get("/staff/mendel/").status_code == 200
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 404


# --------------------------------------------------------------------------- QA tokens


def test_a_valid_qa_token_opens_it_in_production(trees: MendelTrees) -> None:
    browser = client(trees, secret_key=SECRET)
    browser.set_cookie(QA_COOKIE_NAME, qa_token(trees, ["bucket_A"]))
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        sign_qa_token("another secret", ["bucket_A"], 600),
        sign_qa_token(SECRET, ["bucket_A"], 600, now=time.time() - 3600),  # expired
        sign_qa_token(SECRET, ["bucket_A"], 600)[:-2] + "xx",  # tampered
        sign_qa_token(SECRET, ["bucket_A"], 600),  # bound to no project
        sign_qa_token(SECRET, ["bucket_A"], 600, project="another-project"),  # same secret, other project
        "garbage",
    ],
)
def test_a_bad_qa_token_reveals_nothing(trees: MendelTrees, token: str) -> None:
    browser = client(trees, secret_key=SECRET)
    browser.set_cookie(QA_COOKIE_NAME, token)
    assert browser.get(DEFAULT_QA_ROUTE).data == APP_404
    assert browser.get(f"{DEFAULT_QA_ROUTE}?{QA_QUERY_PARAM}={token}").data == APP_404


def test_a_qa_link_moves_the_token_into_the_cookie(trees: MendelTrees) -> None:
    browser = client(trees, secret_key=SECRET)
    token = qa_token(trees, ["feature_C"])
    response = browser.get(f"{DEFAULT_QA_ROUTE}?{QA_QUERY_PARAM}={token}")
    assert response.status_code == 303 and response.headers["Location"] == DEFAULT_QA_ROUTE
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{QA_COOKIE_NAME}={token}") and "HttpOnly" in cookie
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200


def test_with_a_secret_choosing_signs_a_new_token(trees: MendelTrees) -> None:
    browser = client(trees, secret_key=SECRET)
    browser.set_cookie(QA_COOKIE_NAME, qa_token(trees, ["bucket_A"]))
    response = browser.post(DEFAULT_QA_ROUTE, data={"variation": ["bucket_B", "feature_C"]})
    assert response.status_code == 303
    token = browser.get_cookie(QA_COOKIE_NAME).value
    assert read_qa_token(SECRET, token, project=trees.config.config_id) == ("bucket_B", "feature_C")
    assert browser.get_cookie("mendel_variations") is None
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200  # still admitted
    browser.post(DEFAULT_QA_ROUTE, data={})
    assert read_qa_token(SECRET, browser.get_cookie(QA_COOKIE_NAME).value, project=trees.config.config_id) == ()
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200  # base only, still a QA browser


def test_flask_signs_with_the_apps_secret_key() -> None:
    flask, _ = flask_app()
    _ = flask.extensions["mendel"]
    browser = flask.test_client()
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 404
    browser.set_cookie(QA_COOKIE_NAME, sign_qa_token("test", ["bucket_A"], 600, project=_.trees.config.config_id))
    assert browser.get(DEFAULT_QA_ROUTE).status_code == 200


def test_layers_group_the_chooser_one_choice_each(trees: MendelTrees) -> None:
    layers = {"look": ["bucket_A", "bucket_B", "bucket_D"], "features": ["feature_C"]}
    browser = client(trees, development=True, qa_layers=layers)
    browser.set_cookie("mendel_variations", "bucket_B")
    html = browser.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    assert "<legend>Layer look</legend>" in html and "<legend>Layer features</legend>" in html
    assert re.search(r'type="radio" name="variation-0" value="bucket_B" checked', html)
    assert re.search(r'type="radio" name="variation-1" value="" checked', html)  # features: none
    assert '<th scope="col">layer</th>' in html
    browser.post(DEFAULT_QA_ROUTE, data={"variation-0": "bucket_D", "variation-1": "feature_C"})
    assert browser.get("/").get_data(as_text=True) == "variations=bucket_D,feature_C,base"



def test_experiments_and_this_browsers_assignment_are_shown(trees: MendelTrees) -> None:
    browser = client(trees, development=True)
    browser.set_cookie("mendel_uid", "qa-page-unit-01")
    page = browser.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    assert 'id="experiments"' in page
    for assignment in experiment_set(trees.config).assign("qa-page-unit-01"):
        row = page.split(f"<code>{assignment.experiment}</code></th>")[1].split("</tr>")[0]
        assert f"<strong>{assignment.variation or 'control'}</strong> (hash)" in row
    assert "experiment assignment" in page


def test_a_token_made_from_another_never_outlives_it(trees: MendelTrees) -> None:
    """A short QA link can't be swapped on the page for a fresh full-length token."""
    from mendel_py.qa.tokens import read_qa_grant

    browser = client(trees, secret_key=SECRET)
    parent = qa_token(trees, ["bucket_A"], ttl=5)
    parent_expiry = read_qa_grant(SECRET, parent, project=trees.config.config_id).expires
    browser.set_cookie(QA_COOKIE_NAME, parent)
    page = browser.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
    assert 'id="qa-access-ends"' in page and "QA access ends at" in page
    assert time.strftime("%H:%M:%S UTC", time.gmtime(parent_expiry)) in page
    assert browser.post(DEFAULT_QA_ROUTE, data={"variation": ["bucket_B", "feature_C"]}).status_code == 303
    child = browser.get_cookie(QA_COOKIE_NAME).value
    grant = read_qa_grant(SECRET, child, project=trees.config.config_id)
    assert grant is not None and grant.variations == ("bucket_B", "feature_C")
    assert grant.expires <= parent_expiry  # not an hour from now
    later = time.time() + 6
    assert read_qa_grant(SECRET, child, now=later, project=trees.config.config_id) is None
    # a staff member let in by the app's own check gets the full lifetime
    staff = client(trees, qa_access=lambda environ: True)
    staff.post(DEFAULT_QA_ROUTE, data={"variation": "bucket_A"})
    staff_grant = read_qa_grant(SECRET, staff.get_cookie(QA_COOKIE_NAME).value, project=trees.config.config_id)
    assert staff_grant is not None and staff_grant.expires > time.time() + 3000
    assert 'id="qa-access-ends"' not in staff.get(DEFAULT_QA_ROUTE).get_data(as_text=True)
