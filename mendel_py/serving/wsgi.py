"""MendelMiddleware: serves the bundle route and gives every other request a RequestResolver.

    app.wsgi_app = MendelMiddleware(app.wsgi_app, "path/to/project")

The middleware owns the route's fixed prefix (``/mendel/`` for the default
``/mendel/:hash/:bundle``). `GET|HEAD` of a bundle URL in its canonical spelling (the one
`BundleRoute.build` writes: ``main.js`` for a script, ``css.css`` for a stylesheet, unencoded)
answers with the packed bundle: immutable caching, strong ETag, gzip/brotli by Accept-Encoding.
Anything else under the prefix is a 404 with a one-line reason and ``Cache-Control: no-store``,
so a CDN keeps none of it; an unexpected exception is a logged 500, also ``no-store``. Requests
outside the prefix go to the wrapped app with ``environ["mendel"]`` set to a `RequestResolver`.
"""
from __future__ import annotations

import logging
import os
import posixpath
import re
import secrets
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.wrappers import Response
from werkzeug.wsgi import get_path_info, wrap_file

from ..core.assets import store_dir
from ..deploy.reloader import Reloader
from ..errors import BundleNotFound, ConfigError, HashError, WalkError
from ..experiments.exposures import ExposureDedup, ExposureHandler, default_sink
from ..packing.body import Body
from ..packing.packer import ChunkNotFound, chunk_body, css_body, js_body
from ..packing.sourcemap import MAP_SUFFIX, mapping_comment, source_map_bytes
from ..qa.page import QAPage
from .answer import BundleAnswer, error_answer
from .assets import AssetIndex, asset_answer, split_asset_path
from .bundles import (
    CSS_CONTENT_TYPE,
    IDENTITY,
    JS_CONTENT_TYPE,
    PACK_FORMAT,
    RETRY_AFTER_SECONDS,
    BundleCache,
    PacksBusy,
    Representation,
)
from .html import check_preload_rel
from .http_compat import parse_accept
from .memory import use_fixed_mmap_threshold
from .metrics import (
    BUSY,
    ERROR,
    HIT,
    METHOD,
    MISS,
    NOT_MODIFIED,
    Authorize,
    ServingMetrics,
    instrument_opentelemetry,
    prometheus_app,
)
from .options import (  # noqa: F401  (development_from_environment's old home was here)
    DEFAULT_BOT_PATTERN,
    PAGE_CACHING,
    ServingOptions,
    development_from_environment,
)
from .request import RequestEntry, RequestResolver, user_agent_is_bot
from .route import CHUNK_MARK, DEFAULT_ROUTE, BundleRoute
from .store import BundleStore

if TYPE_CHECKING:
    from ..core.trees import MendelTrees, Tree

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_ROUTE", "BundleAnswer", "BundleRoute", "BundleUnavailable", "MendelMiddleware", "ServingOptions",
]

ALLOWED_METHODS = "GET, HEAD"
# A plain dict, not a cache.Cache: a few hundred short header values (<= 256 x 128 characters) is
# its whole byte bound, and a warm request reads it without a lock.
_ACCEPT_MEMO_SIZE = 256
_ACCEPT_MEMO_MAX_LENGTH = 128  # longer Accept-Encoding values are parsed, not remembered
_X_GZIP = "x-gzip"
_FILE_CHUNK_BYTES = 256 * 1024  # when the server has no sendfile, the file goes in chunks
_DEV_FORMAT = "d"
# how a static file server names the precompressed siblings of a file (nginx gzip_static, brotli_static)
_PUBLIC_SUFFIXES = {IDENTITY: "", "gzip": ".gz", "br": ".br"}
_HASH_REASONS = {
    "BADHASH": "invalid hash",
    "TRVRSL": "hash does not fit the bundle tree",
    "HASHMISS": "hash does not match the bundle tree",
}

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


PASSED_KEY = "mendel.passed"
"""Set in the environ by `pass_through_app` (see there)."""


def pass_through_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """The wrapped 'app' of a core used by a non-WSGI adapter (ASGI, Django): running the core's
    own WSGI routes (QA page, metrics, source maps) with it, a request the core hands on comes here
    and is marked (`PASSED_KEY`), so the adapter gives it to its own app."""
    environ[PASSED_KEY] = True
    start_response("204 No Content", [])
    return []


