"""The QA page (default route ``/_mendel/``): every variation side by side, and what this browser gets.

It shows the configured variations (their inheritance chains and, when the app groups them, their
layers), which variations this browser gets and which source decided that, a form to pick
variations for this browser, and per bundle the hash, URL, raw and gzip sizes, conflicts and the
module -> variation map of this browser's tree, plus the variation matrix as an SVG picture.

The page shows variation names, so it is gated: it is open in development; in production only a
request with a valid signed QA token (`mendel_py.qa`) or one the app's own `access(environ)` hook
admits sees it (a QA link's `?mendel_qa=<token>` is moved into the QA cookie). Any other request
under the route is handed to the app untouched, so the answer is whatever the app answers for an
unknown URL (its 404): nothing tells that the page exists.
Bundle URLs never carry names; only this origin page does.

This module is the WSGI part and the access gate; what the page shows is gathered in `report`
and drawn as HTML in `render`.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from ..errors import ConfigError
from ..serving.options import DEFAULT_QA_ROUTE, QAAccess
from .matrix import render_svg, variation_matrix
from .render import MATRIX_PATH, NEXT_FIELD, STYLE, TREEMAP_PATH, VARIATION_FIELD, render_page
from .report import (
    BundleInfo,
    BundlePacker,
    Report,
    VariationInfo,
    build_report,
    bundle_info,
    experiment_layers,
    folder_owners,
    variation_infos,
)
from .tokens import (
    DEFAULT_TTL_SECONDS,
    QA_COOKIE_NAME,
    QA_QUERY_PARAM,
    QAToken,
    read_qa_grant,
    sign_qa_token,
)

if TYPE_CHECKING:
    from ..core.trees import MendelTrees
    from ..serving.options import ServingOptions
    from ..serving.request import RequestResolver

log = logging.getLogger(__name__)

__all__ = [  # (the report and its HTML moved to `report` and `render`; their names still import from here)
    "DEFAULT_QA_ROUTE",
    "MATRIX_PATH",
    "NEXT_FIELD",
    "STYLE",
    "VARIATION_FIELD",
    "BundleInfo",
    "QAAccess",
    "QAHost",
    "QAPage",
    "Report",
    "VariationInfo",
    "build_report",
    "bundle_info",
    "experiment_layers",
    "folder_owners",
    "render_page",
    "safe_next",
    "variation_infos",
]

NO_STORE = "no-store, private"
QA_TOKEN_TTL_SECONDS = DEFAULT_TTL_SECONDS  # a toggle signs a fresh token for this long

StartResponse = Callable[..., Any]


class QAHost(BundlePacker, Protocol):
    """What the QA page needs of the server that routes requests to it (`MendelMiddleware`)."""

    options: ServingOptions
    trees: MendelTrees
    secret_key: str | bytes | None
    development: bool

    def resolver(self, environ: dict[str, Any]) -> RequestResolver: ...

    def pass_to_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]: ...


class QAPage:
    """Serves the QA page below `route` for `middleware` (which routes requests here)."""

    def __init__(
        self,
        middleware: QAHost,
        route: str = DEFAULT_QA_ROUTE,
        *,
        access: QAAccess | None = None,
        layers: Mapping[str, Sequence[str]] | None = None,
    ):
        if not route.startswith("/"):
            raise ConfigError(f"QA page route {route!r} must start with '/'")
        self.middleware = middleware
        self.route = route if route.endswith("/") else route + "/"
        self.access = access
        self.layers = dict(layers or {})

    def owns(self, path: str) -> bool:
        """True for the page, its sub-paths, and the route without its trailing slash."""
        return path.startswith(self.route) or path == self.route[:-1]

    def allowed(self, request: Request) -> bool:
        """Open in development; otherwise a valid QA token or the app's access hook admits."""
        if self.middleware.development or self.token_variations(request) is not None:
            return True
        if self.access is not None:
            try:
                return bool(self.access(request.environ))
            except Exception:  # a broken hook must not open the page
                log.exception("QA page access hook failed")
        return False

    def token_variations(self, request: Request) -> tuple[str, ...] | None:
        """The variations of a valid QA token in the query (a QA link) or the cookie, else None."""
        grant = self.token_grant(request)
        return grant.variations if grant is not None else None

    def token_grant(self, request: Request) -> QAToken | None:
        """A valid QA token of this project (query first, then cookie) with its expiry, else None."""
        secret = self.middleware.secret_key
        token = request.args.get(QA_QUERY_PARAM) or request.cookies.get(QA_COOKIE_NAME)
        if not secret or not token:
            return None
        return read_qa_grant(secret, token, project=self.middleware.trees.config.config_id)

    def _admitted_without_token(self, request: Request) -> bool:
        """Development or the app's own check: access that no token limits."""
        if self.middleware.development:
            return True
        if self.access is None:
            return False
        try:
            return bool(self.access(request.environ))
        except Exception:
            log.exception("QA page access hook failed")
            return False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if not self.allowed(request):
            return self.middleware.pass_to_app(environ, start_response)
        sub_path = request.path[len(self.route) :] if request.path.startswith(self.route) else ""
        if QA_QUERY_PARAM in request.args and self.token_variations(request) is not None:
            response: Response = _redirect(request.script_root + self.route)  # the token leaves the URL
            self._set_token_cookie(response, request.args[QA_QUERY_PARAM], request)
        elif sub_path == "" and request.path != self.route:
            response = _redirect(request.script_root + self.route)
        elif sub_path == "":
            response = self.page(request) if request.method != "POST" else self.choose(request)
        elif sub_path == MATRIX_PATH:
            svg = render_svg(variation_matrix(self.middleware.trees))
            response = Response(svg, mimetype="image/svg+xml")
        elif sub_path.startswith(TREEMAP_PATH):
            response = self.treemap(request, sub_path[len(TREEMAP_PATH) :])
        else:
            return self.middleware.pass_to_app(environ, start_response)
        response.headers["Cache-Control"] = NO_STORE
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "same-origin"
        return response(environ, start_response)

    def page(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response("405 use GET, HEAD or POST\n", status=405, headers={"Allow": "GET, HEAD, POST"})
        resolver = self.middleware.resolver(request.environ)
        report = build_report(self.middleware, resolver, self.layers, self.middleware.development)
        if not self._admitted_without_token(request):
            grant = self.token_grant(request)
            report.access_ends = grant.expires if grant is not None else None
        html = render_page(
            report,
            action=request.script_root + self.route,
            app_url=safe_next(request.args.get(NEXT_FIELD), request.script_root + "/"),
            changed=request.args.get("changed") is not None,
        )
        return Response(html, mimetype="text/html")

    def treemap(self, request: Request, bundle: str) -> Response:
        """The treemap of this browser's tree of `bundle` (its variation set, as the page shows
        it; `mendel_py.packing.treemap`)."""
        from ..packing.sizes import module_sizes
        from ..packing.treemap import treemap_svg

        trees = self.middleware.trees
        if bundle not in trees.config.bundles:
            return Response("404 unknown bundle\n", status=404, mimetype="text/plain")
        resolver = self.middleware.resolver(request.environ)
        tree = resolver.tree(bundle)
        title = f"{bundle} [{', '.join(resolver.variations) or 'base'}] {tree.hash}"
        return Response(treemap_svg(module_sizes(tree), title, trees.config.base_dir), mimetype="image/svg+xml")

    def choose(self, request: Request) -> Response:
        """Set the override for this browser from the form, then back to the page (or `next`)."""
        if _cross_site(request):
            return Response("403 cross-site form\n", status=403, mimetype="text/plain")
        known = {v.id for v in self.middleware.trees.variations}
        picked = [name for key, name in request.form.items(multi=True) if key.startswith(VARIATION_FIELD)]
        chosen = [v.id for v in self.middleware.trees.variations if v.id in set(picked) & known]
        target = request.form.get(NEXT_FIELD)
        page = request.script_root + self.route + "?changed"
        response = _redirect(safe_next(target, page) if target else page)
        not_after = None
        if not self._admitted_without_token(request):  # in by a token: the new one ends with it
            grant = self.token_grant(request)
            not_after = grant.expires if grant is not None else time.time()
        self.set_override(response, chosen, request, not_after=not_after)
        return response

    def set_override(
        self, response: Response, chosen: Sequence[str], request: Request, not_after: float | None = None
    ) -> None:
        """Make this browser get `chosen`: a signed QA token of this project (it outranks the
        app's own choice and keeps the page open in production), never valid past `not_after`
        (the token that let this browser in), when the app has a secret; else (development
        without a secret) the variations cookie."""
        secret = self.middleware.secret_key
        if secret:
            token = sign_qa_token(
                secret, chosen, QA_TOKEN_TTL_SECONDS,
                project=self.middleware.trees.config.config_id, not_after=not_after,
            )
            self._set_token_cookie(response, token, request)
            return
        path = request.script_root or "/"
        name = self.middleware.options.cookie_name
        if chosen:
            response.set_cookie(name, ",".join(chosen), path=path, samesite="Lax", httponly=True)
        else:
            response.set_cookie(name, "", path=path, samesite="Lax", httponly=True)  # base, not assigned

    def _set_token_cookie(self, response: Response, token: str, request: Request) -> None:
        response.set_cookie(
            QA_COOKIE_NAME,
            token,
            path=request.script_root or "/",
            samesite="Lax",
            httponly=True,
            secure=request.scheme == "https",
        )


def safe_next(value: str | None, default: str) -> str:
    """A same-origin path to go back to; anything else (another host, a scheme) is the default."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    return default if parts.scheme or parts.netloc else value


def _cross_site(request: Request) -> bool:
    """A form post from another site (browsers say so in Sec-Fetch-Site, or Origin differs)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.host


def _redirect(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})
