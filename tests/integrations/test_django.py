"""`mendel_py.django` in a Django project configured here (DEBUG=False), over a built copy of the
example shop: bundles before URL routing (also behind whitenoise), `request.mendel`, the
template tags, page marks through Django's cache utilities, settings, system checks and
`manage.py mendel`."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402

from e2e_support import REPO, build_example_project  # noqa: E402

PROJECT = Path(tempfile.mkdtemp(prefix="mendel-django-"))
STATIC = Path(tempfile.mkdtemp(prefix="mendel-static-"))
(STATIC / "site.css").write_text("body { color: red }\n")

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="django-test-secret",
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["mendel_py.django"],
        MIDDLEWARE=["mendel_py.django.middleware.MendelMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}],
        MENDEL={"BASEDIR": str(PROJECT), "VISITOR_CHOICE": True, "RELOAD_INTERVAL": 0},
        STATIC_URL="/static/",
        STATIC_ROOT=str(STATIC),
        USE_TZ=True,
    )
    django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from mendel_py.django import conf  # noqa: E402
from mendel_py.django.checks import check_mendel  # noqa: E402
from mendel_py.serving.options import EXTENSION, SETTINGS  # noqa: E402

TAGS = '{% load mendel %}{% mendel_stylesheet "css" %}|{% mendel_script "main" defer=True %}|{% mendel_bundle_url "main" %}'


def tags_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(TAGS).render({}, request))


def render_view(request: HttpRequest) -> HttpResponse:
    page = engines["django"].from_string('{% load mendel %}{% mendel_render "main" props %}')
    return HttpResponse(page.render({"props": {"products": []}}, request))


def private_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(request.mendel.bundle_url("main"))  # type: ignore[attr-defined]
    response["Vary"] = "Accept-Language"
    response["Cache-Control"] = "no-store"
    return response


SPELLINGS = ('{% load mendel %}{% mendel_script "main" %}|{% mendel_script bundle %}|{% mendel_script \'main\' integrity=None %}'
             '|{% mendel_stylesheet "css" %}|{% mendel_stylesheet css %}|{% mendel_script "main" as tag %}{{ tag }}')


def spellings_view(request: HttpRequest) -> HttpResponse:
    if request.GET.get("replace"):  # the view's own resolver, for other variations
        request.mendel = conf.get_core().resolver({"HTTP_COOKIE": "mendel_variations=bucket_D"})  # type: ignore[attr-defined]
    return HttpResponse(engines["django"].from_string(SPELLINGS).render({"bundle": "main", "css": "css"}, request))


def plain_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no Mendel here")


urlpatterns = [path("tags", tags_view), path("render", render_view), path("private", private_view), path("plain", plain_view),
               path("spellings", spellings_view)]


@pytest.fixture(scope="module", autouse=True)
def project() -> Path:
    build_example_project(PROJECT)
    conf.reset_core()
    return PROJECT


@pytest.fixture
def client() -> Client:
    return Client()


def test_template_tags_render_the_resolvers_tags_and_mark_the_page(client: Client) -> None:
    response = client.get("/tags", HTTP_COOKIE="mendel_variations=bucket_B")
    assert response.status_code == 200
    resolver = conf.get_core().resolver({"HTTP_COOKIE": "mendel_variations=bucket_B"})
    css, script, url = response.content.decode().split("|")
    assert css == resolver.stylesheet_tag("css")
    assert script == resolver.script_tag("main", defer=True) and " defer" in script
    assert url == resolver.bundle_url("main") and url.startswith("/mendel/")
    assert response["Vary"] == "Cookie" and response["Cache-Control"] == "private"


@pytest.mark.parametrize("replace", ["", "1"])
def test_every_spelling_of_a_tag_gives_the_resolvers_tag(client: Client, replace: str) -> None:
    # (one quoted name compiles to the tag's own node; the other spellings are the simple tag)
    response = client.get(f"/spellings?replace={replace}", HTTP_COOKIE="mendel_variations=bucket_B")
    resolver = conf.get_core().resolver({"HTTP_COOKIE": f"mendel_variations={'bucket_D' if replace else 'bucket_B'}"})
    script, css = resolver.script_tag("main"), resolver.stylesheet_tag("css")
    assert response.content.decode().split("|") == [script, script, script, css, css, script]
    other = "bucket_B" if replace else "bucket_D"
    assert script != conf.get_core().resolver({"HTTP_COOKIE": f"mendel_variations={other}"}).script_tag("main")
    assert response["Vary"] == "Cookie" and response["Cache-Control"] == "private"


def test_mendel_render_server_renders_the_requests_own_tree(client: Client) -> None:
    for cookie in ("", "bucket_D"):
        response = client.get("/render", HTTP_COOKIE=f"mendel_variations={cookie}")
        resolver = conf.get_core().resolver({"HTTP_COOKIE": f"mendel_variations={cookie}"})
        assert response.content.decode() == resolver.render("main", {"products": []})
        assert "Rendered on the server" in response.content.decode()
    assert b"Promo week" in response.content and response["Vary"] == "Cookie"


def test_a_page_without_mendel_is_not_marked(client: Client) -> None:
    response = client.get("/plain")
    assert not response.has_header("Vary") and not response.has_header("Cache-Control")


def test_marks_merge_with_the_views_own_headers(client: Client) -> None:
    response = client.get("/private")
    assert response["Cache-Control"] == "no-store"  # already out of shared caches: left alone
    assert response["Vary"] == "Accept-Language, Cookie"


def test_bundles_are_answered_before_url_routing_with_debug_off(client: Client) -> None:
    assert settings.DEBUG is False
    url = client.get("/tags").content.decode().split("|")[2]
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    expected = conf.get_core().answer_bundle(
        {"REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}, url)
    assert expected is not None
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"".join(expected.chunks)  # type: ignore[attr-defined]
    assert sorted(response.items()) == sorted(expected.headers)
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and not again.has_header("Content-Type")
    missing = client.get("/mendel/not-a-hash/main.js")
    assert missing.status_code == 404 and missing["Cache-Control"] == "no-store"
    assert client.post(url).status_code == 405


def test_whitenoise_in_front_serves_static_files_and_leaves_bundles_to_mendel() -> None:
    pytest.importorskip("whitenoise")
    with override_settings(MIDDLEWARE=["whitenoise.middleware.WhiteNoiseMiddleware",
                                       "mendel_py.django.middleware.MendelMiddleware"]):
        client = Client()
        static = client.get("/static/site.css")
        assert static.status_code == 200 and b"color: red" in b"".join(static.streaming_content)
        url = client.get("/tags").content.decode().split("|")[2]
        bundle = client.get(url)
        assert bundle.status_code == 200 and bundle["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.target != EXTENSION or "Django" in s.frameworks],
                         ids=lambda s: s.key)
def test_every_django_key_sets_the_flask_keys_setting(setting: Any) -> None:
    value = object()
    with override_settings(MENDEL={setting.django_key: value}):
        assert setting.django_key == setting.key.removeprefix("MENDEL_")
        assert conf.mendel_settings()[setting.key] is value


def test_checks_report_unknown_keys_and_pass_on_a_good_project() -> None:
    assert check_mendel() == []
    with override_settings(MENDEL={**settings.MENDEL, "COOKIE": "x"}):
        [error] = check_mendel()
    assert error.id == "mendel.E002" and "COOKIE" in error.msg


def manage(*args: str, basedir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The Django shop's manage.py (examples/django_shop), run from the repository root."""
    env = {**os.environ, **({"SHOP_MENDEL_BASEDIR": str(basedir)} if basedir else {})}
    return subprocess.run([sys.executable, "examples/django_shop/manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_manage_check_reports_a_broken_mendelrc_with_the_cores_message(tmp_path: Path) -> None:
    from mendel_py.core.trees import MendelTrees
    from mendel_py.errors import ConfigError

    (tmp_path / ".mendelrc").write_text("bundles: [not, a, mapping\n")
    with pytest.raises(ConfigError) as raised:
        MendelTrees(str(tmp_path))
    result = manage("check", basedir=tmp_path)
    assert result.returncode != 0
    assert "mendel.E001" in result.stderr and str(raised.value) in result.stderr, result.stderr
    good = manage("check", basedir=PROJECT)
    assert good.returncode == 0, good.stderr
    assert "no issues" in good.stdout


def test_manage_mendel_runs_the_mendel_commands_on_the_projects_settings() -> None:
    result = manage("mendel", "validate", basedir=PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    listing = manage("mendel", "--help")
    assert listing.returncode == 0 and "manage.py mendel" in listing.stdout and "validate" in listing.stdout
