"""MendelMiddleware: serves the bundle route and gives every other request a RequestResolver.

    app.wsgi_app = MendelMiddleware(app.wsgi_app, "path/to/project")

`GET|HEAD <route>` (default ``/mendel/:hash/:bundle``, a ``.js``/``.css`` suffix accepted) answers
with the packed bundle for that hash: immutable caching, strong ETag, gzip/brotli by
Accept-Encoding. Every failure is a 404 with a one-line text reason and ``Cache-Control: no-store``.
Anything else goes to the wrapped app with ``environ["mendel"]`` set to a `RequestResolver`.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.http import is_resource_modified, parse_accept_header
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RoutingException
from werkzeug.wrappers import Response

from .bundles import (
    CSS_CONTENT_TYPE,
    DEFAULT_CACHE_BYTES,
    IDENTITY,
    JS_CONTENT_TYPE,
    BundleCache,
    CachedBundle,
)
from .errors import BundleNotFound, ConfigError, HashError, MendelError, WalkError
from .packer import pack_css, pack_js
from .request import DEFAULT_COOKIE_NAME, RequestResolver, VariationsLoader

if TYPE_CHECKING:
    from .trees import MendelTrees, Tree

log = logging.getLogger(__name__)

DEFAULT_ROUTE = "/mendel/:hash/:bundle"
ALLOWED_METHODS = "GET, HEAD"
_ACCEPT_MEMO_SIZE = 256
_ENCODING_PREFERENCE = ("br", "gzip", IDENTITY)
_IMPLICIT_IDENTITY_QUALITY = 0.0001
_HASH_REASONS = {
    "BADHASH": "invalid hash",
    "TRVRSL": "hash does not fit the bundle tree",
    "HASHMISS": "hash does not match the bundle tree",
}

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class BundleUnavailable(Exception):
    """Why a bundle URL gets a 404: a short code and a reason that echoes nothing from the URL."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class BundleRoute:
    """The bundle URL pattern (Mendel style, ``/mendel/:hash/:bundle``) as a werkzeug rule."""

    def __init__(self, pattern: str, url_prefix: str = ""):
        rule = _werkzeug_rule(pattern)
        self.pattern = pattern
        self.static_prefix = rule.split("<", 1)[0]
        self.suffix_in_url = rule.endswith("<bundle>")
        self.url_prefix = url_prefix.rstrip("/")
        url_map = Map(
            [Rule(rule, endpoint="bundle")],
            merge_slashes=False,
            strict_slashes=False,
            redirect_defaults=False,
        )
        self._adapter = url_map.bind("localhost")

    def match(self, path: str) -> tuple[str, str] | None:
        """(hash, bundle segment) when `path` is a bundle URL, else None."""
        if not path.startswith(self.static_prefix):
            return None
        try:
            _endpoint, values = self._adapter.match(path, method="GET")
        except (HTTPException, RoutingException):
            return None
        return values["hash"], values["bundle"]

    def build(self, bundle: str, hash_: str, suffix: str) -> str:
        """The URL of `bundle` at `hash_`; `suffix` (".js"/".css") is added for a bare `:bundle`."""
        segment = bundle + suffix if self.suffix_in_url else bundle
        path = self._adapter.build("bundle", {"hash": hash_, "bundle": segment})
        return self.url_prefix + path


def _werkzeug_rule(pattern: str) -> str:
    """`/mendel/:hash/:bundle` -> `/mendel/<hash>/<bundle>`; both parameters are required."""
    rule = re.sub(r":([A-Za-z_]\w*)", r"<\1>", pattern)
    if "<hash>" not in rule or "<bundle>" not in rule or not rule.startswith("/"):
        raise ConfigError(f"bundle route {pattern!r} needs a leading '/', :hash and :bundle")
    return rule


def _decode_path(environ: dict[str, Any]) -> str:
    """PATH_INFO as text: WSGI hands over latin-1; the URL bytes are taken as UTF-8."""
    raw = environ.get("PATH_INFO") or "/"
    try:
        return raw.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return raw


