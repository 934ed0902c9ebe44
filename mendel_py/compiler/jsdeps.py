"""Find the dependencies of a JavaScript file with a real parser (tree-sitter's JavaScript grammar).

A file is an ES module when its top level has an `import` or `export` statement; it is then
compiled into a registry function body by `esm.py`. For every file the scan finds:

- `require("...")` calls with a literal specifier (string, or template without substitutions);
- static `import` / `export ... from` specifiers (ES modules);
- `import("...")` with a literal specifier: a lazy edge, unless the file also reaches the same
  specifier statically. A non-literal `import(expr)` is left to the browser;
- whether it has JSX (any file may: the grammar parses JSX in `.js` and `.jsx` alike).

Comments, strings, template literals and regular expressions are the parser's business, so a
`require` inside any of them is never a dependency. A syntax error is a build error naming the
file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Node, Query, QueryCursor, Tree

from .errors import BuildError, node_column
from .treesitter import closing_tag_error, first_error, node_text, parse, query

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])")
_MODULE_STATEMENTS = frozenset(("import_statement", "export_statement"))
# The words tree-sitter's grammar (0.25) reserves, also where JSX allows them: attribute names.
_RESERVED = (
    "break case catch class const continue debugger default delete do else export extends false "
    "finally for function if import in instanceof new null return super switch this throw true try "
    "typeof var void while with"
).split()
_RESERVED_BEFORE_EQUALS = re.compile(
    rb"(?<![\w$.])(?:" + b"|".join(word.encode() for word in _RESERVED) + rb")(?=[ \t\r\n]*=(?![=>]))"
)
_LONE_AMPERSAND = re.compile(rb"(?<!&)&(?![&=])")
_CHARACTER_REFERENCE = re.compile(rb"&(?:#(?:[xX][0-9a-fA-F]{1,6}|[0-9]{1,5})|[A-Za-z]{1,30});")  # the grammar's
# Calls whose callee is `require` or `import` and whose only argument is a literal; JSX.
_CALLS = """
(call_expression function: [(identifier) (import)] @callee
  arguments: (arguments . [(string) (template_string)] @spec .))
