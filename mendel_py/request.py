"""RequestResolver: the per-request Mendel object (what mendel-middleware puts in `req.mendel`).

It owns the per-request policy: which variations the request is in, and under which script root
its bundle URLs go. Variations come from the first source that answers, in this order (each a
method a subclass may override; Flask's resolver overrides `app_variations`):

1. `set_variations(names)` called by the app before first use;
2. `override_variations()`: `?mendel=a,b` -- only with `query_override=True`. It lets anyone pick
   any variation, so enable it only behind authentication (staff, QA, a signed preview link);
3. `app_variations()`: the app's `variations_loader(environ)`, when configured (its answer is
   final: None means no variations);
4. `cookie_variations()`: the cookie `cookie_name` (default ``mendel_variations``), comma-separated
   ids; a cookie header that isn't UTF-8 counts as absent.

Names are split and stripped here, once; `MendelTrees` drops the ones it doesn't know.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from werkzeug.sansio.http import parse_cookie

from . import tags

if TYPE_CHECKING:
    from .trees import MendelTrees, Tree
    from .wsgi import MendelMiddleware

log = logging.getLogger(__name__)

DEFAULT_COOKIE_NAME = "mendel_variations"
QUERY_OVERRIDE_PARAM = "mendel"

VariationsLoader = Callable[[dict[str, Any]], "Iterable[str] | str | None"]


def split_variation_names(value: Iterable[str] | str | None) -> list[str]:
    """Names from a comma-separated string (or an iterable of such strings), blanks dropped."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [name.strip() for part in parts for name in str(part).split(",") if name.strip()]


def read_cookie(environ: dict[str, Any], cookie_name: str) -> str | None:
    """The value of one request cookie; None when absent or not readable as UTF-8 text.

    werkzeug decodes the whole header strictly, so one bad byte in any cookie would raise; here
    the header is decoded leniently and only the value asked for is judged.
    """
    header = environ.get("HTTP_COOKIE")
    if not header:
        return None
    text = header.encode("latin-1", "replace").decode("utf-8", "replace")
    value = parse_cookie(text).get(cookie_name)
    if value is not None and "\ufffd" in value:
        log.debug("cookie %r is not UTF-8 text; ignored", cookie_name)
        return None
    return value


def variations_from_cookie(environ: dict[str, Any], cookie_name: str) -> list[str]:
    """Variation ids from the request cookie (percent-encoded commas are accepted too)."""
    raw = read_cookie(environ, cookie_name)
    return split_variation_names(unquote(raw)) if raw else []


def variations_from_query(environ: dict[str, Any]) -> list[str] | None:
    """Variation ids from `?mendel=...` (repeatable), or None when the parameter is absent."""
    query = environ.get("QUERY_STRING") or ""
    if QUERY_OVERRIDE_PARAM not in query:
        return None
    values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == QUERY_OVERRIDE_PARAM]
    return split_variation_names(values) if values else None


