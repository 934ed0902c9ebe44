"""What Mendel adds to a page, on each of the three stacks, in one process and one run.

    .venv/bin/python benchmarks/bench_pages.py            # the figures of benchmarks/README.md
    .venv/bin/python benchmarks/bench_pages.py --quick    # fewer rounds
    .venv/bin/python benchmarks/bench_pages.py --json

The page is minimal: a precompiled template with a stylesheet and a script tag, asked for by a
returning visitor with a variations cookie (and another cookie) on the example shop's project
(root `.mendelrc`: experiments configured, visitor choice on, so the cookie decides; a secret
set). "plain" is the same app and page without Mendel, its tags static strings. Each stack:

- Flask: the app called as WSGI (`Mendel(app)` and `mendel_script(...)` globals);
- Django: `WSGIHandler` (the Mendel middleware and `{% mendel_script %}` tags) against one with
  no middleware;
- Starlette: the ASGI app called on one event loop (`MendelASGIMiddleware`, the Jinja functions).

"calls" is the plain app with Mendel's template surface returning constants: Jinja, the four
functions Mendel installs (`mendel_script`, `mendel_stylesheet`, `mendel_bundle_url`,
`mendel_render`), installed the way Mendel installs them (`integrations.jinja_functions`), two
of them called; Django, two tags of the shape of Mendel's (a node per tag with one quoted name).
What the template engine itself charges for Mendel's tags, so "Mendel over those calls" is
Mendel's own share.
Each variant's view does the same work but for its template (Django's calls page has its own
path, not a query the others would not parse). Rounds interleave every variant (Flask plain,
Flask calls, Flask Mendel, Django plain, ...), each timing `--requests` calls; a figure is the
median over rounds of the per-request time. Then warm-bundle requests per second of each stack
(the same call path, a bundle URL already packed).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_manifest import print_result  # noqa: E402

PROJECT = ROOT / "examples" / "shop"
SECRET = "bench-secret-bench-secret-bench-secret"
COOKIE = "mendel_variations=bucket_A,feature_C; sid=0123456789abcdef"
SETTINGS = {"visitor_choice": True, "cookie_name": "mendel_variations", "reload_interval": None}
PAGE = "<!doctype html><html><head>{css}</head><body><p>Hello</p>{js}</body></html>"
STATIC_CSS = '<link rel="stylesheet" href="/static/site.css">'
STATIC_JS = '<script src="/static/site.js"></script>'

TAGGED_JINJA = PAGE.format(css='{{ mendel_stylesheet("css") }}', js='{{ mendel_script("main") }}')
TAGGED_DJANGO = PAGE.format(css='{% mendel_stylesheet "css" %}', js='{% mendel_script "main" %}')

Call = Callable[[], object]


def _django_library() -> Any:
    """`bench_static_tags`: Django tags of the shape of Mendel's (`{% static_script "main" %}`: a
    node of its own per tag, its bundle name parsed once), returning constants (the template
    engine's own cost of two tags)."""
    from django import template

    class ConstantNode(template.Node):
        child_nodelists = ()

        def __init__(self, tag: str, bundle: str):
            self.tag, self.bundle = tag, bundle

        def render(self, context: Any) -> str:
            return self.tag

    def constant_tag(tag: str) -> Callable[[Any, Any], Any]:
        def compile_tag(parser: Any, token: Any) -> Any:
            return ConstantNode(tag, parser.compile_filter(token.split_contents()[1]).var)

        return compile_tag

    library = template.Library()
    library.tag("static_stylesheet", constant_tag(STATIC_CSS))
    library.tag("static_script", constant_tag(STATIC_JS))
    return library


def environ(path: str = "/") -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    built = EnvironBuilder(path=path, headers={"Cookie": COOKIE, "Accept-Encoding": "gzip, br",
                                                "User-Agent": "Mozilla/5.0 bench"}).get_environ()
    built["RAW_URI"] = path
    return built


def wsgi_call(app: Any, path: str = "/") -> Call:
    base = environ(path)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        pass

    def call() -> object:
        result = app(dict(base), start_response)
        body = b"".join(result)
        close = getattr(result, "close", None)
        if close is not None:
            close()
        return body

    return call


# --------------------------------------------------------------------------- Flask


def _constant(tag: str) -> Callable[..., Any]:
    from markupsafe import Markup

    markup = Markup(tag)
    return lambda *args, **kwargs: markup


def install_constant_functions(environment: Any) -> None:
    """Mendel's four template functions, returning constants, installed as Mendel installs them
    (the "calls" pages: their calls compiled as filters, the names resolved by the context class)."""
    from jinja2 import pass_context

    from mendel_py.integrations.jinja_functions import install_template_functions

    tags = {"mendel_stylesheet": STATIC_CSS, "mendel_script": STATIC_JS, "mendel_bundle_url": "/static/site.js",
            "mendel_render": "<div></div>"}
    functions = {name: _constant(tag) for name, tag in tags.items()}
    install_template_functions(environment, functions,
                               {name: pass_context(_constant(tag)) for name, tag in tags.items()})


def flask_apps() -> tuple[Any, Any, Any]:
    from flask import Flask

    from mendel_py.integrations.flask import Mendel

    calls = Flask("calls")  # no Mendel; its four template functions, returning constants (two called)
    calls.config.update(SECRET_KEY=SECRET)
    install_constant_functions(calls.jinja_env)
    calls_template = calls.jinja_env.from_string(TAGGED_JINJA)
    calls.add_url_rule("/", "index", lambda: calls_template.render())

    plain = Flask("plain")
    plain.config.update(SECRET_KEY=SECRET)  # (the same app: a secret opens Flask's session on both)
    plain_page = PAGE.format(css=STATIC_CSS, js=STATIC_JS)
    plain_template = plain.jinja_env.from_string(plain_page)
    plain.add_url_rule("/", "index", lambda: plain_template.render())

    with_mendel = Flask("mendel")
    with_mendel.config.update(SECRET_KEY=SECRET, MENDEL_BASEDIR=str(PROJECT), MENDEL_VISITOR_CHOICE=True,
                              MENDEL_RELOAD_INTERVAL=0)
    Mendel(with_mendel)
    template = with_mendel.jinja_env.from_string(TAGGED_JINJA)
    with_mendel.add_url_rule("/", "index", lambda: template.render())
    return plain, calls, with_mendel


# --------------------------------------------------------------------------- Django


def django_handlers() -> tuple[Any, Any, Any]:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["localhost"], SECRET_KEY=SECRET, ROOT_URLCONF=__name__,
        INSTALLED_APPS=["mendel_py.django"], MIDDLEWARE=[], USE_TZ=True,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}],
        MENDEL={"BASEDIR": str(PROJECT), "VISITOR_CHOICE": True, "RELOAD_INTERVAL": 0},
    )
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    plain = WSGIHandler()  # (its "calls" page: the same handler, `/calls`)
    with override_settings(MIDDLEWARE=["mendel_py.django.middleware.MendelMiddleware"]):
        with_mendel = WSGIHandler()
    return plain, plain, with_mendel


