"""Read one source file and turn it into what the manifest carries, plus its raw dependencies.

- JavaScript (`.js`, `.jsx` and anything else that is not JSON or CSS): the file text as is (a
  UTF-8 BOM dropped) is the CommonJS function body browserify hands over; dependencies are its
  `require("...")` calls. ES modules, and files with `import()` or JSX, come compiled (`esm.py`,
  `jsx.py`), with the project's JSX settings.
- TypeScript (`.ts`, `.tsx`, `.mts`, `.cts`): types erased and enums, namespaces and parameter
  properties compiled (`typescript.py`), then on as JavaScript; the entry's `original` gives the
  TypeScript file back.
- JSON: validated, then `module.exports = <json>;`; no dependencies.
- CSS: the text without the @import rules that name local files (the server concatenates
  modules by `order`, imports first); dependencies are all @import rules, remote ones included.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tree_sitter import Tree

from ..config.model import JsxConfig
from ..core.assets import is_asset
from ..core.hashcodec import file_blake3
from ..core.original import Edit
from ..core.original import decode as _decode_edits
from ..core.original import encode as _encode_edits
from .assets import AssetCollector, css_pieces, fill, find_css_urls, url_constructor_edits
from .cssdeps import CssImport, find_imports
from .defines import node_env_defines
from .errors import BuildError, column_of, node_column
from .esm import compile_commonjs, compile_module
from .jsdeps import Dependency, JsScan, scan
from .layout import EMPTY_MODULE
from .minify import VERSION as MINIFY_VERSION
from .minify.js import QUERY as MINIFY_QUERY
from .minify.js import Captures
from .parsecache import ParseCache
from .typescript import is_typescript

JS, JSON, CSS, ASSET = "js", "json", "css", "asset"
_URL_MARK = "__mendel_url_{}__"  # where a stylesheet's url specifier goes, while it is minified
_URL_MARK_PATTERN = re.compile(r"__mendel_url_(\d+)__")
_DEFAULT_JSX = JsxConfig()


@dataclass(frozen=True)
class ParsedSource:
    """A file ready for the manifest: its source, digests, kind and dependencies in order."""

    file: str
    kind: str
    source: str
    sha: str
    blake3: str
    dependencies: tuple[Dependency, ...]
    lazy: tuple[str, ...] = ()  # specifiers reached only by `import("...")`
    # a compiled source's edits, reversed, as the manifest's `original` holds them
    # (`mendel_py/core/original.py`; kept encoded, as the parse cache keeps it, so a rebuild never
    # touches each edit of a minified file)
    original: str = ""
    # a stylesheet's url(...) references (`assets.py`): the source is `pieces` with each url's
    # specifier between two of them, until the graph writes the asset URLs in
    asset_urls: tuple[Dependency, ...] = ()
    pieces: tuple[str, ...] = ()
    asset_files: tuple[str, ...] = ()  # the files those urls name, once the graph has written them

    @property
    def is_style(self) -> bool:
        return self.kind == CSS


_EMPTY = ParsedSource(EMPTY_MODULE, JS, "", hashlib.sha1(b"").hexdigest(), file_blake3("").hex(), ())


def kind_of(file: str) -> str:
    if file.endswith(".json"):
        return JSON
    if file.endswith(".css"):
        return CSS
    return ASSET if is_asset(file) else JS


class SourceLoader:
    """Loads each file once per build; scans through the parse cache."""

    def __init__(
        self,
        absolute: Callable[[str], str],
        cache: ParseCache,
        jsx: JsxConfig = _DEFAULT_JSX,
        node_env: str = "production",
        minify: bool = False,
    ):
        self.absolute = absolute
        self.cache = cache
        self.jsx = jsx
        self.node_env = node_env  # `process.env.NODE_ENV` in the built code (`defines.py`)
        self.minify = minify
        # compiled output depends on the JSX settings too: other settings, other cache keys
        self._js_key = "" if jsx == _DEFAULT_JSX else f":jsx={jsx.factory},{jsx.fragment}"
        # and minified output is cached under its own keys, so a no-change rebuild minifies nothing
        self._min_key = f":min{MINIFY_VERSION}" if minify else ""
        self.loaded: dict[str, ParsedSource] = {}
        self.scanned = 0
        self.assets = AssetCollector(absolute)  # the build sets its route prefix and URL prefix
        # JS files whose minified form the cache lacks: file -> (cache key, unminified scan, text,
        # tree, the minifier's captures); minified together by `finish` (in worker processes
        # when there are many)
        self._pending: dict[str, tuple[str, list[Any], str, Tree | None, Captures | None]] = {}

    def load(self, file: str) -> ParsedSource:
        """The parsed file at `file` (relative to the project root)."""
        parsed = self.loaded.get(file)
        if parsed is None:
            parsed = self.loaded[file] = _EMPTY if file == EMPTY_MODULE else self._parse(file)
        return parsed

    def _parse(self, file: str) -> ParsedSource:
        if kind_of(file) == ASSET:  # a script's `import logo from "./logo.svg"`: its URL
            source = f"module.exports = {json.dumps(self.assets.url(file))};"
            return ParsedSource(file, ASSET, source, hashlib.sha1(source.encode()).hexdigest(),
                                file_blake3(source).hex(), ())
        raw = self._read(file)
        text = _decode(raw, file)
        kind = kind_of(file)
        key = f"{kind}:{hashlib.sha1(raw).hexdigest()}" + (self._js_key if kind == JS else "") + self._min_key
        if kind == JS and b"NODE_ENV" in raw:  # only such files compile differently per mode
            key += f":env={self.node_env}"
        asset_urls: tuple[Dependency, ...] = ()
        pieces: tuple[str, ...] = ()
        if kind == CSS:
            imports = self._css_imports(key, text, file)
            local = [rule for rule in imports if not rule.is_remote]
            urls = find_css_urls(text, file, imports) if "url(" in text.lower() else []
            pieces = css_pieces(text, local, urls)
            if self.minify:
                pieces = self._css_minified(key, pieces)
            source = fill(pieces, (url.spec for url in urls))
            asset_urls = tuple(Dependency(url.spec, url.line, column_of(text, url.start), "url") for url in urls)
            dependencies = tuple(
                Dependency(rule.spec, rule.line, column_of(text, rule.start), "@import") for rule in imports
            )
        elif kind == JSON:
            source = _json_module(text, file)
            dependencies = ()
        else:
            source, dependencies, lazy, original = self._js(key, raw, text, file)
        if kind == JS and file in self._pending:
            sha = digest = ""  # (the minified source's, which `finish` writes in: nothing reads them before)
        else:
            sha, digest = hashlib.sha1(source.encode("utf-8")).hexdigest(), file_blake3(source).hex()
        return ParsedSource(
            file=file,
            kind=kind,
            source=source,
            sha=sha,
            blake3=digest,
            dependencies=dependencies,
            lazy=lazy if kind == JS else (),
            original=original if kind == JS else "",
            asset_urls=asset_urls,
            pieces=pieces if asset_urls else (),
        )

    def _read(self, file: str) -> bytes:
        try:
            with open(self.absolute(file), "rb") as handle:
                return handle.read()
        except OSError as error:
            raise BuildError(f"can't read file: {error.strerror}", file) from None

    def _js(
        self, key: str, raw: bytes, text: str, file: str
    ) -> tuple[str, tuple[Dependency, ...], tuple[str, ...], str]:
        """(source for the manifest, dependencies, lazy specifiers, edits that give the file
        back); ES modules come compiled."""
        cached = self.cache.get(key)
        if cached is None:
            self.scanned += 1
            scans: list[JsScan] = []
            if is_typescript(file):
                cached = _scan_ts(text, file, self.jsx, self.node_env)
            else:
                cached = _scan_js(raw, file, self.jsx, self.node_env, scans if self.minify else None)
            if self.minify:
                # the minifier reads the file's own tree, and the captures the scan made for it,
                # when the source is the file (else it parses what the compiler wrote)
                found = scans[0] if scans and cached[2] is None else None
                tree, captures = (found.tree, found.captures) if found is not None else (None, None)
                self._pending[file] = (key, cached, text, tree, captures)
            else:
                self.cache.put(key, cached)
        deps, lazy, compiled, original = cached
        source = text if compiled is None else compiled
        return (
            source,
            tuple(Dependency(*dep) for dep in deps),  # [spec, line(, column, kind)]
            tuple(lazy),
            original if isinstance(original, str) else encode(original),  # (a list: `[]`)
        )

    def finish(self) -> dict[str, ParsedSource]:
        """Minify the files loaded since the last call whose minified form was not cached, and
        return them (file -> its minified ParsedSource, also in `loaded`): until then `load`
        gave such a file unminified, with the same dependencies and no digests (`sha` and
        `blake3` are the minified source's, made here)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return {}
        from .minify.batch import minify_all

        files = list(pending)
        results = minify_all([pending[file][1:] for file in files])
        done: dict[str, ParsedSource] = {}
        for file, result in zip(files, results):
            key = pending[file][0]
            self.cache.put(key, result)
            _deps, _lazy, source, original = result
            parsed = self.loaded[file]
            encoded = source.encode("utf-8")
            done[file] = self.loaded[file] = dataclasses.replace(
                parsed, source=source, sha=hashlib.sha1(encoded).hexdigest(), blake3=file_blake3(source).hex(),
                original=original,
            )
        return done

    def _css_minified(self, key: str, pieces: tuple[str, ...]) -> tuple[str, ...]:
        """The stylesheet's pieces (its text cut at each url's specifier) minified as one text:
        each cut is marked by a placeholder the minifier keeps (it leaves url() and strings
        alone), then the minified text is cut there again."""
        from .minify import minify_css

        cached = self.cache.get(key + ":css")
        if cached is None:
            marked = fill(pieces, (_URL_MARK.format(index) for index in range(len(pieces) - 1)))
            parts = _URL_MARK_PATTERN.split(minify_css(marked))  # piece, index, piece, ...
            in_place = parts[1::2] == [str(index) for index in range(len(pieces) - 1)]
            # (a minifier that moved or dropped a url's place: that stylesheet stays as written)
            cached = parts[::2] if in_place else list(pieces)
            self.cache.put(key + ":css", cached)
        return tuple(cached)

    def _css_imports(self, key: str, text: str, file: str) -> list[CssImport]:
        cached = self.cache.get(key)
        if cached is None:
            self.scanned += 1
            cached = [[rule.spec, rule.line, rule.start, rule.end] for rule in find_imports(text, file)]
            self.cache.put(key, cached)
        return [CssImport(spec, line, start, end) for spec, line, start, end in cached]


def _scan_js(
    raw: bytes, file: str, jsx: JsxConfig, node_env: str = "production", scans: list[JsScan] | None = None
) -> list[Any]:
    """[deps as [spec, line], lazy specifiers, compiled source or None, its reversed edits as
    [start, end, text]] (the cached form: a JSON array of mixed items, read back from the cache
    as `Any` like every cached value). With `scans`, the scan is appended to it, with the
    minifier's captures (its tree and query, when the source is the file as it is)."""
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    found = scan(body, file, MINIFY_QUERY if scans is not None else "")
    if scans is not None:
        scans.append(found)
    defines = node_env_defines(found.tree.root_node, body, node_env)
    dead = defines.dead_specifiers(found.tree.root_node)
    url_edits, url_deps = url_constructor_edits(found.tree.root_node) if b"import.meta" in body else ([], [])
    defines.edits.extend(url_edits)
    requires = [require for require in found.requires if (require.spec, require.line) not in dead]
    requires = sorted(requires + url_deps, key=lambda require: require.line)
    deps = [[require.spec, require.line, require.column, require.kind] for require in requires]
    static = {require.spec for require in requires}
    lazy = []
    for dynamic in found.lazy:
        if dynamic.spec not in static and dynamic.spec not in lazy and (dynamic.spec, dynamic.line) not in dead:
            lazy.append(dynamic.spec)
            deps.append([dynamic.spec, dynamic.line, node_column(body, dynamic.start), "import()"])
    if found.is_module:
        compiled = compile_module(body, found, file, jsx, defines.edits)
    elif found.lazy or found.jsx or defines.edits:
        compiled = compile_commonjs(body, found, file, jsx, defines.edits)
    else:
        return [deps, lazy, None, ""]  # CommonJS: the text as is, byte for byte
    return [deps, lazy, compiled.source, encode(compiled.original)]


def _scan_ts(text: str, file: str, jsx: JsxConfig, node_env: str = "production") -> list[Any]:
    """`_scan_js` of a TypeScript file: its JavaScript, scanned and compiled, with the edits of
    both steps composed, so `original` gives the TypeScript file back."""
    from .edits import apply, compose
    from .typescript import strip

    roots = {jsx.factory.split(".")[0], jsx.fragment.split(".")[0]}
    javascript, forward = strip(text, file, roots)
    _, stripped = apply(text, forward)
    deps, lazy, compiled, original = _scan_js(javascript.encode("utf-8"), file, jsx, node_env)
    if compiled is None:
        return [deps, lazy, javascript, encode(stripped)]
    return [deps, lazy, compiled, encode(compose(compiled, decode(original), javascript, stripped))]


def encode(edits: list[Edit] | tuple[Edit, ...]) -> str:
    """The `original` field's value for `edits`: "" when there are none (the source is the file)."""
    return _encode_edits(edits) if edits else ""


def decode(original: str) -> list[Edit]:
    """Edits from their encoded form (either of `original.py`'s)."""
    return _decode_edits(original) if original else []


def _decode(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise BuildError("not valid UTF-8", file, line) from None
    return text[1:] if text.startswith("\ufeff") else text


def _json_module(text: str, file: str) -> str:
    """`module.exports = <json>;` for a JSON file, after checking that it parses."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise BuildError(f"invalid JSON: {error.msg}", file, error.lineno) from None
    return f"module.exports = {text.strip()};"
