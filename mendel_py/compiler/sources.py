"""Read one source file and turn it into what the manifest carries, plus its raw dependencies.

- JavaScript (`.js`, `.jsx` and anything else that is not JSON or CSS): the file text as is (a
  UTF-8 BOM dropped) is the CommonJS function body browserify hands over; dependencies are its
  `require("...")` calls. ES modules, and files with `import()` or JSX, come compiled (`esm.py`,
  `jsx.py`), with the project's JSX settings.
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

from ..config.model import JsxConfig
from ..core.assets import is_asset
from ..core.hashcodec import file_blake3
from ..core.original import Edit
from .assets import AssetCollector, css_pieces, fill, find_css_urls, url_constructor_edits
from .cssdeps import CssImport, find_imports
from .defines import node_env_defines
from .errors import BuildError, column_of, node_column
from .esm import compile_commonjs, compile_module
from .jsdeps import Dependency, scan
from .layout import EMPTY_MODULE
from .parsecache import ParseCache

JS, JSON, CSS, ASSET = "js", "json", "css", "asset"
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
    original: tuple[Edit, ...] = ()  # a compiled source's edits, reversed (`mendel_py/core/original.py`)
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
    ):
        self.absolute = absolute
        self.cache = cache
        self.jsx = jsx
        self.node_env = node_env  # `process.env.NODE_ENV` in the built code (`defines.py`)
        # compiled output depends on the JSX settings too: other settings, other cache keys
        self._js_key = "" if jsx == _DEFAULT_JSX else f":jsx={jsx.factory},{jsx.fragment}"
        self.loaded: dict[str, ParsedSource] = {}
        self.scanned = 0
        self.assets = AssetCollector(absolute)  # the build sets its route prefix and URL prefix

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
        key = f"{kind}:{hashlib.sha1(raw).hexdigest()}" + (self._js_key if kind == JS else "")
        if kind == JS and b"NODE_ENV" in raw:  # only such files compile differently per mode
            key += f":env={self.node_env}"
        asset_urls: tuple[Dependency, ...] = ()
        pieces: tuple[str, ...] = ()
        if kind == CSS:
            imports = self._css_imports(key, text, file)
            local = [rule for rule in imports if not rule.is_remote]
            urls = find_css_urls(text, file, imports) if "url(" in text.lower() else []
            pieces = css_pieces(text, local, urls)
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
        encoded = source.encode("utf-8")
        return ParsedSource(
            file=file,
            kind=kind,
            source=source,
            sha=hashlib.sha1(encoded).hexdigest(),
            blake3=file_blake3(source).hex(),
            dependencies=dependencies,
            lazy=lazy if kind == JS else (),
            original=original if kind == JS else (),
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
    ) -> tuple[str, tuple[Dependency, ...], tuple[str, ...], tuple[Edit, ...]]:
        """(source for the manifest, dependencies, lazy specifiers, edits that give the file
        back); ES modules come compiled."""
        cached = self.cache.get(key)
        if cached is None:
            self.scanned += 1
            cached = _scan_js(raw, file, self.jsx, self.node_env)
            self.cache.put(key, cached)
        deps, lazy, compiled, original = cached
        source = text if compiled is None else compiled
        return (
            source,
            tuple(Dependency(*dep) for dep in deps),  # [spec, line(, column, kind)]
            tuple(lazy),
            tuple((start, end, was) for start, end, was in original),
        )

    def _css_imports(self, key: str, text: str, file: str) -> list[CssImport]:
        cached = self.cache.get(key)
        if cached is None:
            self.scanned += 1
            cached = [[rule.spec, rule.line, rule.start, rule.end] for rule in find_imports(text, file)]
            self.cache.put(key, cached)
        return [CssImport(spec, line, start, end) for spec, line, start, end in cached]


def _scan_js(raw: bytes, file: str, jsx: JsxConfig, node_env: str = "production") -> list[Any]:
    """[deps as [spec, line], lazy specifiers, compiled source or None, its reversed edits as
    [start, end, text]] (the cached form: a JSON array of mixed items, read back from the cache
    as `Any` like every cached value)."""
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    found = scan(body, file)
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
        return [deps, lazy, None, []]  # CommonJS: the text as is, byte for byte
    return [deps, lazy, compiled.source, [list(edit) for edit in compiled.original]]


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