def _django_views() -> list[Any]:
    from django.http import HttpResponse
    from django.template import engines
    from django.urls import path

    engine = engines["django"]
    plain = engine.from_string(PAGE.format(css=STATIC_CSS, js=STATIC_JS))
    tagged = engine.from_string("{% load mendel %}" + TAGGED_DJANGO)
    engine.engine.template_libraries["bench_static_tags"] = _django_library()
    calls = engine.from_string("{% load bench_static_tags %}" + TAGGED_DJANGO.replace("mendel_", "static_"))

    def index(request: Any) -> HttpResponse:
        return HttpResponse((tagged if hasattr(request, "mendel") else plain).render({}, request))

    def calls_page(request: Any) -> HttpResponse:
        return HttpResponse(calls.render({}, request))

    return [path("", index), path("calls", calls_page)]


def __getattr__(name: str) -> Any:  # the URLconf's `urlpatterns`, made once Django is set up
    if name == "urlpatterns":
        patterns = _django_views()
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


# --------------------------------------------------------------------------- Starlette


def starlette_apps() -> tuple[Any, Any, Any]:
    from jinja2 import Environment
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from mendel_py.asgi import MendelASGIMiddleware
    from mendel_py.integrations.jinja import use_current_request_functions

    plain_template = Environment(autoescape=True).from_string(PAGE.format(css=STATIC_CSS, js=STATIC_JS))
    env = Environment(autoescape=True)
    use_current_request_functions(env, "no request")  # (what `mendel_templates` installs)
    template = env.from_string(TAGGED_JINJA)
    calls_env = Environment(autoescape=True)
    install_constant_functions(calls_env)
    calls_template = calls_env.from_string(TAGGED_JINJA)

    async def calls_page(request: Any) -> HTMLResponse:
        return HTMLResponse(calls_template.render())

    async def plain_page(request: Any) -> HTMLResponse:
        return HTMLResponse(plain_template.render())

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(template.render())

    plain = Starlette(routes=[Route("/", plain_page)])
    calls = Starlette(routes=[Route("/", calls_page)])
    with_mendel = MendelASGIMiddleware(Starlette(routes=[Route("/", page)]), str(PROJECT), secret_key=SECRET,
                                       **SETTINGS)
    with_mendel.load()
    return plain, calls, with_mendel


