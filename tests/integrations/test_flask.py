"""The Flask extension, against a built copy of the example shop project."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, abort, render_template, render_template_string, session
from jinja2 import TemplateNotFound

from e2e_support import EXAMPLES, build_example_project
from mendel_py.core.trees import MendelTrees
from mendel_py.experiments import experiment_set
from mendel_py.integrations.flask import FlaskRequestResolver, Mendel, MendelState, mendel
from mendel_py.serving import request as request_module

BASE = "examples/shop/src/base"
BUCKET_A = "examples/shop/src/variations/bucket_A"
BUCKET_B = "examples/shop/src/variations/bucket_B"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_project(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def trees(project: Path) -> MendelTrees:
    return MendelTrees(str(project))


AppFactory = Callable[..., Flask]


@pytest.fixture()
def make_app(project: Path) -> AppFactory:
    """An app factory in the Flask docs' style: one extension object, init_app per app."""

    def create(extension: Mendel | None = None, **config: object) -> Flask:
        app = Flask("shop_test", root_path=str(project))
        # these tests pick variations with the cookie: the shop's demo opt-in
        config.setdefault("MENDEL_VISITOR_CHOICE", True)
        app.config.update(SECRET_KEY="test", MENDEL_BASEDIR=str(project), **config)
        (extension or Mendel()).init_app(app)
        return app

    return create


def expected_hash(trees: MendelTrees, bundle: str, names: list[str]) -> str:
    _matching, chains = trees.variations_and_chains(names)
    return trees.find_tree_for_variations(bundle, chains).hash


def script_src(html: str) -> str:
    return re.search(r'<script src="([^"]+)"', html).group(1)


# --------------------------------------------------------------------------- set-up


def test_init_app_stores_state_and_loads_manifests_once(make_app: AppFactory) -> None:
    extension = Mendel()
    first, second = make_app(extension), make_app(extension)
    state = first.extensions["mendel"]
    assert isinstance(state, MendelState) and state.extension is extension
    assert state.trees is not second.extensions["mendel"].trees, "one MendelTrees per app"
    assert state.trees.bundles == ("main", "css")
    seen = []

    @first.route("/trees")
    def which_trees() -> str:
        seen.append(mendel.trees)
        return "ok"

    client = first.test_client()
    client.get("/trees")
    client.get("/trees")
    assert seen == [state.trees, state.trees]


def test_constructor_with_app_initialises_it(project: Path) -> None:
    app = Flask("direct", root_path=str(project))
    app.config["SECRET_KEY"] = "test"  # the shop has experiments: a secret is required
    Mendel(app, basedir=str(project))
    assert "mendel" in app.extensions


def test_config_defaults_are_filled_in(make_app: AppFactory, project: Path) -> None:
    app = make_app()
    assert app.config["MENDEL_BASEDIR"] == str(project)
    assert app.config["MENDEL_COOKIE_NAME"] == "mendel_variations"
    assert app.config["MENDEL_QUERY_OVERRIDE"] is False
    assert app.config["MENDEL_URL_PREFIX"] == ""
    assert app.config["MENDEL_CACHE_SIZE"] is None
    assert app.config["MENDEL_WALK_CACHE_BYTES"] == 64 * 1024 * 1024
    for key in ("MENDEL_HASH_FORMAT", "MENDEL_HASH_KEY", "MENDEL_ROUTE", "MENDEL_ENV", "MENDEL_TEMPLATES"):
        assert app.config[key] is None


def test_basedir_defaults_to_the_app_root(project: Path) -> None:
    app = Flask("rooted", root_path=str(project / "examples" / "shop"))
    app.config["MENDEL_SECRET"] = "test"  # (instead of SECRET_KEY)
    Mendel(app)
    assert app.config["MENDEL_BASEDIR"] == app.root_path
    assert app.extensions["mendel"].trees.config.root == str(project)


def test_options_are_defaults_and_app_config_wins(make_app: AppFactory) -> None:
    extension = Mendel(cookie_name="from_option", hash_format="mendel-v2")
    app = make_app(extension, MENDEL_COOKIE_NAME="from_config")
    assert app.config["MENDEL_COOKIE_NAME"] == "from_config"
    assert app.config["MENDEL_HASH_FORMAT"] == "mendel-v2"
    assert app.extensions["mendel"].trees.hash_format.name == "mendel-v2"


def test_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="MENDEL_COOKIE"):
        Mendel(cookie="x")


