"""Mendel for Flask: bundle endpoint, per-request variations, Jinja helpers, `flask mendel`.

    from mendel_py.flask import Mendel, mendel

    ext = Mendel()                      # or Mendel(app)

    def create_app():
        app = Flask(__name__)
        app.config["MENDEL_BASEDIR"] = "path/to/project"
        ext.init_app(app)
        return app

    @app.route("/")
    def index():
        mendel.set_variations(user_buckets())       # optional: default is the cookie
        return render_template("index.html")        # {{ mendel_script("main") }}

Configuration (`app.config`; a keyword option of `Mendel(...)`, lower-cased without the
`MENDEL_` prefix, is the default when the key is not set): the ``MENDEL_*`` keys of
`mendel_py.serving.options.SETTINGS`, each mapped there onto a `ServingOptions` field, a
`MendelTrees` argument or one of this extension's own settings (the README's table of settings
is made from it).

The QA page outside development opens only to a valid QA token (signed with the app's
SECRET_KEY, as set when `init_app` runs) or to the app's own check: `@ext.qa_access` registers
`check(request) -> bool` (called in a request context, so the session and login helpers work).

Bundle URLs are answered in front of Flask (the app's wsgi_app is wrapped), so no request hook,
session or cookie can reach or vary a bundle response.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, cast

from flask import Flask, Request, current_app, has_request_context, jsonify, request
from jinja2 import BaseLoader, ChoiceLoader
from markupsafe import Markup
from werkzeug.local import LocalProxy

from ..config.names import split_variation_names
from ..core.trees import MendelTrees
from ..experiments.exposures import ExposureHandler
from ..serving.html import html_attributes  # noqa: F401  (its old home)
from ..serving.options import (  # noqa: F401  (development_setting's old home was here)
    ServingOptions,
    development_setting,
    serving_options,
    setting_defaults,
    tree_settings,
)
from ..serving.request import RequestResolver
from ..serving.wsgi import MendelMiddleware
from .jinja import VariationTemplateLoader, has_base_templates, install_template_cache, template_filters
from .jinja_functions import install_template_functions

EXTENSION_KEY = "mendel"
ENVIRON_KEY = "mendel"

FlaskVariationsLoader = Callable[[Request], "Iterable[str] | str | None"]
FlaskUnitLoader = Callable[[Request], "str | None"]
FlaskQAAccess = Callable[[Request], bool]

DEFAULTS: dict[str, Any] = setting_defaults()
"""Every MENDEL_* key with its default (`mendel_py.serving.options.SETTINGS`)."""


def config_key(option: str) -> str:
    """`hash_format` -> `MENDEL_HASH_FORMAT`."""
    return "MENDEL_" + option.upper()


class FlaskRequestResolver(RequestResolver):
    """The request's resolver, whose app hook is the extension's `variations_loader`, called
    with Flask's request."""

    middleware: FlaskMendelMiddleware

    def app_loader_configured(self) -> bool:
        return self.middleware.extension.loader is not None

    def app_variations(self) -> list[str] | None:
        loader = self.middleware.extension.loader
        if loader is None:
            return None
        return split_variation_names(loader(flask_request_for(self.environ)))


class FlaskMendelMiddleware(MendelMiddleware):
    """The WSGI middleware, handing out Flask resolvers that ask `extension` for the app hook."""

    resolver_class = FlaskRequestResolver

    def __init__(
        self, app: Any, trees: MendelTrees, options: ServingOptions | None = None, *, extension: Mendel,
        **keywords: Any,
    ):
        self.extension = extension
        super().__init__(app, trees, options, **keywords)

    @property
    def on_exposure(self) -> ExposureHandler | None:
        """The extension's handler, whenever it was registered; None (the default log, and no
        exposure built while that log is off) until one is."""
        return self.extension.exposure_handler

    @on_exposure.setter
    def on_exposure(self, handler: ExposureHandler | None) -> None:
        if handler is not None:
            self.extension.exposure_handler = handler


class MendelState:
    """What `init_app` stores in `app.extensions["mendel"]`."""

    def __init__(
        self,
        extension: Mendel,
        trees: MendelTrees,
        middleware: FlaskMendelMiddleware,
        template_loader: VariationTemplateLoader | None,
    ):
        self.extension = extension
        self.trees = trees
        self.middleware = middleware
        self.template_loader = template_loader

    def resolver_for(self, environ: dict[str, Any]) -> FlaskRequestResolver:
        """The resolver of the request with `environ`, created on first use."""
        resolver = environ.get(ENVIRON_KEY)
        if not isinstance(resolver, FlaskRequestResolver) or resolver.trees is not self.trees:
            resolver = self.middleware.resolver(environ)
            environ[ENVIRON_KEY] = resolver
        return cast(FlaskRequestResolver, resolver)  # (the middleware's resolver_class)