def _error_response(status: int, code: str, reason: str, **headers: str) -> Response:
    """A one-line plain-text error that no cache keeps."""
    response = Response(f"{status} {code}: {reason}\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _load_trees(trees_or_basedir: MendelTrees | str | os.PathLike[str]) -> MendelTrees:
    if isinstance(trees_or_basedir, (str, os.PathLike)):
        from .trees import MendelTrees

        return MendelTrees(os.fspath(trees_or_basedir))
    return trees_or_basedir


def _has_modules(tree: Tree) -> bool:
    return any(tree.deps)


class MendelMiddleware:
    """WSGI middleware serving Mendel bundles and attaching a RequestResolver to other requests.

    `trees_or_basedir`: a MendelTrees, or the project folder to load one from (once, here).
    `variations_loader(environ)`, `cookie_name`, `query_override`: where a request's variations
    come from (see `mendel_py.request`; keep `query_override` off unless gated by authentication).
    `cache_bytes`: budget of the packed-bundle cache, all content codings counted.
    `route`: the bundle URL pattern; default the config's `route-config.hash`.
    `url_prefix`: put in front of built bundle URLs (a CDN origin or a mount path); requests are
    matched on PATH_INFO without it.
    """

    def __init__(
        self,
        app: WSGIApp,
        trees_or_basedir: MendelTrees | str | os.PathLike[str] = ".",
        *,
        variations_loader: VariationsLoader | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        query_override: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        route: str | None = None,
        url_prefix: str = "",
    ):
        self.app = app
        self.trees = _load_trees(trees_or_basedir)
        config_route = getattr(self.trees.config, "route", None)
        self.route = BundleRoute(route or config_route or DEFAULT_ROUTE, url_prefix)
        self.cache = BundleCache(cache_bytes)
        self.variations_loader = variations_loader
        self.cookie_name = cookie_name
        self.query_override = query_override
        self._css_bundles = self._find_css_bundles()
        self._bundle_by_segment = self._bundle_segments()
        self._encoding_memo: dict[str | None, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        matched = self.route.match(_decode_path(environ))
        if matched is not None:
            return self.serve_bundle(environ, start_response, *matched)
        environ["mendel"] = self.resolver(environ)
        return self.app(environ, start_response)

    resolver_class: type[RequestResolver] = RequestResolver

    def resolver(self, environ: dict[str, Any]) -> RequestResolver:
        """A fresh per-request resolver configured like this middleware."""
        return self.resolver_class(
            self.trees,
            self.route_builder(environ),
            environ,
            variations_loader=self.variations_loader,
            cookie_name=self.cookie_name,
            query_override=self.query_override,
        )

    def route_builder(self, environ: dict[str, Any]) -> Callable[[str, str], str]:
        """How the request's resolver builds bundle URLs (subclasses may look at `environ`)."""
        return self.bundle_url

    def bundle_url(self, bundle: str, hash_: str) -> str:
        """The URL of `bundle` at `hash_` (".css" for CSS bundles, ".js" otherwise)."""
        suffix = ".css" if bundle in self._css_bundles else ".js"
        return self.route.build(bundle, hash_, suffix)

    def serve_bundle(
        self, environ: dict[str, Any], start_response: StartResponse, hash_: str, segment: str
    ) -> Iterable[bytes]:
        """Answer a request that matched the bundle route."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            error = _error_response(405, "METHOD", "use GET or HEAD", Allow=ALLOWED_METHODS)
            return error(environ, start_response)
        try:
            entry = self.cached_bundle(segment, hash_)
        except BundleUnavailable as unavailable:
            error = _error_response(404, unavailable.code, unavailable.reason)
            return error(environ, start_response)
        encoding = self.negotiate_encoding(environ.get("HTTP_ACCEPT_ENCODING"))
        representation = self.cache.representation(entry, encoding)
        if "HTTP_IF_NONE_MATCH" in environ and not is_resource_modified(
            environ, etag=entry.etag[1:-1]
        ):
            start_response("304 Not Modified", list(representation.not_modified_headers))
            return []
        start_response("200 OK", list(representation.headers))
        return [] if method == "HEAD" else [representation.body]

    def cached_bundle(self, segment: str, hash_: str) -> CachedBundle:
        """The packed bundle for a URL's bundle segment and hash; BundleUnavailable if none."""
        bundle = self._bundle_by_segment.get(segment)
        if bundle is None:
            raise BundleUnavailable("NOBUNDLE", "unknown bundle")
        entry = self.cache.get((bundle, hash_))
        if entry is not None:
            return entry
        body, content_type = self._pack(bundle, self._tree_for_hash(bundle, hash_))
        return self.cache.put((bundle, hash_), body, content_type)

    def negotiate_encoding(self, accept_encoding: str | None) -> str:
        """The best coding we have for an Accept-Encoding value: q-values honoured, q=0 refused.

        Ties go to br, then gzip, then identity. Identity that the header doesn't mention is
        acceptable but ranks below any accepted coding; when nothing is acceptable, identity.
        """
        found = self._encoding_memo.get(accept_encoding)
        if found is None:
            found = self._best_encoding(accept_encoding)
            if len(self._encoding_memo) >= _ACCEPT_MEMO_SIZE:
                self._encoding_memo.clear()
            self._encoding_memo[accept_encoding] = found
        return found

    def _best_encoding(self, accept_encoding: str | None) -> str:
        accepted = parse_accept_header(accept_encoding)
        offered = [e for e in _ENCODING_PREFERENCE if e in self.cache.encodings or e == IDENTITY]
        qualities = {coding: accepted.quality(coding) for coding in offered}
        qualities["gzip"] = max(qualities["gzip"], accepted.quality("x-gzip"))
        if IDENTITY not in accepted:  # acceptable unless refused, but any accepted coding wins
            qualities[IDENTITY] = _IMPLICIT_IDENTITY_QUALITY
        best = max(offered, key=lambda coding: qualities[coding])
        return best if qualities[best] > 0 else IDENTITY

    def _tree_for_hash(self, bundle: str, hash_: str) -> Tree:
        """Resolve and check the tree; every failure becomes a BundleUnavailable."""
        try:
            tree = self.trees.find_tree_for_hash(bundle, hash_)
        except HashError as error:
            raise BundleUnavailable(error.code, _HASH_REASONS[error.code]) from None
        except BundleNotFound:
            raise BundleUnavailable("NOBUNDLE", "unknown bundle") from None
        except WalkError:
            raise BundleUnavailable("WALKERR", "bundle tree can't be resolved") from None
        except MendelError:
            raise BundleUnavailable("BADHASH", _HASH_REASONS["BADHASH"]) from None
        except Exception:  # never a 5xx for a URL: log it, answer 404
            log.exception("resolving bundle %r failed", bundle)
            raise BundleUnavailable("UNAVAILABLE", "bundle can't be served") from None
        if not _has_modules(tree):
            raise BundleUnavailable("EMPTYBUNDLE", "bundle has no modules")
        return tree

    def _pack(self, bundle: str, tree: Tree) -> tuple[bytes, str]:
        if bundle in self._css_bundles:
            return pack_css(tree), CSS_CONTENT_TYPE
        return pack_js(tree), JS_CONTENT_TYPE

    def _find_css_bundles(self) -> frozenset[str]:
        configs = getattr(self.trees.config, "bundles", {}) or {}
        return frozenset(
            bundle for bundle, conf in configs.items() if getattr(conf, "serve_as", None) == "css"
        )

    def _bundle_segments(self) -> dict[str, str]:
        """URL segment -> bundle id: the id itself, or the id with a ".js"/".css" suffix."""
        segments: dict[str, str] = {}
        for bundle in self.trees.bundles:
            segments.setdefault(bundle + ".js", bundle)
            segments.setdefault(bundle + ".css", bundle)
        segments.update({bundle: bundle for bundle in self.trees.bundles})
        return segments