class RequestResolver:
    """Per-request variations, trees and bundle URLs, Mendel-middleware style.

    `middleware` carries the settings (trees, route, cookie name, loader, override switch);
    `environ` is the request's.
    """

    def __init__(self, middleware: MendelMiddleware, environ: dict[str, Any] | None = None):
        self.middleware = middleware
        self.trees: MendelTrees = middleware.trees
        self.environ = environ if environ is not None else {}
        self._variations: list[str] | None = None
        self._chains: list[list[str]] | None = None
        self._trees: dict[str, Tree] = {}
        self._used: dict[str, None] = {}  # bundles whose URL this request built, in order

    # -- the per-request policy (override in subclasses) ------------------------------------

    def variation_sources(self) -> tuple[tuple[str, Callable[[], list[str] | None]], ...]:
        """The policy's sources in priority order, each with what to call it (the QA page says
        which one decided)."""
        return (
            ("the ?mendel= override", self.override_variations),
            ("the app's variations loader", self.app_variations),
            ("the variations cookie", self.cookie_variations),
        )

    def requested_variations(self) -> list[str]:
        """Variation names asked for by this request, from the first source that answers."""
        for _name, source in self.variation_sources():
            names = source()
            if names is not None:
                return names
        return []

    def override_variations(self) -> list[str] | None:
        """`?mendel=a,b` when the override is enabled and present, else None."""
        if not self.middleware.query_override:
            return None
        return variations_from_query(self.environ)

    def app_variations(self) -> list[str] | None:
        """The app's loader's answer when one is configured, else None."""
        loader = self.middleware.variations_loader
        if loader is None:
            return None
        return split_variation_names(loader(self.environ))

    def cookie_variations(self) -> list[str] | None:
        """Names in the variations cookie (an empty list when it is absent or unreadable)."""
        return variations_from_cookie(self.environ, self.middleware.cookie_name)

    def script_root(self) -> str:
        """What goes before the route in this request's bundle URLs: the mount point
        (SCRIPT_NAME), unless a URL prefix (a CDN origin) replaces it."""
        if self.middleware.route.url_prefix:
            return ""
        return self.environ.get("SCRIPT_NAME", "").rstrip("/")

    # -- the request's variations, trees and URLs -------------------------------------------

    @property
    def variations(self) -> list[str] | None:
        """Matching variation ids (base last) once set; None before."""
        return self._variations

    @property
    def lookup_chains(self) -> list[list[str]] | None:
        """The lookup chains of the matching variations (base folder last) once set; None before."""
        return self._chains

    def set_variations(self, names: Iterable[str] | str) -> list[str]:
        """Set this request's variations (first call wins); returns the matching ids incl. base."""
        if self._variations is None:
            self._variations, self._chains = self.trees.variations_and_chains(
                split_variation_names(names)
            )
        return self._variations

    def load_variations(self) -> list[str]:
        """Set variations from the request's sources unless already set; returns matching ids."""
        if self._variations is None:
            return self.set_variations(self.requested_variations())
        return self._variations

    def tree(self, bundle: str) -> Tree:
        """The bundle's tree for this request's variations (memoized for the request)."""
        found = self._trees.get(bundle)
        if found is None:
            self.load_variations()
            found = self.trees.find_tree_for_variations(bundle, self._chains or [])
            self._trees[bundle] = found
        return found

    def bundle_url(self, bundle: str) -> str:
        """The URL of the bundle for this request, e.g. "/mendel/<hash>/main.js"."""
        url = self.script_root() + self.middleware.url_for_hash(bundle, self.tree(bundle).hash)
        self._used[bundle] = None
        return url

    def integrity(self, bundle: str) -> str:
        """The bundle's Subresource Integrity value for this request (``sha384-...``)."""
        return self.middleware.tree_integrity(bundle, self.tree(bundle))

    def tag_attributes(self, bundle: str, integrity: bool | None = None) -> dict[str, str | None]:
        """`integrity` and `crossorigin` for the bundle's tag or preload (None: left out).

        `integrity`: None follows the middleware's setting. crossorigin goes with integrity when
        bundles come from another origin (a browser checks integrity there only in CORS mode).
        """
        if not (self.middleware.integrity if integrity is None else integrity):
            return {"integrity": None, "crossorigin": None}
        cross = tags.CROSS_ORIGIN if self.middleware.route.cross_origin else None
        return {"integrity": self.integrity(bundle), "crossorigin": cross}

    def script_tag(self, bundle: str, integrity: bool | None = None, **attributes: Any) -> str:
        """`<script src=...>` for the bundle (escaped); keyword arguments become attributes."""
        return tags.script_tag(
            self.bundle_url(bundle), {**self.tag_attributes(bundle, integrity), **attributes}
        )

    def stylesheet_tag(self, bundle: str, integrity: bool | None = None, **attributes: Any) -> str:
        """`<link rel="stylesheet" href=...>` for the bundle (escaped)."""
        return tags.stylesheet_tag(
            self.bundle_url(bundle), {**self.tag_attributes(bundle, integrity), **attributes}
        )

    def preload_link(self, bundle: str, rel: str | None = None, integrity: bool | None = None) -> str:
        """A `Link` header value preloading the bundle (`rel`: the middleware's, else preload)."""
        rel = tags.check_preload_rel(rel) or self.middleware.preload or "preload"
        return tags.preload_link(
            self.bundle_url(bundle), is_css=self.middleware.is_css(bundle), rel=rel,
            **self.tag_attributes(bundle, integrity),
        )

    def link_header(self, rel: str | None = None) -> str | None:
        """One `Link` value preloading every bundle this request built a URL for; None if none."""
        used = list(self._used)
        return ", ".join(self.preload_link(bundle, rel) for bundle in used) or None

    def server_variation_map(self, bundle: str) -> dict[str, str]:
        """{module id: variation folder} for this request's variations (server-side files)."""
        self.load_variations()
        return self.trees.server_variation_map(bundle, self._chains or [])

    def bundle_entries(self, bundle: str) -> list[str]:
        """Public names of the bundle's roots: expose name, else module id (getBundleEntries)."""
        roots = (info for info in self.tree(bundle).modules if info.expose or info.entry)
        return [info.expose or info.id for info in roots]