[(jsx_element) (jsx_self_closing_element)] @jsx
"""


@dataclass(frozen=True)
class Dependency:
    """A specifier as written in a file (a require, an import, a CSS @import), its 1-based line
    and column, and how it was written (`kind`: what an error quotes)."""

    spec: str
    line: int
    column: int = 0
    kind: str = "require"  # "require", "import", "import()", "@import", "url", "new URL"

    def shown(self) -> str:
        """The reference as a person wrote it: `require("x")`, `import "x"`, `url("x")`..."""
        quoted = '"' + self.spec + '"'
        if self.kind in ("import", "@import"):
            return f"{self.kind} {quoted}"
        return f"{self.kind.removesuffix('()')}({quoted})"


@dataclass(frozen=True)
class LazyImport:
    """One `import("spec")` call: the specifier, its line and the byte span of the callee."""

    spec: str
    line: int
    start: int
    end: int


@dataclass
class JsScan:
    """What one parse of a file found; `tree` stays for the ES module transform, `captures` (of
    the `also` patterns, when `scan` was given some) for the caller."""

    requires: list[Dependency]
    lazy: list[LazyImport]
    is_module: bool
    tree: Tree
    jsx: bool = False
    captures: dict[str, list[Node]] | None = None


@lru_cache(maxsize=4)
def _calls_query(also: str = "") -> Query:
    return query(_CALLS + also)


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
    text = node_text(node).decode("utf-8")
    if node.type == "template_string":
        if any(child.type == "template_substitution" for child in node.children):
            return None
        return text[1:-1]
    return unescape_js_string(text[1:-1])


def find_requires(text: str, file: str) -> list[Dependency]:
    """Every static dependency (`require("...")`, `import ... from "..."`) in source order."""
    return scan(text.encode("utf-8"), file).requires


def scan(source: bytes, file: str, also: str = "") -> JsScan:
    """Parse `source` once and collect its dependencies; a syntax error is a BuildError.

    `also`: more query patterns (capture names other than `callee`, `spec` and `jsx`) run in the
    same walk of the tree when the file is not an ES module (one the compiler leaves as it is),
    their captures in `JsScan.captures`: the minifier's, so a minified build walks each such tree
    once."""
    tree = parse(source)
    root = tree.root_node
    if root.has_error:
        tree = _with_valid_jsx(source) or tree
        root = tree.root_node
    if root.has_error:
        raise _syntax_error(root, file, source)
    is_module = any(child.type in _MODULE_STATEMENTS for child in root.children)
    also = "" if is_module else also
    captures = QueryCursor(_calls_query(also)).captures(root)
    found: list[tuple[int, Dependency]] = []
    dynamic: list[LazyImport] = []
    # (in document order, the n-th callee is the n-th specifier's: a call's callee comes before
    # its argument, and any call nested in that argument comes after both)
    callees = sorted(captures.get("callee", ()), key=_start)
    specs = sorted(captures.get("spec", ()), key=_start)
    for callee, spec_node in zip(callees, specs, strict=True):
        spec = string_value(spec_node)
        if spec is None:
            continue
        line = callee.start_point.row + 1
        if callee.type == "import":
            dynamic.append(LazyImport(spec, line, callee.start_byte, callee.end_byte))
        elif callee.text == b"require":
            column = node_column(source, callee.start_byte)
            found.append((callee.start_byte, Dependency(spec, line, column, "require")))
    if is_module:
        found.extend(_module_sources(root, source))
    found.sort(key=lambda item: item[0])
    requires = [require for _, require in found]
    return JsScan(requires, dynamic, is_module, tree, "jsx" in captures, captures if also else None)


def _start(node: Node) -> int:
    return node.start_byte


def _with_valid_jsx(source: bytes) -> Tree | None:
    """The tree of a file whose faults include valid JSX the grammar refuses: attributes named
    by reserved words (`class=`, `for=`, `in=`; tree-sitter-javascript #387) and an `&` in JSX
    text or attribute strings that starts no character reference (`Terms & Conditions`).

    Such a word before `=` is parsed as an equally long name, and such an `&` as `_`; the tree
    counts only if every stand-in is then an attribute's name or in JSX text. A stand-in that
    lands elsewhere (a bitwise `a & b`) is put back and the file parsed again, a few times at
    most. When they all land well and an error is left, that tree is returned: its error is the
    file's real one. Nodes' text shows the stand-ins; offsets are the file's, and the compiler
    reads text and names from the file.
    """
    names = [match.span() for match in _RESERVED_BEFORE_EQUALS.finditer(source)]
    ampersands = [
        match.start() for match in _LONE_AMPERSAND.finditer(source)
        if not _CHARACTER_REFERENCE.match(source, match.start())
    ]
    for _ in range(3):
        if not names and not ampersands:
            return None
        patched = bytearray(source)
        for start, end in names:
            patched[start:end] = b"_" * (end - start)
        for position in ampersands:
            patched[position] = ord("_")
        tree = parse(bytes(patched))
        root = tree.root_node
        kept_names = [span for span in names if _is_attribute_name(root, span)]
        kept_ampersands = [position for position in ampersands if _in_jsx_text(root, position)]
        if (kept_names, kept_ampersands) == (names, ampersands):
            return tree  # (with an error left, that is the file's real one)
        names, ampersands = kept_names, kept_ampersands
    return None


def _is_attribute_name(root: Node, span: tuple[int, int]) -> bool:
    node = root.descendant_for_byte_range(*span)
    return (
        node is not None and (node.start_byte, node.end_byte) == span and node.type == "property_identifier"
        and node.parent is not None and node.parent.type == "jsx_attribute"
    )


def _in_jsx_text(root: Node, position: int) -> bool:
    node = root.descendant_for_byte_range(position, position + 1)
    if node is None or node.has_error:
        return False
    if node.type == "jsx_text":
        return True
    string = node.parent if node.type == "string_fragment" else None
    return string is not None and string.parent is not None and string.parent.type == "jsx_attribute"


def _module_sources(root: Node, text: bytes) -> list[tuple[int, Dependency]]:
    sources = []
    for child in root.children:
        source = child.child_by_field_name("source") if child.type in _MODULE_STATEMENTS else None
        if source is not None:
            dependency = Dependency(
                string_value(source) or "", source.start_point.row + 1, node_column(text, source.start_byte), "import"
            )
            sources.append((child.start_byte, dependency))
    return sources


def _syntax_error(root: Node, file: str, source: bytes) -> BuildError:
    misnested = closing_tag_error(root, file)
    if misnested is not None:
        return misnested
    node = first_error(root) or root
    what, at = (f"missing {node.type}", node) if node.is_missing else _describe(node)
    return BuildError(what, file, at.start_point.row + 1, node_column(source, at.start_byte))


def _describe(error: Node) -> tuple[str, Node]:
    """Name what an ERROR node most likely is from its first unmatched delimiter (and point at it)."""
    for child in error.children:
        if child.type in ("'", '"'):
            return "unterminated string literal", child
        if child.type == "`":
            return "unterminated template literal", child
        if child.type == "/":
            if node_text(error)[child.start_byte - error.start_byte :].startswith(b"/*"):
                return "unterminated comment", child
            return "unterminated regular expression literal", child
    return "syntax error", error
