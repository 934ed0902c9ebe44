"""The bundle route is one definition: config validation, the CLI and the page agree on it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client
from werkzeug.wrappers import Response

from factory import SAMPLE_RC, write_project
from mendel_py.cli.main import cli
from mendel_py.config import config_from_dict
from mendel_py.errors import ConfigError
from mendel_py.serving.route import DEFAULT_ROUTE, BundleRoute
from mendel_py.serving.wsgi import MendelMiddleware

ROUTES = {
    "/mendel/:hash/:bundle": ("/mendel/{h}/main.js", "/mendel/{c}/css.css"),
    "/m/:hash/:bundle.js": ("/m/{h}/main.js", "/m/{c}/css.js"),
    "/m/:bundle/:hash": ("/m/main/{h}", "/m/css/{c}"),
    "/assets/v-:hash/:bundle": ("/assets/v-{h}/main.js", "/assets/v-{c}/css.css"),
}


def page_app(environ: dict[str, Any], start_response: Any) -> Any:
    resolver = environ["mendel"]
    return Response(f"{resolver.bundle_url('main')} {resolver.bundle_url('css')}")(environ, start_response)


def project_with_route(tmp_path: Path, route: str) -> Path:
    return write_project(tmp_path, SAMPLE_RC.replace("/mendel/:hash/:bundle", route))


@pytest.mark.parametrize("route", list(ROUTES))
def test_cli_and_page_build_the_same_urls(tmp_path: Path, route: str) -> None:
    project = project_with_route(tmp_path, route)
    client = Client(MendelMiddleware(page_app, str(project)))
    client.set_cookie("mendel_variations", "bucket_A")
    page_urls = client.get("/").get_data(as_text=True).split()

    result = CliRunner().invoke(
        cli, ["resolve", "--basedir", str(project), "--variations", "bucket_A", "--json"]
    )
    assert result.exit_code == 0, result.output
    by_bundle = {tree["bundle"]: tree for tree in json.loads(result.stdout)["bundles"]}
    cli_urls = [by_bundle["main"]["url"], by_bundle["css"]["url"]]
    main_shape, css_shape = ROUTES[route]
    assert cli_urls == page_urls == [
        main_shape.format(h=by_bundle["main"]["hash"]),
        css_shape.format(c=by_bundle["css"]["hash"]),
    ]
    for url in page_urls:  # each URL the page embeds is served
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True))


@pytest.mark.parametrize(("route", "reason"), [
    ("/m/:hashx/:hash/:bundle", ":hash and :bundle"),
    ("/m/:hash", ":hash and :bundle"),
    ("/m/:hash/:hash/:bundle", ":hash and :bundle"),
    ("m/:hash/:bundle", "starting with '/'"),
    ("/:hash/:bundle", "fixed path"),
    ("/m/:hash:bundle", "doesn't match back"),
    ("/m/:hash/<x>/:bundle", "may not contain"),
])
def test_a_route_that_cannot_build_urls_fails_validate(tmp_path: Path, route: str, reason: str) -> None:
    project = project_with_route(tmp_path, route)
    result = CliRunner().invoke(cli, ["validate", "--basedir", str(project), "--json"])
    assert result.exit_code == 1
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["type"] == "ConfigError"
    assert problem["key"] == "route-config.hash"
    assert reason in problem["message"]


def test_a_bundle_id_the_route_cannot_carry_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"bundles": {"a/b": {}}}, root=tmp_path)
    assert caught.value.key == "bundles.a/b"


def test_default_route_and_suffix_rules() -> None:
    config = config_from_dict({"bundles": {"main": {}, "css": {"serveAs": "css"}}}, root=".")
    assert config.route == DEFAULT_ROUTE
    assert (config.bundles["main"].suffix, config.bundles["css"].suffix) == (".js", ".css")
    assert config.bundle_path("css", "H") == "/mendel/H/css.css"
    route = BundleRoute("/m/:hash/:bundle.js")
    assert route.segment("main", ".js") == "main" and route.build("main", "H", ".js") == "/m/H/main.js"
    assert BundleRoute("/m/:hash/:bundle", "https://cdn.example/").build("a b", "H", ".js") == (
        "https://cdn.example/m/H/a%20b.js"
    )