def test_proxy_without_init_app_says_so() -> None:
    app = Flask("bare")
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="init_app"):
        mendel.variations  # noqa: B018 (reading the attribute is what raises)


# --------------------------------------------------------------------------- variations


def variations_app(make_app: AppFactory, **config: object) -> Flask:
    app = make_app(**config)

    @app.route("/v")
    def variations() -> str:
        return ",".join(mendel.variations)

    return app


def test_variations_come_from_the_cookie(make_app: AppFactory) -> None:
    client = variations_app(make_app).test_client()
    client.set_cookie("mendel_variations", "")  # present but empty: base (no experiment assignment)
    assert client.get("/v").text == "base"
    client.set_cookie("mendel_variations", "feature_C,bucket_B,nope")
    assert client.get("/v").text == "bucket_B,feature_C,base", "config order, unknown ignored"


def test_cookie_name_is_configurable(make_app: AppFactory) -> None:
    client = variations_app(make_app, MENDEL_COOKIE_NAME="ab").test_client()
    client.set_cookie("mendel_variations", "bucket_B")
    client.set_cookie("ab", "bucket_A")
    assert client.get("/v").text == "bucket_A,base"


def test_query_override_is_off_by_default(make_app: AppFactory) -> None:
    client = variations_app(make_app).test_client()
    client.set_cookie("mendel_variations", "")
    assert client.get("/v?mendel=bucket_A").text == "base"


def test_query_override_when_enabled(make_app: AppFactory) -> None:
    client = variations_app(make_app, MENDEL_QUERY_OVERRIDE=True).test_client()
    client.set_cookie("mendel_variations", "bucket_B")
    assert client.get("/v?mendel=bucket_A,feature_C").text == "bucket_A,feature_C,base"
    assert client.get("/v").text == "bucket_B,base"


def test_variations_loader_decorator_gets_the_flask_request(make_app: AppFactory) -> None:
    extension = Mendel()
    seen = []

    @extension.variations_loader
    def from_header(request) -> list[str]:
        seen.append(request.headers.get("X-Buckets"))
        return request.headers.get("X-Buckets", "").split("+")

    client = variations_app(lambda **c: make_app(extension, **c)).test_client()
    client.set_cookie("mendel_variations", "bucket_B")
    assert client.get("/v", headers={"X-Buckets": "bucket_D+feature_C"}).text == "bucket_D,feature_C,base"
    assert seen == ["bucket_D+feature_C"]


def test_variations_loader_option(make_app: AppFactory) -> None:
    extension = Mendel(variations_loader=lambda request: "bucket_A")
    client = variations_app(lambda **c: make_app(extension, **c)).test_client()
    assert client.get("/v").text == "bucket_A,base"