def _many(app: Any, path: str, count: int) -> Coroutine[Any, Any, None]:
    """`count` requests for `path` to the ASGI `app`, in one coroutine (so a round's time is the
    requests', not the loop's start and stop)."""
    headers = [(b"host", b"localhost"), (b"cookie", COOKIE.encode()), (b"accept-encoding", b"gzip, br"),
               (b"user-agent", b"Mozilla/5.0 bench")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "server": ("localhost", 80), "client": ("127.0.0.1", 1234)}
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run() -> None:
        for _ in range(count):
            await app(dict(scope, state={}), receive, send)

    return run()


# --------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--requests", type=int, default=300, help="calls per variant per round")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 25)
    count = 50 if args.quick else args.requests
    os.environ.setdefault("MENDEL_EXPOSURE_LOG", "off")
    loop = asyncio.new_event_loop()
    flask_plain, flask_calls, flask_mendel = flask_apps()
    django_plain, django_calls, django_mendel = django_handlers()
    star_plain, star_calls, star_mendel = starlette_apps()
    wsgi = {
        "Flask plain": wsgi_call(flask_plain), "Flask calls": wsgi_call(flask_calls),
        "Flask Mendel": wsgi_call(flask_mendel),
        "Django plain": wsgi_call(django_plain), "Django calls": wsgi_call(django_calls, "/calls"),
        "Django Mendel": wsgi_call(django_mendel),
    }
    asgi = {"Starlette plain": star_plain, "Starlette calls": star_calls, "Starlette Mendel": star_mendel}
    for call in wsgi.values():
        call()
    for app in asgi.values():
        loop.run_until_complete(_many(app, "/", 3))
    assert b"/mendel/" in wsgi["Flask Mendel"]() and b"/mendel/" in wsgi["Django Mendel"]()  # type: ignore[operator]
    assert b"/static/site.js" in wsgi["Flask calls"]() and b"/static/site.js" in wsgi["Django calls"]()  # type: ignore[operator]

    samples: dict[str, list[float]] = {name: [] for name in [*wsgi, *asgi]}
    gc.collect()
    for _round in range(rounds):
        for name, call in wsgi.items():
            start = time.perf_counter_ns()
            for _ in range(count):
                call()
            samples[name].append((time.perf_counter_ns() - start) / count / 1e3)
        for name, app in asgi.items():
            run = _many(app, "/", count)
            start = time.perf_counter_ns()
            loop.run_until_complete(run)
            samples[name].append((time.perf_counter_ns() - start) / count / 1e3)

    result: dict[str, object] = {"rounds": rounds, "requests per round": count}
    for stack in ("Flask", "Django", "Starlette"):
        plain = statistics.median(samples[f"{stack} plain"])
        mendel = statistics.median(samples[f"{stack} Mendel"])
        result[f"{stack} page plain (us)"] = round(plain, 1)
        result[f"{stack} page Mendel (us)"] = round(mendel, 1)
        result[f"{stack} Mendel adds (us)"] = round(mendel - plain, 1)
        result[f"{stack} Mendel adds (%)"] = round(100 * (mendel - plain) / plain, 1)
        calls = statistics.median(samples[f"{stack} calls"])
        result[f"{stack} template surface costs (us)"] = round(calls - plain, 1)
        result[f"{stack} Mendel over those calls (us)"] = round(mendel - calls, 1)

    # warm bundles: the URL the Mendel page embeds, already packed (gzip: the visitor's coding)
    page = wsgi["Flask Mendel"]().decode()  # type: ignore[attr-defined]
    bundle = page.split('<script src="', 1)[1].split('"', 1)[0]
    bundles = {"Flask": wsgi_call(flask_mendel, bundle), "Django": wsgi_call(django_mendel, bundle)}
    for name, call in bundles.items():
        call()
        seconds = statistics.median(_time(call, count) for _ in range(max(3, rounds // 3)))
        result[f"{name} warm bundle (req/s)"] = round(1 / seconds)
    loop.run_until_complete(_many(star_mendel, bundle, 1))
    per = []
    for _ in range(max(3, rounds // 3)):
        run = _many(star_mendel, bundle, count)
        start = time.perf_counter_ns()
        loop.run_until_complete(run)
        per.append((time.perf_counter_ns() - start) / count / 1e9)
    result["Starlette warm bundle (req/s)"] = round(1 / statistics.median(per))
    loop.close()
    print_result(result, args.json)
    return 0


def _time(call: Call, count: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(count):
        call()
    return (time.perf_counter_ns() - start) / count / 1e9


if __name__ == "__main__":
    sys.exit(main())