class Mendel:
    """The Flask extension; one instance may serve several apps (application factory)."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        variations_loader: FlaskVariationsLoader | None = None,
        qa_access: FlaskQAAccess | None = None,
        unit_loader: FlaskUnitLoader | None = None,
        on_exposure: ExposureHandler | None = None,
        **options: Any,
    ):
        unknown = sorted(config_key(name) for name in options if config_key(name) not in DEFAULTS)
        if unknown:
            raise TypeError(f"unknown Mendel option(s): {', '.join(unknown)}")
        self.options = options
        self.loader = variations_loader
        self.qa_access_check = qa_access
        self.unit_loader_fn = unit_loader
        self.exposure_handler = on_exposure
        self.bot_rule_fn: Callable[[Request], bool] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Load the manifests once and hook bundles, resolvers, templates and CLI into `app`."""
        settings = self.settings_for(app)
        trees = trees_from_settings(settings)
        default_rule: list[Callable[[dict[str, Any]], bool]] = []
        options = serving_options(
            settings,
            qa_access=self.qa_access_for(app),
            secret_key=app.secret_key or settings["MENDEL_SECRET"],
            unit_loader=self._unit_loader_for,
            is_bot=lambda environ: self._bot_rule_for(environ, default_rule),
        )
        middleware = FlaskMendelMiddleware(app.wsgi_app, trees, options, extension=self)
        default_rule.append(middleware.default_bot_rule)  # this app's MENDEL_BOT_PATTERN rule
        template_loader = make_template_loader(trees, settings["MENDEL_TEMPLATES"])
        app.extensions[EXTENSION_KEY] = MendelState(self, trees, middleware, template_loader)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        if template_loader is not None:
            use_template_loader(app, template_loader)
        register_template_helpers(app)
        if settings["MENDEL_STATUS_ROUTE"]:
            # an app route, not a middleware one, so the app's own auth hooks guard it
            app.add_url_rule(settings["MENDEL_STATUS_ROUTE"], "mendel_status", _status_view(middleware))
        from ..cli.main import cli  # here, not at import: the commands cost ~100 ms to import

        app.cli.add_command(cli, "mendel")

    def settings_for(self, app: Flask) -> dict[str, Any]:
        """Fill the app's MENDEL_* config from the options and defaults; return the values."""
        defaults = {**setting_defaults(), "MENDEL_BASEDIR": app.root_path}
        for name, value in self.options.items():
            defaults[config_key(name)] = value
        for key, value in defaults.items():
            app.config.setdefault(key, value)
        return {key: app.config[key] for key in DEFAULTS}

    def unit_loader(self, loader: FlaskUnitLoader) -> FlaskUnitLoader:
        """Decorator: `loader(request)` returns the experiment unit (a user id), or None for the
        anonymous id of the unit cookie."""
        self.unit_loader_fn = loader
        return loader

    def on_exposure(self, handler: ExposureHandler) -> ExposureHandler:
        """Decorator: `handler(exposure)` receives every exposure (default: a log line)."""
        self.exposure_handler = handler
        return handler

    def bot_rule(self, rule: Callable[[Request], bool]) -> Callable[[Request], bool]:
        """Decorator: `rule(request)` is True for a crawler's request (replaces the user-agent
        rule); it never applies to a QA link or the visitor-choice cookie."""
        self.bot_rule_fn = rule
        return rule

    def _bot_rule_for(self, environ: dict[str, Any], default_rule: list[Callable[[dict[str, Any]], bool]]) -> bool:
        """The registered `@bot_rule` (whenever it was registered), else the app's pattern."""
        if self.bot_rule_fn is not None:
            return bool(self.bot_rule_fn(flask_request_for(environ)))
        return bool(default_rule) and default_rule[0](environ)

    def _unit_loader_for(self, environ: dict[str, Any]) -> str | None:
        if self.unit_loader_fn is None:
            return None
        return self.unit_loader_fn(flask_request_for(environ))

    def variations_loader(self, loader: FlaskVariationsLoader) -> FlaskVariationsLoader:
        """Decorator: `loader(request)` returns the request's variation ids (list or "a,b")."""
        self.loader = loader
        return loader

    def qa_access(self, check: FlaskQAAccess) -> FlaskQAAccess:
        """Decorator: `check(request)` is True for a user who may see the QA page in production."""
        self.qa_access_check = check
        return check

    def qa_access_for(self, app: Flask) -> Callable[[dict[str, Any]], bool]:
        """The middleware's access hook: the registered check, run in a request context."""

        def allowed(environ: dict[str, Any]) -> bool:
            if self.qa_access_check is None:
                return False
            with app.request_context(environ):
                return bool(self.qa_access_check(request._get_current_object()))  # type: ignore[attr-defined]

        return allowed


