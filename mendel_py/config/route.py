"""The bundle URL route: one object parses, validates, matches and builds it.

A route is Mendel's pattern, ``/mendel/:hash/:bundle`` by default, with exactly one ``:hash`` and
one ``:bundle`` and a fixed first segment (``/mendel/``) that the middleware owns: every path
under it is a bundle URL or a 404. When ``:bundle`` ends the pattern, the bundle's suffix
(``.js`` or ``.css``, from `BundleConfig.suffix`) is part of the URL; a literal suffix written
in the pattern (``/m/:hash/:bundle.js``) or a ``:bundle`` in the middle (``/m/:bundle/:hash``)
leaves the bare bundle id. Each bundle URL has one canonical spelling, the one `build` returns.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.routing.exceptions import RoutingException

from ..errors import ConfigError

DEFAULT_ROUTE = "/mendel/:hash/:bundle"
# A lazy chunk of a bundle is served at the bundle's URL with `~<chunk id>` after the bundle id:
# /mendel/<hash>/main~7.js (the chunk id is the lazily loaded module's public number).
CHUNK_MARK = "~"
PARAMETERS = ("hash", "bundle")
_PARAMETER = re.compile(r":([A-Za-z_]\w*)")
# A hash of the v3 alphabet, used to prove at start-up that a route builds URLs it matches.
_SAMPLE_HASH = "bWVuZGVsAwAB-_0"


class BundleRoute:
    """The bundle URL pattern as a werkzeug rule; raises ConfigError for one that can't work."""

    def __init__(self, pattern: str, url_prefix: str = ""):
        self.pattern = pattern
        rule = _werkzeug_rule(pattern)
        self.static_prefix = rule.split("<", 1)[0]
        self.suffix_in_url = rule.endswith("<bundle>")
        self.url_prefix = url_prefix.rstrip("/")
        # a prefix with a host (a CDN origin) makes bundle URLs cross-origin for the page
        self.cross_origin = bool(urlsplit(self.url_prefix).netloc)
        url_map = Map(
            [Rule(rule, endpoint="bundle")],
            merge_slashes=False,
            strict_slashes=True,
            redirect_defaults=False,
        )
        self._adapter = url_map.bind("localhost")
        self.check_bundle("main", ".js")

    def owns(self, path: str) -> bool:
        """True for every path under the route's fixed prefix (bundle URL or not)."""
        return path.startswith(self.static_prefix) or path == self.static_prefix.rstrip("/")

    def match(self, path: str) -> tuple[str, str] | None:
        """(hash, bundle segment) when `path` has the route's shape, else None."""
        if not path.startswith(self.static_prefix):
            return None
        try:
            _endpoint, values = self._adapter.match(path, method="GET")
        except (HTTPException, RoutingException):
            return None
        return values["hash"], values["bundle"]

    def segment(self, bundle: str, suffix: str) -> str:
        """The `:bundle` part of the URL: the id, plus `suffix` when `:bundle` ends the route."""
        return bundle + suffix if self.suffix_in_url else bundle

    def path(self, bundle: str, hash: str, suffix: str) -> str:
        """The canonical URL path (percent-encoded, no URL prefix) of `bundle` at `hash`."""
        values = {"hash": hash, "bundle": self.segment(bundle, suffix)}
        return self._adapter.build("bundle", values)

    def build(self, bundle: str, hash: str, suffix: str) -> str:
        """The URL of `bundle` at `hash`, behind the URL prefix (a CDN origin or mount path)."""
        return self.url_prefix + self.path(bundle, hash, suffix)

    def chunk_path(self, bundle: str, hash: str, chunk: int, suffix: str) -> str:
        """The canonical URL path of `bundle`'s lazy chunk `chunk` at `hash`."""
        return self.path(f"{bundle}{CHUNK_MARK}{chunk}", hash, suffix)

    def chunk_url_from_bundle(self, bundle: str, hash: str, chunk: int, suffix: str) -> str:
        """The chunk's URL relative to the bundle's own (what the bundle's loader fetches), so
        it holds behind any URL prefix or mount point."""
        base = posixpath.dirname(self.path(bundle, hash, suffix))
        return posixpath.relpath(self.chunk_path(bundle, hash, chunk, suffix), base)

    def chunk_of(self, segment: str, suffixes: Mapping[str, str]) -> tuple[str, int] | None:
        """(bundle, chunk id) when `segment` is the canonical `:bundle` part of a chunk URL of
        one of `suffixes` (bundle id -> its suffix), else None."""
        bundle, mark, rest = segment.rpartition(CHUNK_MARK)
        suffix = suffixes.get(bundle) if mark else None
        if suffix is None:
            return None
        number = rest[: -len(suffix)] if self.suffix_in_url and rest.endswith(suffix) else rest
        if not (number.isascii() and number.isdigit()):
            return None
        chunk = int(number)
        if self.segment(f"{bundle}{CHUNK_MARK}{chunk}", suffix) != segment:
            return None
        return bundle, chunk

    def check_bundle(self, bundle: str, suffix: str) -> None:
        """ConfigError unless `bundle`'s URLs match back to it (e.g. an id with a '/' in it)."""
        path = self.path(bundle, _SAMPLE_HASH, suffix)
        if self.match(unquote(path)) != (_SAMPLE_HASH, self.segment(bundle, suffix)):
            raise ConfigError(
                f"route {self.pattern!r} can't express bundle {bundle!r}: {path!r} doesn't match back"
            )


def _werkzeug_rule(pattern: str) -> str:
    """`/mendel/:hash/:bundle` -> `/mendel/<hash>/<bundle>`; checks what a route needs."""
    names = _PARAMETER.findall(pattern) if isinstance(pattern, str) else []
    if not isinstance(pattern, str) or not pattern.startswith("/") or sorted(names) != sorted(PARAMETERS):
        found = ", ".join(f":{name}" for name in names) or "none"
        raise ConfigError(
            f"bundle route {pattern!r} must be a path starting with '/' that has :hash and :bundle,"
            f" each once (found {found})"
        )
    if any(char in pattern for char in "<>?#%"):
        raise ConfigError(f"bundle route {pattern!r} may not contain '<', '>', '?', '#' or '%'")
    prefix = pattern.split(":", 1)[0]
    if prefix.strip("/") == "":
        raise ConfigError(
            f"bundle route {pattern!r} must start with a fixed path (e.g. /mendel/) that only"
            " bundle URLs use"
        )
    return _PARAMETER.sub(r"<\1>", pattern)
