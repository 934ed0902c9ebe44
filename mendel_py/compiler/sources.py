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

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tree_sitter import Tree

from ..config.model import JsxConfig
from ..core.hashcodec import file_blake3
from ..core.original import Edit
from ..core.original import encode as _encode_edits
from .cssdeps import CssImport, find_imports, strip_imports
from .errors import BuildError
from .esm import compile_commonjs, compile_module
from .jsdeps import Dependency, scan
from .minify import VERSION as MINIFY_VERSION
from .parsecache import ParseCache
from .typescript import is_typescript

JS, JSON, CSS = "js", "json", "css"
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
    original: str = ""  # a compiled source's edits, reversed, as the manifest's `original` holds them
    # (`mendel_py/core/original.py`; kept encoded, as the parse cache keeps it, so a rebuild never
    # touches each edit of a minified file)

    @property
    def is_style(self) -> bool:
        return self.kind == CSS


def kind_of(file: str) -> str:
    if file.endswith(".json"):
        return JSON
    if file.endswith(".css"):
        return CSS
    return JS


class SourceLoader:
    """Loads each file once per build; scans through the parse cache."""

    def __init__(
        self, absolute: Callable[[str], str], cache: ParseCache, jsx: JsxConfig = _DEFAULT_JSX, minify: bool = False
    ):
        self.absolute = absolute
        self.cache = cache
        self.jsx = jsx
        self.minify = minify
        # compiled output depends on the JSX settings too: other settings, other cache keys
        self._js_key = "" if jsx == _DEFAULT_JSX else f":jsx={jsx.factory},{jsx.fragment}"
        # and minified output is cached under its own keys, so a no-change rebuild minifies nothing
        self._min_key = f":min{MINIFY_VERSION}" if minify else ""
        self.loaded: dict[str, ParsedSource] = {}
        self.scanned = 0
        # JS files whose minified form the cache lacks: file -> (cache key, unminified scan, text,
        # tree); minified together by `finish` (in worker processes when there are many)
        self._pending: dict[str, tuple[str, list[Any], str, Tree | None]] = {}

    def load(self, file: str) -> ParsedSource:
        """The parsed file at `file` (relative to the project root)."""
        parsed = self.loaded.get(file)
        if parsed is None:
            parsed = self.loaded[file] = self._parse(file)
        return parsed

    def _parse(self, file: str) -> ParsedSource:
        raw = self._read(file)
        text = _decode(raw, file)
        kind = kind_of(file)
        key = f"{kind}:{hashlib.sha1(raw).hexdigest()}" + (self._js_key if kind == JS else "") + self._min_key
        if kind == CSS:
            imports = self._css_imports(key, text, file)
            local = [rule for rule in imports if not rule.is_remote]
            source = strip_imports(text, local)
            if self.minify:
                source = self._css_minified(key, source)
            dependencies = tuple(Dependency(rule.spec, rule.line) for rule in imports)
        elif kind == JSON:
            source = _json_module(text, file)
            dependencies = ()
        else:
            source, dependencies, lazy, original = self._js(key, raw, text, file)
        encoded = source.encode("utf-8")
        return ParsedSource(
            file=file,
            kind=kind,
            source=source,
            sha=hashlib.sha1(encoded).hexdigest(),
            blake3=file_blake3(source).hex(),
            dependencies=dependencies,
            lazy=lazy if kind == JS else (),
            original=original if kind == JS else "",
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
            trees: list[Tree] = []
            if is_typescript(file):
                cached = _scan_ts(text, file, self.jsx)
            else:
                cached = _scan_js(raw, file, self.jsx, trees)
            if self.minify:
                tree = trees[0] if trees and cached[2] is None else None
                self._pending[file] = (key, cached, text, tree)
            else:
                self.cache.put(key, cached)
        deps, lazy, compiled, original = cached
        source = text if compiled is None else compiled
        return (
            source,
            tuple(Dependency(spec, line) for spec, line in deps),
            tuple(lazy),
            original if isinstance(original, str) else encode(original),  # (a list: `[]`)
        )

    def finish(self) -> dict[str, ParsedSource]:
        """Minify the files loaded since the last call whose minified form was not cached, and
        return them (file -> its minified ParsedSource, also in `loaded`): until then `load`
        gave such a file unminified, with the same dependencies."""
        pending, self._pending = self._pending, {}
        if not pending:
            return {}
        from .minify.batch import minify_all

        files = list(pending)
        results = minify_all([(pending[file][1], pending[file][2], pending[file][3]) for file in files])
        done: dict[str, ParsedSource] = {}
        for file, result in zip(files, results):
            key = pending[file][0]
            self.cache.put(key, result)
            _deps, _lazy, source, original = result
            parsed = self.loaded[file]
            encoded = source.encode("utf-8")
            done[file] = self.loaded[file] = ParsedSource(
                file=parsed.file, kind=parsed.kind, source=source, sha=hashlib.sha1(encoded).hexdigest(),
                blake3=file_blake3(source).hex(), dependencies=parsed.dependencies, lazy=parsed.lazy,
                original=original,
            )
        return done

    def _css_minified(self, key: str, source: str) -> str:
        from .minify import minify_css

        cached = self.cache.get(key + ":css")
        if cached is None:
            cached = minify_css(source)
            self.cache.put(key + ":css", cached)
        return str(cached)

    def _css_imports(self, key: str, text: str, file: str) -> list[CssImport]:
        cached = self.cache.get(key)
        if cached is None:
            self.scanned += 1
            cached = [[rule.spec, rule.line, rule.start, rule.end] for rule in find_imports(text, file)]
            self.cache.put(key, cached)
        return [CssImport(spec, line, start, end) for spec, line, start, end in cached]


def _scan_js(raw: bytes, file: str, jsx: JsxConfig, trees: list[Tree] | None = None) -> list[Any]:
    """[deps as [spec, line], lazy specifiers, compiled source or None, its reversed edits as
    [start, end, text]] (the cached form: a JSON array of mixed items, read back from the cache
    as `Any` like every cached value)."""
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    found = scan(body, file)
    if trees is not None:
        trees.append(found.tree)  # (the minifier's, when the source is the file as it is)
    deps = [[require.spec, require.line] for require in found.requires]
    static = {require.spec for require in found.requires}
    lazy = []
    for dynamic in found.lazy:
        if dynamic.spec not in static and dynamic.spec not in lazy:
            lazy.append(dynamic.spec)
            deps.append([dynamic.spec, dynamic.line])
    if found.is_module:
        compiled = compile_module(body, found, file, jsx)
    elif found.lazy or found.jsx:
        compiled = compile_commonjs(body, found, file, jsx)
    else:
        return [deps, lazy, None, ""]  # CommonJS: the text as is, byte for byte
    return [deps, lazy, compiled.source, encode(compiled.original)]


def _scan_ts(text: str, file: str, jsx: JsxConfig) -> list[Any]:
    """`_scan_js` of a TypeScript file: its JavaScript, scanned and compiled, with the edits of
    both steps composed, so `original` gives the TypeScript file back."""
    from .edits import apply, compose
    from .typescript import strip

    roots = {jsx.factory.split(".")[0], jsx.fragment.split(".")[0]}
    javascript, forward = strip(text, file, roots)
    _, stripped = apply(text, forward)
    deps, lazy, compiled, original = _scan_js(javascript.encode("utf-8"), file, jsx)
    if compiled is None:
        return [deps, lazy, javascript, encode(stripped)]
    return [deps, lazy, compiled, encode(compose(compiled, decode(original), javascript, stripped))]


def encode(edits: list[Edit] | tuple[Edit, ...]) -> str:
    """The `original` field's value for `edits`: "" when there are none (the source is the file)."""
    return _encode_edits(edits) if edits else ""


def decode(original: str) -> list[Edit]:
    """Edits from their encoded form (`original.encode`)."""
    return [(start, end, was) for start, end, was in json.loads(original)] if original else []


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
