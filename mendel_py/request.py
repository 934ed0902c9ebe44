"""RequestResolver: the per-request Mendel object (what mendel-middleware puts in `req.mendel`).

It knows which variations the current request is in, resolves bundle trees for them (memoized for
the request) and builds the bundle URLs the page embeds. Variations come from, in priority order:

1. the `?mendel=a,b` query-string override -- only when `query_override=True`. It lets anyone pick
   any variation, so enable it only behind authentication (staff, QA, a signed preview link);
2. a `variations_loader(environ)` callable, when configured;
3. the cookie `cookie_name` (default ``mendel_variations``), comma-separated ids.

An explicit `set_variations(names)` before first use wins over all of them. Unknown ids are ignored.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from werkzeug.http import parse_cookie

if TYPE_CHECKING:
    from .trees import MendelTrees, Tree

DEFAULT_COOKIE_NAME = "mendel_variations"
QUERY_OVERRIDE_PARAM = "mendel"

RouteBuilder = Callable[[str, str], str]
VariationsLoader = Callable[[dict[str, Any]], "Iterable[str] | str | None"]


def split_variation_names(value: Iterable[str] | str | None) -> list[str]:
    """Names from a comma-separated string (or an iterable of such strings), blanks dropped."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [name.strip() for part in parts for name in str(part).split(",") if name.strip()]


def variations_from_cookie(environ: dict[str, Any], cookie_name: str) -> list[str]:
    """Variation ids from the request cookie (percent-encoded commas are accepted too)."""
    raw = parse_cookie(environ).get(cookie_name)
    return split_variation_names(unquote(raw)) if raw else []


def variations_from_query(environ: dict[str, Any]) -> list[str] | None:
    """Variation ids from `?mendel=...` (repeatable), or None when the parameter is absent."""
    query = environ.get("QUERY_STRING") or ""
    if QUERY_OVERRIDE_PARAM not in query:
        return None
    values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == QUERY_OVERRIDE_PARAM]
    return split_variation_names(values) if values else None


class RequestResolver:
    """Per-request variations, trees and bundle URLs, Mendel-middleware style."""

    def __init__(
        self,
        trees: MendelTrees,
        route_builder: RouteBuilder,
        environ: dict[str, Any] | None = None,
        *,
        variations_loader: VariationsLoader | None = None,
        cookie_name: str = DEFAULT_COOKIE_NAME,
        query_override: bool = False,
    ):
        self.trees = trees
        self.environ = environ if environ is not None else {}
        self._route_builder = route_builder
        self._variations_loader = variations_loader
        self._cookie_name = cookie_name
        self._query_override = query_override
        self._variations: list[str] | None = None
        self._chains: list[list[str]] | None = None
        self._trees: dict[str, Tree] = {}

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
            self._variations, self._chains = self.trees.variations_and_chains(split_variation_names(names))
        return self._variations

    def load_variations(self) -> list[str]:
        """Set variations from the configured sources unless already set; returns matching ids."""
        if self._variations is None:
            self.set_variations(self._requested_names())
        assert self._variations is not None
        return self._variations

    def tree(self, bundle: str) -> Tree:
        """The bundle's tree for this request's variations (memoized for the request)."""
        found = self._trees.get(bundle)
        if found is None:
            self.load_variations()
            found = self.trees.find_tree_for_variations(bundle, self._chains)
            self._trees[bundle] = found
        return found

    def bundle_url(self, bundle: str) -> str:
        """The URL of the bundle for this request, e.g. "/mendel/<hash>/main.js"."""
        return self._route_builder(bundle, self.tree(bundle).hash)

    def server_variation_map(self, bundle: str) -> dict[str, str]:
        """{module id: variation folder} for this request's variations (server-side files)."""
        self.load_variations()
        return self.trees.server_variation_map(bundle, self._chains)

    def bundle_entries(self, bundle: str) -> list[str]:
        """Public names of the bundle's roots: expose name, else module id (getBundleEntries)."""
        roots = (info for info in self.tree(bundle).modules if info.expose or info.entry)
        return [info.expose or info.id for info in roots]

    def _requested_names(self) -> Sequence[str]:
        """Variation names asked for by this request, from the first source that has them."""
        if self._query_override:
            from_query = variations_from_query(self.environ)
            if from_query is not None:
                return from_query
        if self._variations_loader is not None:
            return split_variation_names(self._variations_loader(self.environ))
        return variations_from_cookie(self.environ, self._cookie_name)
