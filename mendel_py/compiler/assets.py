"""Assets at build time: what references them, what their URL is, and copying them to the store.

Three ways in, as in Vite:

- a stylesheet's `url(...)` (outside comments, strings and `@import` rules; `url(x.png)`,
  `url("./img/x.png")`, `url(../fonts/a.woff2)`): resolved like a relative `@import` (in the
  overlay of folders the stylesheet's file sees), rewritten to the asset's URL. A remote URL
  (`https:`, `//host`, `data:`), a site path (`/img/x.png`) and a fragment (`#id`) stay;
- a script's `import logo from "./logo.svg"` / `require("./logo.svg")` of a file with an asset
  extension (`ASSET_EXTENSIONS`): the asset is a module whose value is its URL;
- `new URL("./x.png", import.meta.url)`: the URL of the asset, resolved against the page.

Variations override assets as any file: a script's asset module has a version per folder; a
stylesheet in the base folder that references an asset a variation folder overrides gets a
version for that folder (same file, the variation's URL written in). The URL names the asset's
digest, so the bytes of the stylesheet (and the tree of a script) change with the asset, and so
does every bundle hash that includes them. A reference that finds no file fails the build with
the file and line.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from .._runtime.atomic import read_bytes, write_atomically
from ..core.assets import asset_url_path, digest_of, holds_intact, public_name, store_dir, url_prefix_from_environment
from .cssdeps import CssImport
from .errors import BuildError
from .jsdeps import Dependency, line_of, string_value
from .treesitter import node_text

if TYPE_CHECKING:
    from ..config.model import MendelConfig

_CSS_TOKENS = re.compile(r"""/\*|['"]|(?<![\w-])url\(""", re.IGNORECASE)
_CSS_STRINGS = {
    "'": re.compile(r"'(?:[^'\\\n\r]|\\(?:\r\n|[\s\S]))*'"),
    '"': re.compile(r'"(?:[^"\\\n\r]|\\(?:\r\n|[\s\S]))*"'),
}
_URL_BODY = re.compile(r"""\s*(?:"(?P<double>[^"\n]*)"|'(?P<single>[^'\n]*)'|(?P<bare>[^)'"\s]*))\s*\)""")
_LEFT_ALONE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|/|#|$)")
_PAGE_BASE = 'typeof document<"u"?document.baseURI:self.location.href'


@dataclass(frozen=True)
class CssUrl:
    """One `url(...)` of a stylesheet naming a local file: its specifier, line, and the span of
    the specifier's text (inside any quotes) in the file."""

    spec: str
    line: int
    start: int
    end: int


def find_css_urls(text: str, file: str, imports: Iterable[CssImport]) -> list[CssUrl]:
    """The `url(...)` references to local files, in source order (not those of @import rules)."""
    skipped = [(rule.start, rule.end) for rule in imports]
    found: list[CssUrl] = []
    position = 0
    while True:
        match = _CSS_TOKENS.search(text, position)
        if match is None:
            return found
        token, start = match.group(), match.start()
        if token == "/*":
            end = text.find("*/", start + 2)
            position = len(text) if end < 0 else end + 2
        elif token in _CSS_STRINGS:
            string = _CSS_STRINGS[token].match(text, start)
            position = string.end() if string else start + 1
        else:
            body = _URL_BODY.match(text, match.end())
            if body is None:
                raise BuildError("malformed url(...)", file, line_of(text, start))
            position = body.end()
            if any(low <= start < high for low, high in skipped):
                continue
            group = next(name for name in ("double", "single", "bare") if body.group(name) is not None)
            spec = body.group(group)
            if _LEFT_ALONE.match(spec):
                continue
            found.append(CssUrl(spec, line_of(text, start), body.start(group), body.end(group)))


def css_pieces(text: str, removed: Iterable[CssImport], urls: Iterable[CssUrl]) -> tuple[str, ...]:
    """`text` without the `removed` rules, cut at each url's specifier: n urls, n + 1 pieces."""
    cuts = sorted(
        [(rule.start, rule.end, False) for rule in removed] + [(url.start, url.end, True) for url in urls]
    )
    pieces, current, position = [], [], 0
    for start, end, is_url in cuts:
        current.append(text[position:start])
        if is_url:
            pieces.append("".join(current))
            current = []
        position = end
    current.append(text[position:])
    pieces.append("".join(current))
    return tuple(pieces)


def fill(pieces: tuple[str, ...], values: Iterable[str]) -> str:
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out += (value, piece)
    return "".join(out)


def url_constructor_edits(root: Node) -> tuple[list[tuple[int, int, bytes]], list[Dependency]]:
    """`new URL("./x.png", import.meta.url)`: its arguments become `(require("./x.png"), <the
    page's base URL>)`; the specifier is a dependency."""
    edits: list[tuple[int, int, bytes]] = []
    deps: list[Dependency] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if node.type == "new_expression":
            found = _url_of_meta(node)
            if found is not None:
                arguments, spec = found
                call = f"(require({json.dumps(spec)}),{_PAGE_BASE})".encode()
                edits.append((arguments.start_byte, arguments.end_byte, call))
                first = arguments.named_children[0]
                deps.append(Dependency(spec, first.start_point.row + 1, first.start_point.column + 1, "new URL"))
                continue
        pending.extend(reversed(node.children))
    return edits, deps


def _url_of_meta(node: Node) -> tuple[Node, str] | None:
    constructor, arguments = node.child_by_field_name("constructor"), node.child_by_field_name("arguments")
    if constructor is None or arguments is None or node_text(constructor) != b"URL":
        return None
    values = arguments.named_children
    if len(values) != 2 or values[0].type not in ("string", "template_string"):
        return None
    if node_text(values[1]).replace(b" ", b"") != b"import.meta.url":
        return None
    spec = string_value(values[0])
    return (arguments, spec) if spec and spec.startswith(("./", "../")) else None


class AssetCollector:
    """The assets one build references: file -> URL (each file read once), and their bytes'
    place in the store."""

    def __init__(self, absolute: Callable[[str], str], static_prefix: str = "/mendel/", url_prefix: str = ""):
        self.absolute = absolute
        self.static_prefix = static_prefix
        self.url_prefix = url_prefix
        self.files: dict[str, tuple[str, str]] = {}  # file -> (digest, public name)

    def url(self, file: str) -> str:
        found = self.files.get(file)
        if found is None:
            try:
                with open(self.absolute(file), "rb") as handle:
                    data = handle.read()
            except OSError as error:
                raise BuildError(f"can't read asset: {error.strerror}", file) from None
            found = self.files[file] = (digest_of(data), public_name(file))
        return self.url_prefix + asset_url_path(self.static_prefix, *found)

    def write(self, store: str) -> int:
        """Put each asset into `store` at `<digest>/<name>` (atomically) unless it is there intact;
        how many."""
        written = 0
        for file, (digest, name) in sorted(self.files.items()):
            target = os.path.join(store, digest, name)
            if holds_intact(target, digest):
                continue
            try:
                data = read_bytes(self.absolute(file))
            except OSError as error:
                raise BuildError(f"can't read asset: {error.strerror}", file) from None
            if digest_of(data) != digest:
                raise BuildError("asset changed during the build; build again", file)
            write_atomically(target, data)
            written += 1
        return written


def set_asset_urls(loader: Any, config: MendelConfig) -> None:
    """Give a build's asset URLs the project's route prefix and the URL prefix a server gets."""
    loader.assets.static_prefix = config.bundle_route.static_prefix
    loader.assets.url_prefix = url_prefix_from_environment()


def asset_store(config: MendelConfig) -> str:
    """The project's asset store folder (`mendel_py.core.assets.store_dir`)."""
    return store_dir(config.root, [bundle.manifest_path for bundle in config.bundles.values()])