class BundleUnavailable(Exception):
    """Why a bundle URL gets a 404: a short code and a reason that echoes nothing from the URL."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _error_response(status: int, code: str, reason: str, **headers: str) -> Response:
    """`error_answer` as a werkzeug Response (the source map route's errors)."""
    answer = error_answer(status, code, reason, **headers)
    return Response(answer.chunks, status=status, headers=list(answer.headers))


def _raw_target(environ: dict[str, Any]) -> str | None:
    """The request target as the client spelled it (percent-escapes and any '?' kept), when the
    server says; an absolute-form target is cut to its path and query."""
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri or uri.startswith("/"):
        return uri or None
    parts = urlsplit(uri)
    return parts.path + ("?" + parts.query if "?" in uri else "")


def _trees_from(trees_or_basedir: MendelTrees | str | os.PathLike[str]) -> MendelTrees:
    if isinstance(trees_or_basedir, (str, os.PathLike)):
        from ..core.trees import MendelTrees

        return MendelTrees(os.fspath(trees_or_basedir))
    return trees_or_basedir


@dataclass(frozen=True)
class _Segments:
    """The bundle URL segments of one generation (`MendelMiddleware._index_segments`)."""

    generation: str | None
    by_segment: dict[str, str]
    js_suffixes: dict[str, str]
    plain: frozenset[str]
    """Bundles whose segment needs no %-escape."""


class MendelMiddleware:
    """WSGI middleware serving Mendel bundles and attaching a RequestResolver to other requests.

    `trees_or_basedir`: a MendelTrees, or the project folder to load one from (once, here).
    `options`: a `ServingOptions` (`mendel_py.serving.options`, where every option is described);
    keyword arguments named as its fields set them too (``MendelMiddleware(app, ".", integrity=True)``),
    and an unknown one is a TypeError. The middleware keeps them as `options`, and what start-up
    made of them (the secret in use, the bot rule, the route, the caches) as attributes.
    """

    resolver_class: type[RequestResolver] = RequestResolver

    def __init__(
        self,
        app: WSGIApp,
        trees_or_basedir: MendelTrees | str | os.PathLike[str] = ".",
        options: ServingOptions | None = None,
        **keywords: Any,
    ):
        """`options`: a `ServingOptions`; keyword options (its field names) replace its fields."""
        self.options = options = ServingOptions.from_keywords(options, **keywords)
        self.app = app
        self.secret_key: str | bytes | None = options.secret_key or os.environ.get("MENDEL_SECRET") or None
        self.trees = _trees_from(trees_or_basedir)
        pattern = re.compile(options.bot_pattern or DEFAULT_BOT_PATTERN, re.IGNORECASE)
        self.default_bot_rule: Callable[[dict[str, Any]], bool] = lambda environ: user_agent_is_bot(environ, pattern)
        self.is_bot: Callable[[dict[str, Any]], bool] = options.is_bot or self.default_bot_rule
        self.exposure_dedup = ExposureDedup(options.exposure_window)
        self.arm_shows_memo: dict[tuple[Any, ...], bool] = {}  # (a plain dict: see RequestResolver)
        self.request_memo: dict[tuple[Any, ...], RequestEntry] = {}
        """Request key -> what it decides (`RequestResolver.request_key`): a page's tags are looked up."""
        self.input_memo: dict[tuple[Any, ...], RequestEntry] = {}
        """What a request key is made of (`RequestResolver._memo_inputs`: the raw Cookie header...)
        -> the entry of that key, for the inputs seen lately: a returning visitor's page, one lookup."""
        self.plain_resolver = type(self).resolver is MendelMiddleware.resolver
        """Whether `resolver` is this class's own: then a page (of any adapter) makes its resolver
        with `resolver_class` itself, one call less."""
        exposure_log = options.exposure_log
        log_setting = exposure_log if exposure_log is not None else os.environ.get("MENDEL_EXPOSURE_LOG")
        self._exposure_sink = default_sink(log_setting)
        development = options.development
        if development is None:  # MENDEL_DEV=1 (`mendel dev` sets it); never a framework's debug flag
            development = development_from_environment()
        self._check_experiment_settings(options.on_exposure, development)
        # a serving process returns freed bundle-sized buffers, so its RSS follows its caches
        use_fixed_mmap_threshold()
        self.route = BundleRoute(options.route or self.trees.config.route, options.url_prefix)
        store = (
            BundleStore(options.store_dir, options.store_bytes, public=options.store_public)
            if options.store_dir is not None else None
        )
        self.cache = BundleCache(
            options.cache_bytes, store=store, recompress=options.recompress, max_cold_packs=options.max_cold_packs,
        )
        self.metrics: ServingMetrics = self.cache.metrics
        if options.store_public:
            self.cache.public_path = self._public_path
        if options.metrics_route is not None and options.metrics_access is None:
            raise ConfigError("metrics_route needs metrics_access(environ) -> bool: metrics are never public")
        # the route's app admits everyone: `_metrics_allowed` asked the app's check already
        self._metrics_app = prometheus_app(self, lambda _environ: True) if options.metrics_access is not None else None
        instrument_opentelemetry(self)
        self.development = development
        self.on_exposure = options.on_exposure
        if options.page_caching not in PAGE_CACHING:
            raise ConfigError(f"page_caching must be one of {', '.join(PAGE_CACHING)}, not {options.page_caching!r}")
        check_preload_rel(options.preload)
        self._index_segments()
        if any(bundle.ssr for bundle in self.trees.config.bundles.values()):
            from ..ssr import renderer_for

            renderer_for(self.trees)  # made now, on the app's start-up thread (V8 needs its main thread)
        self.assets = AssetIndex(self._asset_folder())
        self._assets_generation = self.trees.generation
        self._encoding_memo: dict[str | None, str] = {}
        self.qa_page = (
            QAPage(self, options.qa_route, access=options.qa_access, layers=options.qa_layers)
            if options.qa_route else None
        )
        self.reloader = Reloader(self.trees, options.reload_interval) if options.reload_interval else None
        self.owned_prefixes: tuple[str, ...] = tuple(
            prefix for prefix in (
                self.route.static_prefix.rstrip("/"),
                options.qa_route.rstrip("/") if self.qa_page is not None and options.qa_route else None,
                options.metrics_route if self._metrics_app is not None else None,
            ) if prefix is not None
        )
        """Every path the middleware itself may answer starts with one of these (ASCII, so the raw
        PATH_INFO tells as well as the decoded one): any other request goes to the app at once."""

    def _check_experiment_settings(self, on_exposure: ExposureHandler | None, development: bool) -> None:
        """With experiments configured: no secret stops start-up (assignments are signed), and
        exposures without a callback are announced once (they go to the default sink). In
        development (`development=True`, `mendel dev`, MENDEL_DEV=1) a missing secret is a
        throwaway one instead, so a local checkout runs as it is."""
        config = self.trees.config
        if not config.experiments:
            return
        if not self.secret_key and (development or development_from_environment()):
            self.secret_key = secrets.token_hex(32)
            log.warning(
                "mendel: development without a secret: signing with a throwaway one"
                " (set MENDEL_SECRET to keep QA links and sticky assignments across restarts)"
            )
        if not self.secret_key:
            raise ConfigError(
                "experiments are configured, and their sticky assignments are signed: set a secret"
                " (Flask: SECRET_KEY or MENDEL_SECRET; the MENDEL_SECRET environment variable;"
                " MendelMiddleware(secret_key=...))", config.path, "experiments",
            )
        if on_exposure is None and getattr(self, "on_exposure", None) is None:
            target = getattr(self._exposure_sink, "target", None)
            log.warning(
                "mendel: experiments are running and no on_exposure callback is registered: exposures"
                " go to %s (set MENDEL_EXPOSURE_LOG to a file, or register on_exposure)",
                f"{target} as JSON lines" if target
                else "the mendel_py.exposures logger at INFO only (MENDEL_EXPOSURE_LOG=off)",
            )

    @property
    def exposure_handler(self) -> ExposureHandler | None:
        """Where an exposure goes: the app's callback, else the default sink (None: off)."""
        return self.on_exposure or self._exposure_sink

    @property
    def development(self) -> bool:
        """Development mode: bundles point at their source maps, and the QA page is open."""
        return self._development

    @development.setter
    def development(self, on: bool) -> None:
        self._development = on
        # what a request key decided in the other mode (development tags carry other integrity
        # values) stays there: a request in flight still adds to the memo it started with
        self.request_memo = {}
        self.input_memo = {}
        # development bundles end with a sourceMappingURL line: other bytes, so other ETags (and
        # other stored files); what was made the other way goes
        self.cache.pack_format = PACK_FORMAT + _DEV_FORMAT if on else PACK_FORMAT
        self.cache.clear()

    def status(self) -> dict[str, Any]:
        """The trees' status (generation, loaded generations, walk cache) plus the bundle cache."""
        from ..ssr import existing_renderer

        cache = self.cache
        status = {
            **self.trees.status(),
            "bundle_cache": {"bytes": cache.total_bytes, "max_bytes": cache.max_bytes, "entries": len(cache)},
        }
        renderer = existing_renderer(self.trees)
        if renderer is not None:  # the pages server-render: renders, faults, fallbacks, contexts
            status["ssr"] = renderer.status()
        return status

    def _index_segments(self) -> _Segments:
        """URL segment -> bundle for the generation being served, made whole and then swapped in
        as one reference (threads that look meanwhile use the previous index whole)."""
        generation = self.trees.generation  # read first: a swap after it only means one more rebuild
        bundles = self.trees.bundles
        by_segment = {self.route.segment(bundle, self._suffix(bundle)): bundle for bundle in bundles}
        self._segments = _Segments(
            generation,
            by_segment,
            {bundle: self._suffix(bundle) for bundle in bundles if not self.is_css(bundle)},
            # bundles whose URL segment needs no %-escape, so a raw URI without '%' is canonical as is
            frozenset(bundle for segment, bundle in by_segment.items() if quote(segment) == segment),
        )
        return self._segments

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.reloader is not None:
            self.reloader.ensure_running()
        if not environ.get("PATH_INFO", "").startswith(self.owned_prefixes):
            return self.pass_to_app(environ, start_response)
        path = get_path_info(environ)
        if not self.route.owns(path):
            if path == self.options.metrics_route and self._metrics_app is not None and self._metrics_allowed(environ):
                return self._metrics_app(environ, start_response)
            if self.qa_page is not None and self.qa_page.owns(path):
                return self.qa_page(environ, start_response)
            return self.pass_to_app(environ, start_response)
        try:
            return self.serve_bundle(environ, start_response, path)
        except Exception:  # a bug, not bad input (the fuzz tests hold that): monitoring sees a 500
            self.metrics.counts[ERROR] += 1
            log.exception("serving bundle URL %r failed", path)
            answer = error_answer(500, "INTERNAL", "bundle can't be served")
            start_response(answer.status_line, list(answer.headers))
            return answer.chunks

    def _metrics_allowed(self, environ: dict[str, Any]) -> bool:
        """The metrics route is answered only for requests the app's `metrics_access` admits."""
        try:
            access = self.options.metrics_access
            return bool(access is not None and access(environ))
        except Exception:  # an auth hook that fails admits nobody
            log.exception("mendel: metrics_access failed")
            return False

    def metrics_app(self, authorize: Authorize) -> WSGIApp:
        """A WSGI app with this worker's metrics (Prometheus text) for requests `authorize(environ)`
        admits, to mount behind the app's own auth (`mendel_py.metrics.prometheus_app`)."""
        return prometheus_app(self, authorize)

    def _public_path(self, bundle: str, hash: str, encoding: str) -> str | None:
        """The URL path a web server serves the stored file of `bundle` at `hash` in `encoding`
        at (`store_public`), or None: development bundles and %-escaped paths aren't linked."""
        if self.development:
            return None
        owner, chunk = self._chunk_name(bundle)
        suffix = self._suffix(owner)
        if chunk is None:
            path = self.route.path(owner, hash, suffix)
        else:
            path = self.route.chunk_path(owner, hash, chunk, suffix)
        if "%" in path:
            return None
        return path + _PUBLIC_SUFFIXES[encoding] if encoding in _PUBLIC_SUFFIXES else None

    def pass_to_app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Hand the request to the wrapped app with its resolver in `environ["mendel"]`."""
        environ["mendel"] = self.resolver_class(self, environ) if self.plain_resolver else self.resolver(environ)

        def start_page(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # the resolver the page used (Flask may have replaced it): its cookies, cache marking
            # and preload links go on the page response
            resolver = environ.get("mendel")
            if isinstance(resolver, RequestResolver):
                headers = resolver.page_response_headers(headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, start_page)

    def resolver(self, environ: dict[str, Any]) -> RequestResolver:
        """A fresh per-request resolver; its class decides the per-request policy."""
        return self.resolver_class(self, environ)

    def url_for_hash(self, bundle: str, hash: str) -> str:
        """The URL of `bundle` at `hash`, URL prefix included (no request's script root)."""
        return self.route.build(bundle, hash, self._suffix(bundle))

    def bundle_url(self, bundle: str, hash: str) -> str:
        """Deprecated: use `url_for_hash` (a request's `bundle_url(bundle)` is the page's URL)."""
        warnings.warn(
            "MendelMiddleware.bundle_url(bundle, hash) is deprecated; use url_for_hash",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.url_for_hash(bundle, hash)

    def _asset_folder(self) -> str:
        config = self.trees.config
        return store_dir(config.root, [bundle.manifest_path for bundle in config.bundles.values()])

    def answer_asset(
        self, environ: dict[str, Any], digest: str, name: str, may_read: bool = True
    ) -> BundleAnswer | None:
        """An asset of the store (`mendel_py.serving.assets`), or a 404 `no-store`; None when
        `may_read` is False and answering would touch the disk (an index rescan, a large file)."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            self.metrics.counts[METHOD] += 1
            return error_answer(405, "METHOD", "use GET or HEAD", Allow=ALLOWED_METHODS)
        # an unknown digest looks again only after a new generation (or, in development, a rebuild)
        generation = self.trees.generation
        rescan = self.development or generation != self._assets_generation
        if rescan and not may_read and not self.assets.holds(digest, name):
            return None
        if generation != self._assets_generation:
            self._assets_generation = generation
            self.assets.folder = self._asset_folder()
        asset = self.assets.get(digest, name, rescan)
        raw = _raw_target(environ)
        if environ.get("QUERY_STRING") or (raw is not None and "%" in raw):
            asset = None  # one spelling per URL, as for bundles
        if asset is not None and asset.data is None and not may_read:
            return None
        coding = self.negotiate_encoding(environ.get("HTTP_ACCEPT_ENCODING")) if asset and asset.encoded else IDENTITY
        answer = asset_answer(asset, environ, coding) if asset is not None else None
        if answer is None:
            self.metrics.not_found("NOASSET")
            return error_answer(404, "NOASSET", "unknown asset")
        return answer

    def serve_bundle(
        self, environ: dict[str, Any], start_response: StartResponse, path: str
    ) -> Iterable[bytes]:
        """Answer a request under the route's prefix (the decision is `answer_bundle`'s)."""
        if self.development and path.endswith(MAP_SUFFIX):
            return self.serve_source_map(environ, start_response, path)
        answer = self.answer_bundle(environ, path)
        assert answer is not None  # (packing allowed)
        start_response(answer.status_line, list(answer.headers))
        if answer.file is not None:
            return wrap_file(environ, answer.file, _FILE_CHUNK_BYTES)
        return answer.chunks

    def answer_bundle(self, environ: dict[str, Any], path: str, *, may_pack: bool = True) -> BundleAnswer | None:
        """The response to a request under the route's prefix, framework-free: status, headers and
        where the body comes from (`BundleAnswer`). Every server adapter (WSGI here, ASGI in
        `mendel_py.asgi`, Django's middleware) sends what this decides, so the rules of a bundle URL
        (canonical spelling, 405, 404 ``no-store``, codings, ETag and 304, HEAD) live only here.

        `environ` needs only the CGI keys a bundle request reads: REQUEST_METHOD, QUERY_STRING,
        SCRIPT_NAME, RAW_URI (if the server knows the raw target), HTTP_ACCEPT_ENCODING and
        HTTP_IF_NONE_MATCH. With `may_pack=False` the answer is None when it would pack or
        compress (a cold representation): an event loop then asks again from a worker thread.
        Source maps (development) are not answered here.
        """
        try:
            answer = self._answer_bundle(environ, path, may_pack)
        except Exception:  # a bug, not bad input (the fuzz tests hold that): monitoring sees a 500
            self.metrics.counts[ERROR] += 1
            log.exception("serving bundle URL %r failed", path)
            answer = error_answer(500, "INTERNAL", "bundle can't be served")
        if answer is not None and environ.get("REQUEST_METHOD") == "HEAD":
            return answer.without_body()
        return answer

    def _answer_bundle(self, environ: dict[str, Any], path: str, may_pack: bool) -> BundleAnswer | None:
        asset = split_asset_path(path, self.route.static_prefix)
        if asset is not None:
            return self.answer_asset(environ, *asset, may_read=may_pack)
        metrics = self.metrics
        matched = self.route.match(path)
        if matched is None:
            metrics.not_found("NOROUTE")
            return error_answer(404, "NOROUTE", "not a bundle URL")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            metrics.counts[METHOD] += 1
            return error_answer(405, "METHOD", "use GET or HEAD", Allow=ALLOWED_METHODS)
        try:
            bundle, hash = self.named_bundle(environ, path, *matched)
            encoding = self.negotiate_encoding(environ.get("HTTP_ACCEPT_ENCODING"))
            hit = self.cache.held(bundle, hash, encoding)
            if not hit and not may_pack:
                return None
            representation = self.cached_bundle(bundle, hash, encoding, bounded=True)
        except BundleUnavailable as unavailable:
            metrics.not_found(unavailable.code)
            return error_answer(404, unavailable.code, unavailable.reason)
        except PacksBusy:
            return self.busy_answer()
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and self.cache.etag_matches(if_none_match, hash):
            metrics.counts[NOT_MODIFIED] += 1
            return BundleAnswer(304, representation.not_modified_headers)
        metrics.counts[HIT if hit else MISS] += 1
        if method == "HEAD":
            return BundleAnswer(200, representation.headers)
        if representation.path is None:
            return BundleAnswer(200, representation.headers, representation.content)
        if not may_pack:  # opening and checking a stored file is disk work: not on an event loop
            return None
        return self._file_answer(bundle, hash, representation)

    def busy_answer(self) -> BundleAnswer:
        """503 ``BUSY`` with ``Retry-After``: too many cold packs in this process already."""
        self.metrics.counts[BUSY] += 1
        return error_answer(503, "BUSY", "too many bundles being packed; retry",
                            **{"Retry-After": str(RETRY_AFTER_SECONDS)})

    def _file_answer(self, bundle: str, hash: str, representation: Representation) -> BundleAnswer:
        """A stored representation as an open file (sendfile under gunicorn).

        The open file must be the one this process verified, at the size the headers give: one
        evicted, replaced, truncated or grown since is looked up (checked, made again) once more;
        if that fails too the request is a 404 ``no-store``, never other bytes."""
        encoding = representation.encoding
        for _attempt in range(2):
            handle = self._open_verified(representation)
            if handle is not None:
                return BundleAnswer(200, representation.headers, file=handle)
            self.cache.forget(bundle, hash, encoding)
            try:
                representation = self.cached_bundle(bundle, hash, encoding)
            except BundleUnavailable as unavailable:  # the tree went meanwhile (a reload)
                self.metrics.not_found(unavailable.code)
                return error_answer(404, unavailable.code, unavailable.reason)
            if representation.path is None:  # made in memory (the store could not be written)
                return BundleAnswer(200, representation.headers, representation.content)
        self.metrics.not_found("STOREBAD")
        return error_answer(404, "STOREBAD", "stored bundle failed its check")

    def _open_verified(self, representation: Representation) -> Any:
        """The representation's file, open, when it is still the verified file of its size."""
        store = self.cache.store
        assert store is not None and representation.path is not None
        try:
            handle = open(representation.path, "rb")
        except FileNotFoundError:  # evicted from the store since
            return None
        stat = os.fstat(handle.fileno())
        name = os.path.basename(representation.path)
        if stat.st_size == representation.size and store.still_good(name, stat):
            return handle
        handle.close()
        return None

    def serve_source_map(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> Iterable[bytes]:
        """Development only: `<bundle URL>.map`, the source map of a JS bundle or chunk (it names
        the project's files, so it is never served otherwise, and never cached)."""
        matched = self.route.match(path[: -len(MAP_SUFFIX)])
        try:
            if matched is None:
                raise BundleUnavailable("NOROUTE", "not a bundle URL")
            name, hash = self.named_bundle(environ, path[: -len(MAP_SUFFIX)], *matched, tail=MAP_SUFFIX)
            bundle, chunk = self._chunk_name(name)
            if self.is_css(bundle):
                raise BundleUnavailable("NOMAP", "stylesheets have no source map")
            tree = self._tree_for_hash(bundle, hash)
            if chunk is not None:
                self._pack(bundle, tree, chunk)  # NOCHUNK unless the tree has it
            body = source_map_bytes(tree, self._script_name(bundle, tree.hash, chunk), chunk)
        except BundleUnavailable as unavailable:
            return _error_response(404, unavailable.code, unavailable.reason)(environ, start_response)
        response = Response(body, mimetype="application/json")
        response.headers["Cache-Control"] = "no-cache"
        return response(environ, start_response)

    def named_bundle(
        self, environ: dict[str, Any], path: str, hash: str, segment: str, tail: str = ""
    ) -> tuple[str, str]:
        """(bundle, hash) of a matched URL; BundleUnavailable unless it is spelled canonically.

        A lazy chunk's URL gives its name, the bundle id and chunk id (``main~7``), as bundle.
        """
        segments = self._segments
        if segments.generation != self.trees.generation:
            segments = self._index_segments()
        bundle = segments.by_segment.get(segment)
        if bundle is None:
            chunk = self.route.chunk_of(segment, segments.js_suffixes)
            if chunk is None:
                raise BundleUnavailable("NOBUNDLE", "unknown bundle")
            bundle = f"{chunk[0]}{CHUNK_MARK}{chunk[1]}"
        if not self._spelled_canonically(environ, path, bundle, hash, tail):
            raise BundleUnavailable("NOTCANONICAL", "not the canonical spelling of this URL")
        return bundle, hash

    def cached_bundle(
        self, bundle: str, hash: str, encoding: str = IDENTITY, *, bounded: bool = False
    ) -> Representation:
        """`bundle` (or a chunk name from `named_bundle`) at `hash` in `encoding`;
        BundleUnavailable if the hash is no tree, or the tree has no such chunk; with `bounded`,
        PacksBusy when this process already packs `max_cold_packs` bundles."""
        owner, chunk = self._chunk_name(bundle)
        return self.cache.representation(
            bundle, hash, encoding, self._content_type(owner),
            lambda: self._pack(owner, self._tree_for_hash(owner, hash), chunk), bounded=bounded,
        )

    def tree_integrity(self, bundle: str, tree: Tree) -> str:
        """The Subresource Integrity value of a resolved tree's bundle (once per bundle and hash)."""
        return self.cache.integrity(bundle, tree.hash, lambda: self._pack(bundle, tree))

    def is_css(self, bundle: str) -> bool:
        return self.trees.config.bundles[bundle].is_css

    def packed_bundle(self, bundle: str, tree: Tree, encoding: str = IDENTITY) -> Representation:
        """A resolved tree's bundle in `encoding`, from the cache (packed and stored on a miss)."""
        return self.cache.representation(
            bundle, tree.hash, encoding, self._content_type(bundle), lambda: self._pack(bundle, tree)
        )

    def _spelled_canonically(
        self, environ: dict[str, Any], path: str, bundle: str, hash: str, tail: str = ""
    ) -> bool:
        """False when the URL is spelled otherwise than `build` writes it (+ `tail`): with a query
        string (each one a new CDN cache key), or, as the raw URI shows if the server gives it,
        with a %-escaped hash, an escaped dot or slash... (PATH_INFO alone can't tell: it is
        decoded)."""
        if environ.get("QUERY_STRING"):
            return False
        raw = _raw_target(environ)
        if raw is None:
            return True
        script_name = environ.get("SCRIPT_NAME", "")
        owner, _chunk = self._chunk_name(bundle)
        if "%" not in raw and owner in self._segments.plain:  # the usual case: one comparison
            return raw == script_name + path + tail
        canonical = self.route.path(bundle, hash, self._suffix(owner)) + tail
        if not raw.endswith(canonical):
            return False
        return unquote(raw[: len(raw) - len(canonical)]) == script_name

    def negotiate_encoding(self, accept_encoding: str | None) -> str:
        """The best coding we have for an Accept-Encoding value (werkzeug's `best_match`).

        Ties go to br, then gzip. The one identity rule: identity is acceptable unless the header
        ranks it higher than every coding we have, and it is what we send when nothing else is
        acceptable (even if refused: a body beats a 406 for a script or stylesheet).
        """
        found = self._encoding_memo.get(accept_encoding)
        if found is None:
            found = self._best_encoding(accept_encoding)
            if accept_encoding is None or len(accept_encoding) <= _ACCEPT_MEMO_MAX_LENGTH:
                if len(self._encoding_memo) >= _ACCEPT_MEMO_SIZE:
                    self._encoding_memo.clear()
                self._encoding_memo[accept_encoding] = found
        return found

    def _best_encoding(self, accept_encoding: str | None) -> str:
        offered = [*self.cache.encodings, _X_GZIP, IDENTITY]
        best = parse_accept(accept_encoding).best_match(offered, default=IDENTITY)
        return "gzip" if best == _X_GZIP else best

    def _tree_for_hash(self, bundle: str, hash: str) -> Tree:
        """Resolve and check the tree; every error of the input becomes a BundleUnavailable."""
        try:
            tree = self.trees.find_tree_for_hash(bundle, hash)
        except HashError as error:
            raise BundleUnavailable(error.code, _HASH_REASONS[error.code]) from None
        except BundleNotFound:
            raise BundleUnavailable("NOBUNDLE", "unknown bundle") from None
        except WalkError:
            raise BundleUnavailable("WALKERR", "bundle tree can't be resolved") from None
        if not tree.file_count:  # (not `files`: that builds a list of every file's mapping)
            raise BundleUnavailable("EMPTYBUNDLE", "bundle has no modules")
        return tree

    def _suffix(self, bundle: str) -> str:
        return self.trees.config.bundles[bundle].suffix

    def _content_type(self, bundle: str) -> str:
        return CSS_CONTENT_TYPE if self.is_css(bundle) else JS_CONTENT_TYPE

    def _chunk_name(self, name: str) -> tuple[str, int | None]:
        """(bundle, chunk id) of a name from `named_bundle`; chunk None for a bundle itself."""
        if name in self.trees.config.bundles:
            return name, None
        bundle, _mark, chunk = name.rpartition(CHUNK_MARK)
        return bundle, int(chunk)

    def _pack(self, bundle: str, tree: Tree, chunk: int | None = None) -> Body:
        """The bundle's (or its chunk's) body; in development, pointing at its source map."""
        if self.is_css(bundle):
            return css_body(tree)
        if chunk is None:
            suffix = self._suffix(bundle)
            body = js_body(tree, lambda n: (
                self.route.chunk_url_from_bundle(bundle, tree.hash, n, suffix),
                self.cache.integrity(f"{bundle}{CHUNK_MARK}{n}", tree.hash, lambda: self._pack(bundle, tree, n)),
            ))
        else:
            try:
                body = chunk_body(tree, chunk)
            except ChunkNotFound:
                raise BundleUnavailable("NOCHUNK", "no such chunk in this bundle tree") from None
        if self.development:
            body = body.followed_by(mapping_comment(self._script_name(bundle, tree.hash, chunk) + MAP_SUFFIX))
        return body

    def _script_name(self, bundle: str, hash: str, chunk: int | None) -> str:
        """The last segment of the script's URL path (how its map names it, and finds it)."""
        suffix = self._suffix(bundle)
        if chunk is None:
            return posixpath.basename(self.route.path(bundle, hash, suffix))
        return posixpath.basename(self.route.chunk_path(bundle, hash, chunk, suffix))