def _status_view(middleware: MendelMiddleware) -> Callable[[], Any]:
    def mendel_status() -> Any:
        response = jsonify(middleware.status())
        response.headers["Cache-Control"] = "no-store"
        return response

    return mendel_status


def trees_from_settings(settings: Mapping[str, Any]) -> MendelTrees:
    """The app's one MendelTrees: manifests are read and validated here, once."""
    values = tree_settings(settings)
    return MendelTrees(os.fspath(values.pop("basedir")), **values)


def flask_request_for(environ: dict[str, Any]) -> Request:
    """Flask's request object for `environ` (a new Request when outside that request)."""
    if has_request_context() and request.environ is environ:
        return request._get_current_object()  # type: ignore[attr-defined]
    return Request(environ)


# --------------------------------------------------------------------------- per request


def state_of(app: Flask) -> MendelState:
    """The extension state of `app`; a clear error when init_app wasn't called."""
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("Mendel is not initialised on this app: call Mendel(app) or init_app(app)") from None


def get_resolver() -> FlaskRequestResolver:
    """The current request's resolver (what the `mendel` proxy stands for)."""
    context = _request_context.get(None) if _request_context is not None else None
    if context is not None:  # (the usual case, without the proxies: a template's tags ask often)
        resolver = context.request.environ.get(ENVIRON_KEY)
        state = context.app.extensions.get(EXTENSION_KEY)
        if type(resolver) is FlaskRequestResolver and state is not None and resolver.trees is state.trees:
            return resolver
    return state_of(current_app).resolver_for(request.environ)


def _flask_request_context() -> ContextVar[Any] | None:
    """Flask's own request-context variable (a ContextVar since Flask 2.2), if this Flask has it."""
    try:
        from flask.globals import _cv_request
    except ImportError:  # another Flask: the proxies do
        return None
    return _cv_request


_request_context = _flask_request_context()


mendel: FlaskRequestResolver = LocalProxy(get_resolver)  # type: ignore[assignment]


def request_lookup_chains() -> list[list[str]] | None:
    """Lookup chains of the current request for the template loader; None outside a request."""
    if not has_request_context():
        return None
    return get_resolver().lookup_chains


# --------------------------------------------------------------------------- templates


def make_template_loader(trees: MendelTrees, enabled: bool | None) -> VariationTemplateLoader | None:
    """The variation template loader, if enabled (None = when base has a templates folder)."""
    if enabled is None:
        enabled = has_base_templates(trees)
    if not enabled:
        return None
    return VariationTemplateLoader.from_trees(trees, request_lookup_chains)


def use_template_loader(app: Flask, loader: VariationTemplateLoader) -> None:
    """Search variation templates first, then the app's own template folder."""
    loaders: list[BaseLoader] = [loader]
    if app.jinja_loader is not None:
        loaders.append(app.jinja_loader)
    app.jinja_loader = ChoiceLoader(loaders)
    install_template_cache(app.jinja_env, loader)


def bundle_url(bundle: str) -> str:
    """URL of `bundle` for the current request's variations (CDN prefix included)."""
    return get_resolver().bundle_url(bundle)


def script_tag(bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
    """`<script src="...">` for a JS bundle; extra keyword arguments become attributes;
    `integrity=True/False` overrides MENDEL_INTEGRITY for this tag."""
    tag = get_resolver().script_tag(bundle, integrity, **attributes)
    return tag if isinstance(tag, Markup) else Markup(tag)  # (`as_markup`, inline: a page calls it often)


def stylesheet_tag(bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
    """`<link rel="stylesheet" href="...">` for a CSS bundle."""
    tag = get_resolver().stylesheet_tag(bundle, integrity, **attributes)
    return tag if isinstance(tag, Markup) else Markup(tag)


def render(bundle: str, props: Any = None) -> Markup:
    """`bundle` server-rendered for the current request's tree, with its props (`mendel_render`)."""
    return Markup(get_resolver().render(bundle, props))


def register_template_helpers(app: Flask) -> None:
    """The four functions as the app's Jinja globals, their calls compiled as filters (`jinja_functions`)."""
    install_template_functions(
        app.jinja_env,
        {"mendel_bundle_url": bundle_url, "mendel_render": render, "mendel_script": script_tag,
         "mendel_stylesheet": stylesheet_tag},
        template_filters(get_resolver),
    )


__all__ = [
    "FlaskRequestResolver",
    "Mendel",
    "MendelState",
    "get_resolver",
    "mendel",
]
