"""`mendel dev` and `flask --app <app> mendel dev`: serve the app and rebuild on every edit.

    flask --app examples/shop/app.py mendel dev --port 5001
    mendel dev --app mysite.wsgi:application --port 5001      # any WSGI app (module:attribute)
    mendel dev --basedir path/to/project                       # no app: bundles and the QA page

The app is served by werkzeug's threaded development server with the bundle endpoint, the QA page
open (development mode) and the dev loop of `mendel_py.dev`: edits to the base and variation
folders are rebuilt in process and swapped in, and open pages reload themselves. Never use it in
production.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import asdict
from typing import Any

import click

from .support import Options, common_options, load_trees, reporting_errors

ENV_PREFIX = "MENDEL_DEV_"


@click.command("dev")
@click.option(
    "--app",
    "app_path",
    default=None,
    envvar="MENDEL_APP",
    show_envvar=True,
    help="WSGI app to serve as module:attribute (module:factory() calls a factory). "
    "Under `flask --app X mendel dev` the Flask app X. Without one: bundles and the QA page only.",
)
@click.option("--host", default="127.0.0.1", show_default=True, envvar=ENV_PREFIX + "HOST", show_envvar=True)
@click.option("--port", default=5000, show_default=True, type=int, envvar=ENV_PREFIX + "PORT", show_envvar=True)
@common_options
def dev_command(options: Options, app_path: str | None, host: str, port: int) -> None:
    """Serve the app for development: rebuild on save, reload open pages, QA page open.

    The project options apply when the app doesn't bring its own Mendel; --json prints one JSON
    object per event (serving, and every rebuild's status) instead of text lines.
    """
    from werkzeug.serving import make_server

    from ..dev.loop import EVENTS_SUBPATH, DevLoop, DevMiddleware

    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise click.UsageError("mendel dev needs watchfiles: pip install 'mendel_py[dev]'") from None
    os.environ["MENDEL_DEV"] = "1"  # an app built on import is in development too (no FLASK_DEBUG needed)
    with reporting_errors(options):
        served, middleware = _serve_target(app_path, options)
    middleware.development = True
    middleware.reloader = None  # the dev loop reloads after each rebuild; a poller would reload again
    say = Printer(options.as_json)
    loop = DevLoop(
        middleware,
        on_status=lambda status: say("status", status.describe(), asdict(status), bool(status.error)),
    )
    qa_route = _qa_route(middleware)
    server = make_server(host, port, DevMiddleware(served, loop, qa_route + EVENTS_SUBPATH), threaded=True)
    url = f"http://{host}:{server.port}"
    facts = {"url": url + "/", "qa_page": url + qa_route, "watching": loop.watched_paths()}
    text = f"mendel dev: serving {url}/ (QA page {url}{qa_route}); Ctrl-C stops\n" + (
        "mendel dev: watching " + ", ".join(loop.watched_paths())
    )
    say("serving", text, facts)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    loop.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        loop.stop()
        server.server_close()
        say("stopped", "mendel dev: stopped", {})


class Printer:
    """Events for the terminal: a text line (errors to stderr), or with --json one JSON object."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def __call__(self, event: str, text: str, fields: dict[str, Any], error: bool = False) -> None:
        if self.as_json:
            click.echo(json.dumps({"event": event, **fields}))
        else:
            click.echo(text, err=error)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _qa_route(middleware: Any) -> str:
    from ..qa.page import DEFAULT_QA_ROUTE

    return middleware.qa_page.route if middleware.qa_page is not None else DEFAULT_QA_ROUTE


def _serve_target(app_path: str | None, options: Options) -> tuple[Any, Any]:
    """(the WSGI callable to serve, its MendelMiddleware), wrapping the app in one if needed."""
    from ..serving.wsgi import MendelMiddleware

    app = _import_app(app_path) if app_path else _flask_app()
    if app is None:
        return _no_app_middleware(options)
    flask_state = getattr(app, "extensions", {}).get("mendel")
    if flask_state is not None:
        app.config["TEMPLATES_AUTO_RELOAD"] = True
        app.jinja_env.auto_reload = True
        return app, flask_state.middleware
    found = _find_middleware(app)
    if found is not None:
        return app, found
    middleware = MendelMiddleware(app, load_trees(options))
    return middleware, middleware


def _import_app(path: str) -> Any:
    """`module:attribute`, or `module:factory()` to call a factory without arguments."""
    import os

    from werkzeug.utils import import_string

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `flask --app`: the current folder is importable
    call = path.endswith("()")
    target = import_string(path[:-2] if call else path)
    return target() if call else target


def _flask_app() -> Any:
    """The Flask app of `flask --app X mendel dev` (Flask pushes its app context), else None."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return None
    return flask.current_app._get_current_object()


def _find_middleware(app: Any, depth: int = 6) -> Any:
    """The MendelMiddleware inside `app` (following `.wsgi_app` and `.app`), else None."""
    from ..serving.wsgi import MendelMiddleware

    for _ in range(depth):
        if isinstance(app, MendelMiddleware):
            return app
        app = getattr(app, "wsgi_app", None) or getattr(app, "app", None)
        if app is None:
            return None
    return None


def _no_app_middleware(options: Options) -> tuple[Any, Any]:
    """Bundles and the QA page around an app that only says where the QA page is."""
    from werkzeug.wrappers import Response

    from ..serving.wsgi import MendelMiddleware

    def no_app(environ: dict[str, Any], start_response: Any) -> Any:
        qa = _qa_route(middleware)
        body = f'<!doctype html><title>mendel dev</title><p>No app is served; see <a href="{qa}">the QA page</a>.</p>'
        return Response(body, status=404, mimetype="text/html")(environ, start_response)

    middleware = MendelMiddleware(no_app, load_trees(options))
    return middleware, middleware