def test_first_set_variations_wins(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/set")
    def set_twice() -> str:
        first = mendel.set_variations(["bucket_A"])
        second = mendel.set_variations(["bucket_B"])
        return f"{first}|{second}|{mendel.variations}"

    client = app.test_client()
    client.set_cookie("mendel_variations", "feature_C")
    assert client.get("/set").text == "['bucket_A', 'base']|['bucket_A', 'base']|['bucket_A', 'base']"


def test_reading_variations_first_fixes_them(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/late")
    def late() -> str:
        before = list(mendel.variations)
        mendel.set_variations(["bucket_B"])
        return f"{before}|{mendel.variations}"

    client = app.test_client()
    client.set_cookie("mendel_variations", "bucket_A")
    assert client.get("/late").text == "['bucket_A', 'base']|['bucket_A', 'base']"


def test_tree_is_memoized_per_request(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app()
    results = []

    @app.route("/tree")
    def tree() -> str:
        mendel.set_variations(["bucket_A"])
        first, again = mendel.tree("main"), mendel.tree("main")
        results.append((first, again))
        return first.hash

    client = app.test_client()
    assert client.get("/tree").text == expected_hash(trees, "main", ["bucket_A"])
    client.get("/tree")
    (first, again), _second_request = results
    assert first is again
    with app.test_request_context("/"):
        assert isinstance(mendel._get_current_object(), FlaskRequestResolver)


def test_resolver_is_shared_with_wsgi_environ(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/same")
    def same() -> str:
        from flask import request

        return str(request.environ["mendel"] is mendel._get_current_object())

    assert app.test_client().get("/same").text == "True"


# --------------------------------------------------------------------------- URLs and helpers


def test_bundle_url_for_the_requests_variations(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app()

    @app.route("/urls")
    def urls() -> str:
        return f"{mendel.bundle_url('main')} {mendel.bundle_url('css')}"

    client = app.test_client()
    client.set_cookie("mendel_variations", "bucket_A")
    main_url, css_url = client.get("/urls").text.split()
    assert main_url == f"/mendel/{expected_hash(trees, 'main', ['bucket_A'])}/main.js"
    assert css_url == f"/mendel/{expected_hash(trees, 'css', ['bucket_A'])}/css.css"


def test_jinja_helpers(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app()
    template = "{{ mendel_bundle_url('main') }}\n{{ mendel_script('main') }}\n{{ mendel_stylesheet('css') }}\n" \
        "{{ mendel_script('main', defer=True, nonce='a\"b', async_=False) }}"
    main_hash = expected_hash(trees, "main", ["bucket_B"])
    css_hash = expected_hash(trees, "css", ["bucket_B"])
    with app.test_request_context("/", headers={"Cookie": "mendel_variations=bucket_B"}):
        lines = render_template_string(template).splitlines()
    assert lines == [
        f"/mendel/{main_hash}/main.js",
        f'<script src="/mendel/{main_hash}/main.js"></script>',
        f'<link rel="stylesheet" href="/mendel/{css_hash}/css.css">',
        f'<script src="/mendel/{main_hash}/main.js" defer nonce="a&#34;b"></script>',
    ]


def test_one_compiled_template_gives_each_request_its_own_tags(make_app: AppFactory, trees: MendelTrees) -> None:
    """The calls a template compiles to filters (`integrations.jinja_functions`) are made per
    render, never folded into the compiled template, whichever request compiled it."""
    app = make_app()
    template = app.jinja_env.from_string("{{ mendel_script('main') }}|{{ mendel_bundle_url('main') }}")
    assert expected_hash(trees, "main", ["bucket_A"]) != expected_hash(trees, "main", [])
    for names in (["bucket_A"], [], ["bucket_A"]):
        main_hash = expected_hash(trees, "main", names)
        with app.test_request_context("/", headers={"Cookie": "mendel_variations=" + ",".join(names)}):
            assert template.render() == f'<script src="/mendel/{main_hash}/main.js"></script>|/mendel/{main_hash}/main.js'
    assert "mendel_script" not in app.jinja_env.globals  # (the context class resolves the names)
    with app.test_request_context("/", headers={"Cookie": "mendel_variations=bucket_A"}):
        assert render_template_string("{{ mendel_script is defined }}") == "True"


def test_url_prefix_for_a_cdn(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app(MENDEL_URL_PREFIX="https://cdn.example.com/")
    cookie = {"Cookie": "mendel_variations="}  # base
    with app.test_request_context("/", base_url="http://localhost/shop/", headers=cookie):
        html = render_template_string("{{ mendel_script('main') }}")
        url = mendel.bundle_url("css")
    main_hash = expected_hash(trees, "main", [])
    assert html == f'<script src="https://cdn.example.com/mendel/{main_hash}/main.js"></script>'
    assert url == f"https://cdn.example.com/mendel/{expected_hash(trees, 'css', [])}/css.css"


def test_urls_follow_the_mount_point_without_prefix(make_app: AppFactory) -> None:
    app = make_app()
    with app.test_request_context("/", base_url="http://localhost/shop/"):
        assert mendel.bundle_url("main").startswith("/shop/mendel/")


def test_custom_route(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app(MENDEL_ROUTE="/assets/b/:bundle/:hash")
    client = app.test_client()
    with app.test_request_context("/", headers={"Cookie": "mendel_variations="}):
        url = mendel.bundle_url("main")
    assert url == f"/assets/b/main/{expected_hash(trees, 'main', [])}"
    assert client.get(url).status_code == 200


# --------------------------------------------------------------------------- bundle endpoint


def guarded_app(make_app: AppFactory) -> Flask:
    """An app whose hooks would break bundles if bundle requests went through Flask."""
    app = make_app()

    @app.before_request
    def touch_session_and_guard() -> None:
        session.get("user")
        from flask import request

        if request.path.startswith("/mendel/"):
            abort(403)

    @app.route("/page")
    def page() -> str:
        return render_template_string("{{ mendel_script('main') }} {{ mendel_stylesheet('css') }}")

    return app


def test_bundles_are_served_in_front_of_flask(make_app: AppFactory) -> None:
    client = guarded_app(make_app).test_client()
    client.set_cookie("mendel_variations", "bucket_A")
    page = client.get("/page")
    assert "Cookie" in page.headers.get("Vary", ""), "the session hook ran for the page"
    js = client.get(script_src(page.text))
    assert js.status_code == 200
    assert js.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert js.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert js.headers["Vary"] == "Accept-Encoding"
    assert "Set-Cookie" not in js.headers
    assert "Buy now" in js.text and "Add to cart" not in js.text
    assert "examples/shop" not in js.text and "bucket_A" not in js.text
    css_url = re.search(r'href="([^"]+)"', page.text).group(1)
    css = client.get(css_url)
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "#26a269" in css.text


def test_bundle_errors_are_404_and_other_methods_405(make_app: AppFactory, trees: MendelTrees) -> None:
    client = make_app().test_client()
    good = expected_hash(trees, "main", [])
    bad = client.get("/mendel/bWVuZGVsAQAC_wIACwymnXS-hyyRSwbove5neRfo6fI/main.js")
    assert bad.status_code == 404 and bad.headers["Cache-Control"] == "no-store"
    assert client.get(f"/mendel/{good}/nope.js").status_code == 404
    assert client.get("/mendel/%00%ff/main.js").status_code == 404
    post = client.post(f"/mendel/{good}/main.js")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    assert client.get(f"/mendel/{good}/main.js").status_code == 200


def test_other_requests_still_reach_flask(make_app: AppFactory) -> None:
    client = make_app().test_client()
    assert client.get("/not-a-route").status_code == 404


# --------------------------------------------------------------------------- templates


def card_app(make_app: AppFactory, **config: object) -> Flask:
    app = make_app(**config)

    @app.route("/card")
    def card() -> str:
        return render_template("product_card.html", product={"id": "p", "name": "Mug", "price": "$1"})

    @app.route("/index")
    def index() -> str:
        return render_template("index.html", products=[{"id": "p", "name": "Mug", "price": "$1"}],
                               active=mendel.variations[:-1], layers={})

    app.add_url_rule("/variations", "choose_variations", lambda: "", methods=["POST"])
    return app


def test_templates_follow_the_variation_chain(make_app: AppFactory) -> None:
    client = card_app(make_app).test_client()
    client.set_cookie("mendel_variations", "")
    assert "Staff pick" not in client.get("/card").text
    client.set_cookie("mendel_variations", "bucket_B")
    assert "Staff pick" in client.get("/card").text
    client.set_cookie("mendel_variations", "bucket_A")
    assert "Staff pick" not in client.get("/card").text


def test_jinja_cache_does_not_leak_between_variations(make_app: AppFactory) -> None:
    """Interleaved requests: each gets its own product card although Jinja caches by name."""
    app = card_app(make_app)
    assert app.jinja_env.auto_reload is False, "the production setting, where the pitfall bites"
    client = app.test_client()
    for cookie in ["bucket_B", "", "bucket_D", "bucket_B,feature_C", "feature_C", "bucket_B"] * 2:
        client.set_cookie("mendel_variations", cookie)
        page = client.get("/index").text
        assert ("Staff pick" in page) == ("bucket_B" in cookie), cookie
        assert ("product-card--compact" in page) == ("bucket_B" in cookie), cookie


def test_template_loader_uses_the_set_variations(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/forced")
    def forced() -> str:
        mendel.set_variations(["bucket_B"])
        return render_template("product_card.html", product={"id": "p", "name": "Mug", "price": "$1"})

    assert "Staff pick" in app.test_client().get("/forced").text


def test_outside_requests_templates_come_from_base(make_app: AppFactory) -> None:
    app = make_app()
    with app.app_context():
        html = render_template("product_card.html", product={"id": "p", "name": "Mug", "price": "$1"})
    assert "Staff pick" not in html and "Mug" in html


def test_templates_can_be_turned_off(make_app: AppFactory) -> None:
    app = make_app(MENDEL_TEMPLATES=False)
    assert app.extensions["mendel"].template_loader is None
    with app.test_request_context("/"), pytest.raises(TemplateNotFound):
        render_template("product_card.html")


def test_apps_own_templates_still_load(make_app: AppFactory, tmp_path: Path, project: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "own.html").write_text("own {{ mendel_bundle_url('css') }}")
    (tmp_path / "templates" / "product_card.html").write_text("app's card")
    app = Flask("own", root_path=str(tmp_path))
    app.config.update(MENDEL_BASEDIR=str(project), SECRET_KEY="test")
    Mendel(app)
    with app.test_request_context("/"):
        assert render_template("own.html").startswith("own /mendel/")
        card = render_template("product_card.html", product={"id": "p", "name": "Mug", "price": "$1"})
    assert "Mug" in card, "variation templates come first"


# --------------------------------------------------------------------------- CLI


def test_flask_mendel_cli_uses_the_apps_basedir(
    make_app: AppFactory, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MENDEL_BASEDIR", raising=False)
    app = make_app()
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=["mendel", "inspect", "--json"])
    assert result.exit_code == 0, result.output
    assert str(project) in result.output and "bucket_D" in result.output


def test_flask_mendel_resolve(make_app: AppFactory, trees: MendelTrees) -> None:
    app = make_app()
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["mendel", "resolve", "--bundle", "main", "--variations", "bucket_A"])
    assert result.exit_code == 0, result.output
    assert expected_hash(trees, "main", ["bucket_A"]) in result.output


# --------------------------------------------------------------------------- the example app


@pytest.fixture()
def shop(project: Path) -> Flask:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from shop.app import create_app
    finally:
        sys.path.remove(str(EXAMPLES))
    return create_app({"MENDEL_BASEDIR": str(project)})


def test_example_shop_page_and_variation_form(shop: Flask, trees: MendelTrees) -> None:
    client = shop.test_client()
    client.set_cookie("mendel_variations", "")
    page = client.get("/")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private"
    assert "Cookie" in page.headers["Vary"]
    assert '<span id="active-variations">none (base)</span>' in page.text
    chosen = client.post("/variations", data={"look": "bucket_D", "features": "feature_C"})
    assert chosen.status_code == 303
    assert "mendel_variations" in chosen.headers["Set-Cookie"]
    page = client.get("/")
    assert '<span id="active-variations">bucket_D, feature_C</span>' in page.text
    assert script_src(page.text) == f"/mendel/{expected_hash(trees, 'main', ['bucket_D', 'feature_C'])}/main.js"
    client.post("/variations", data={"look": "", "features": "bogus"})  # back to the experiments
    page = client.get("/").text
    assert "Chosen by experiment assignment" in page and 'id="assignments"' in page
    assert client.get_cookie("mendel_uid") is not None


def test_exposures_reach_a_handler_registered_after_init_app_else_the_default_sink(
    make_app: AppFactory, tmp_path: Path
) -> None:
    sink = tmp_path / "exposures.jsonl"
    extension = Mendel()
    app = make_app(extension, MENDEL_EXPOSURE_LOG=str(sink))

    @app.route("/page")
    def page() -> str:
        return mendel.bundle_url("main")

    app.test_client().get("/page")  # no handler: the JSON-lines sink has them
    written = [json.loads(line) for line in sink.read_text().splitlines()]
    assert written and all(line["event"] == "exposure" for line in written)
    heard: list[object] = []
    extension.on_exposure(heard.append)
    app.test_client().get("/page")  # another visitor
    assert heard and all(isinstance(e, request_module.Exposure) for e in heard)
    assert len(sink.read_text().splitlines()) == len(written)  # the handler, not the sink, got them


def test_without_a_secret_an_app_with_experiments_does_not_start(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENDEL_SECRET", raising=False)
    app = Flask("no_secret", root_path=str(project))
    with pytest.raises(RuntimeError, match="SECRET_KEY or MENDEL_SECRET"):
        Mendel(app, basedir=str(project))


def test_bot_rule_pattern_and_decorator(make_app: AppFactory) -> None:
    extension = Mendel()
    app = make_app(extension, MENDEL_BOT_PATTERN=r"^acme-checker", MENDEL_VISITOR_CHOICE=False)

    @app.route("/page")
    def page() -> str:
        return ",".join(mendel.variations)

    client = app.test_client()
    assert client.get("/page", headers={"User-Agent": "acme-checker/2"}).get_data(as_text=True) == "base"
    client.set_cookie("mendel_uid", "flask-bot-rule-unit-1")
    person = client.get("/page", headers={"User-Agent": "Googlebot/2.1"})  # not this app's pattern
    expected = [a.variation for a in experiment_set(app.extensions["mendel"].trees.config).assign("flask-bot-rule-unit-1") if a.variation]
    assert person.get_data(as_text=True).split(",")[:-1] == [v for v in app.extensions["mendel"].trees.variations_and_chains(expected)[0][:-1]]

    @extension.bot_rule
    def staff_monitor(request: Any) -> bool:
        return request.headers.get("X-Monitor") == "1"

    assert client.get("/page", headers={"X-Monitor": "1"}).get_data(as_text=True) == "base"
