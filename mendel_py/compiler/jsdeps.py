"""Find the dependencies of a JavaScript file with a real parser (tree-sitter's JavaScript grammar).

A file is an ES module when its top level has an `import` or `export` statement; it is then
compiled into a registry function body by `esm.py`. For every file the scan finds:

- `require("...")` calls with a literal specifier (string, or template without substitutions);
- static `import` / `export ... from` specifiers (ES modules);
- `import("...")` with a literal specifier: a lazy edge, unless the file also reaches the same
  specifier statically. A non-literal `import(expr)` is left to the browser.

Comments, strings, template literals and regular expressions are the parser's business, so a
`require` inside any of them is never a dependency. A syntax error is a build error naming the
file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from .errors import BuildError

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])")
_MODULE_STATEMENTS = frozenset(("import_statement", "export_statement"))
# Calls whose callee is `require` or `import` and whose only argument is a literal.
_CALLS = """
(call_expression function: [(identifier) (import)] @callee
  arguments: (arguments . [(string) (template_string)] @spec .)) @call
"""


@dataclass(frozen=True)
class Dependency:
    """A specifier as written in a file (a require, an import, a CSS @import) and its 1-based
    line."""

    spec: str
    line: int


@dataclass(frozen=True)
class LazyImport:
    """One `import("spec")` call: the specifier, its line and the byte span of the callee."""

    spec: str
    line: int
    start: int
    end: int


@dataclass
class JsScan:
    """What one parse of a file found; `tree` stays for the ES module transform."""

    requires: list[Dependency]
    lazy: list[LazyImport]
    is_module: bool
    tree: Tree


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(tree_sitter_javascript.language())


@lru_cache(maxsize=1)
def _calls_query() -> Query:
    return Query(_language(), _CALLS)


def parse(source: bytes) -> Tree:
    return Parser(_language()).parse(source)


def line_of(text: str, position: int) -> int:
    """The 1-based line number of `position` in `text`."""
    return text.count("\n", 0, position) + 1


def unescape_js_string(body: str) -> str:
    """The value of a JavaScript string literal's body (the part between the quotes)."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_unescape_one, body)


def _unescape_one(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape.startswith("u{"):
        return chr(int(escape[2:-1], 16))
    if escape[0] in "ux" and len(escape) > 1:
        return chr(int(escape[1:], 16))
    if escape in "\n\r\u2028\u2029":
        return ""
    return _SIMPLE_ESCAPES.get(escape, escape)


def string_value(node: Node) -> str | None:
    """The value of a string literal node, or of a template literal without substitutions."""
    text = node.text.decode("utf-8")
    if node.type == "template_string":
        if any(child.type == "template_substitution" for child in node.children):
            return None
        return text[1:-1]
    return unescape_js_string(text[1:-1])


def find_requires(text: str, file: str) -> list[Dependency]:
    """Every static dependency (`require("...")`, `import ... from "..."`) in source order."""
    return scan(text.encode("utf-8"), file).requires


def scan(source: bytes, file: str) -> JsScan:
    """Parse `source` once and collect its dependencies; a syntax error is a BuildError."""
    tree = parse(source)
    root = tree.root_node
    if root.has_error:
        raise _syntax_error(root, file)
    is_module = any(child.type in _MODULE_STATEMENTS for child in root.children)
    found: list[tuple[int, Dependency]] = []
    dynamic: list[LazyImport] = []
    for _, captures in QueryCursor(_calls_query()).matches(root):
        callee, spec_node = captures["callee"][0], captures["spec"][0]
        spec = string_value(spec_node)
        if spec is None:
            continue
        line = callee.start_point.row + 1
        if callee.type == "import":
            dynamic.append(LazyImport(spec, line, callee.start_byte, callee.end_byte))
        elif callee.text == b"require":
            found.append((callee.start_byte, Dependency(spec, line)))
    if is_module:
        found.extend(_module_sources(root))
    found.sort(key=lambda item: item[0])
    requires = [require for _, require in found]
    return JsScan(requires, dynamic, is_module, tree)


def _module_sources(root: Node) -> list[tuple[int, Dependency]]:
    sources = []
    for child in root.children:
        source = child.child_by_field_name("source") if child.type in _MODULE_STATEMENTS else None
        if source is not None:
            sources.append((child.start_byte, Dependency(string_value(source) or "", child.start_point.row + 1)))
    return sources


def _syntax_error(root: Node, file: str) -> BuildError:
    node = _first_error(root) or root
    what = f"missing {node.type}" if node.is_missing else _describe(node)
    return BuildError(what, file, node.start_point.row + 1)


def _describe(error: Node) -> str:
    """Name what an ERROR node most likely is from its first unmatched delimiter."""
    for child in error.children:
        if child.type in ("'", '"'):
            return "unterminated string literal"
        if child.type == "`":
            return "unterminated template literal"
        if child.type == "/":
            if error.text[child.start_byte - error.start_byte :].startswith(b"/*"):
                return "unterminated comment"
            return "unterminated regular expression literal"
    return "syntax error"


def _first_error(node: Node) -> Node | None:
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None
