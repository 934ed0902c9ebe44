"""JSX, compiled as esbuild and Babel do by default: the classic runtime.

`<div className="a">hi {x}</div>` becomes `React.createElement("div", { className: "a" },
"hi ", x)`, `<>...</>` passes `React.Fragment`. The factory and fragment come from the file's
last `@jsx` / `@jsxFrag` pragma comment (`/** @jsx h */`), else from `.mendelrc` (`jsx:`, see
`JsxConfig`). In detail, as esbuild:

- a tag whose name starts with a lowercase ASCII letter or holds a dash, and a namespaced tag
  (`svg:rect`), is a string; any other name (`Button`, `Foo.Bar`, `this.x`) is a reference;
- attributes: a string value has its HTML entities decoded (nothing else: no escapes, newlines
  kept), `{expr}` is the expression, a name alone is `true`, `{...props}` an object spread, and a
  name that is not an identifier (`aria-label`, `xlink:href`) is quoted; no attributes is `null`;
- text children: each line trimmed (the first line keeps its start, the last its end), lines of
  only whitespace dropped, the rest joined with one space, then entities decoded (`&amp;`,
  `&#38;`, `&#x26;`; `&amp` without its semicolon, or an unknown name, stays as written);
- `{}` and `{/* comment */}` children are dropped; `{...xs}` spreads into the arguments.

The transform is a list of edits, like the rest of the compiler's (`esm.py`): JSX punctuation,
closing tags and text are written; tag and attribute names, attribute strings that need no
decoding and every expression are left in place, so they map to themselves in source maps, and
the caller's walk goes on inside them (`visit`): an ES module rewrites the imported names there
(and `resolve` reads the factory through the module's bindings). Written text keeps the newlines
it replaces, so lines don't move.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.entities import name2codepoint

from tree_sitter import Node, QueryCursor

from ..config.model import JSX_NAME, JsxConfig
from .errors import BuildError
from .treesitter import compact_name, element_closing_error, field, node_text, query

ELEMENTS = frozenset(("jsx_element", "jsx_self_closing_element"))
_REAL_CHILDREN = ELEMENTS | {"jsx_expression"}
# The HTML 4 entities (what esbuild and Babel decode) and XML's apos.
_ENTITIES = {**name2codepoint, "apos": 0x27}
_NUMBER = {10: re.compile(r"[+-]?[0-9]+"), 16: re.compile(r"[+-]?[0-9a-fA-F]+")}
# What esbuild trims at the ends of a line of JSX text (ECMAScript's WhiteSpace).
_WHITESPACE = frozenset(
    "\t\v\f \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\ufeff"
)
_LINE_BREAKS = frozenset("\r\n\u2028\u2029")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*", re.ASCII)
_PLAIN_NAME = re.compile(r"[\w$:.-]+", re.ASCII)
_PRAGMA = re.compile(r"@(jsx|jsxFrag|jsxRuntime)[ \t\r\n]+(\S+)")
_UNSAFE_IN_STRING = re.compile("[\ud800-\udfff\u2028\u2029]")

Resolve = Callable[[str, bool], str]
"""(factory or fragment name, whether it is called) -> the expression that reads it."""


def file_options(root: Node, project: JsxConfig, file: str) -> JsxConfig:
    """The project's factory and fragment, overridden by the file's pragma comments (the last
    of each wins, as in esbuild and Babel)."""
    factory, fragment = project.factory, project.fragment
    for node in QueryCursor(query("(comment) @comment")).captures(root).get("comment", ()):
        text = node_text(node).decode("utf-8")
        for match in _PRAGMA.finditer(text[2:-2] if text.startswith("/*") else text[2:]):
            pragma, value = match.groups()
            line = node.start_point.row + 1 + text.count("\n", 0, match.start())
            if pragma == "jsxRuntime":
                if value != "classic":
                    raise BuildError(
                        f"`@jsxRuntime {value}` is not supported: JSX compiles with the classic "
                        "runtime (set the factory with `@jsx` or `jsx.factory` in .mendelrc)", file, line,
                    )
            elif not JSX_NAME.fullmatch(value):
                raise BuildError(f"invalid name in the `@{pragma}` pragma: {value!r}", file, line)
            elif pragma == "jsx":
                factory = value
            else:
                fragment = value
    return JsxConfig(factory, fragment)


def plain_resolve(name: str, called: bool) -> str:
    """A factory in a script (CommonJS): the name as written."""
    return name


def script_edits(root: Node, source: bytes, options: JsxConfig, file: str) -> list[tuple[int, int, bytes]]:
    """The edits that compile every JSX element of a script (no import bindings to follow)."""
    edits: list[tuple[int, int, bytes]] = []

    def visit(node: Node) -> None:
        if node.type in ELEMENTS:
            edits.extend(element_edits(node, source, options, visit, plain_resolve, file))
        else:
            for child in node.children:
                visit(child)

    visit(root)
    return edits


def element_edits(
    node: Node, source: bytes, options: JsxConfig, visit: Callable[[Node], None], resolve: Resolve, file: str
) -> list[tuple[int, int, bytes]]:
    """The edits of one JSX element of the file `source` (not of the elements and expressions
    inside it: those go to `visit`). Text is read from `source`, not from the nodes (see
    `jsdeps._with_valid_jsx`)."""
    return _Element(node, source, options, visit, resolve, file).run()


class _Element:
    def __init__(
        self, node: Node, source: bytes, options: JsxConfig, visit: Callable[[Node], None], resolve: Resolve, file: str
    ):
        self.node = node
        self.source = source
        self.options = options
        self.visit = visit
        self.resolve = resolve
        self.file = file
        self.edits: list[tuple[int, int, bytes]] = []

    def run(self) -> list[tuple[int, int, bytes]]:
        node = self.node
        if node.type == "jsx_self_closing_element":
            self._open_tag(node, closes=True)
        else:
            error = element_closing_error(node, self.file)
            if error is not None:
                raise error
            opening, closing = field(node, "open_tag"), field(node, "close_tag")
            self._open_tag(opening, closes=False)
            self._children(node.children[1:-1], opening.end_byte, closing.start_byte)
            self.write(closing.start_byte, closing.end_byte, ")")
        return [edit for edit in self.edits if edit[0] != edit[1] or edit[2]]

    def write(self, start: int, end: int, code: str) -> None:
        """`source[start:end]` (absolute byte offsets) becomes `code`, keeping its newlines;
        merged with the previous write when they touch."""
        replaced = self.source[start:end]
        text = _keep_lines(code.encode("utf-8"), replaced)
        if self.edits and self.edits[-1][1] == start:
            first, _, before = self.edits.pop()
            self.edits.append((first, end, before + text))
        else:
            self.edits.append((start, end, text))

    # ------------------------------------------------------------------ tags

    def _open_tag(self, tag: Node, closes: bool) -> None:
        name = tag.child_by_field_name("name")
        lt = tag.children[0]
        after_name = name.end_byte if name is not None else lt.end_byte
        if name is None:
            factory, fragment = self.resolve(self.options.factory, True), self.resolve(self.options.fragment, False)
            self.write(lt.start_byte, lt.end_byte, f"{factory}({fragment}")
        elif _is_intrinsic(name):
            self.write(lt.start_byte, name.start_byte, f"{self.resolve(self.options.factory, True)}(")
            self._quoted(name)
        else:
            self.write(lt.start_byte, name.start_byte, f"{self.resolve(self.options.factory, True)}(")
            self.visit(name)
        end = ")" if closes else ""
        attributes = tag.children_by_field_name("attribute")
        if not attributes:
            self.write(after_name, tag.end_byte, ", null" + end)
            return
        self.write(after_name, after_name, ", {")
        for position, attribute in enumerate(attributes):
            self._attribute(attribute)
            if position < len(attributes) - 1:
                self.write(attribute.end_byte, attribute.end_byte, ",")
        self.write(attributes[-1].end_byte, tag.end_byte, " }" + end)

    def _quoted(self, name: Node) -> None:
        """A string where the file has a name: quotes around it, or a new string if it has
        anything but name characters in it."""
        text = node_text(name).decode("utf-8")
        if _PLAIN_NAME.fullmatch(text):
            self.write(name.start_byte, name.start_byte, '"')
            self.write(name.end_byte, name.end_byte, '"')
        else:
            self.write(name.start_byte, name.end_byte, _js_string(compact_name(name)))

    # ------------------------------------------------------------ attributes

    def _attribute(self, attribute: Node) -> None:
        if attribute.type == "jsx_expression":  # {...props}
            self._unwrap(attribute, "")
            return
        name, value = attribute.children[0], attribute.children[-1]
        if _IDENTIFIER.fullmatch(node_text(name).decode("utf-8")):
            pass  # a property name as is
        else:
            self._quoted(name)
        if value is name:
            self.write(name.end_byte, name.end_byte, ": true")
            return
        self.write(name.end_byte, value.start_byte, ": ")
        if value.type == "string":
            raw = self.source[value.start_byte + 1:value.end_byte - 1].decode("utf-8")
            decoded = _decode_entities(raw)
            if decoded != raw or "\\" in raw or "\n" in raw or "\r" in raw:
                self.write(value.start_byte, value.end_byte, _js_string(decoded))
        elif value.type == "jsx_expression":
            if _is_empty(value):
                raise BuildError(
                    "a JSX attribute must be given a non-empty expression", self.file, value.start_point.row + 1
                )
            self._unwrap(value, "")
        else:  # an element as the value: <A b=<c/> />
            self.visit(value)

    def _unwrap(self, expression: Node, before: str) -> None:
        """`{ inner }` -> `<before> inner`, the inner part left to the walk."""
        opening, closing = expression.children[0], expression.children[-1]
        self.write(opening.start_byte, opening.end_byte, before)
        for inner in expression.children[1:-1]:
            self.visit(inner)
        self.write(closing.start_byte, closing.end_byte, "")

    # -------------------------------------------------------------- children

    def _children(self, children: list[Node], start: int, end: int) -> None:
        cursor = start
        for child in children:
            if child.type not in _REAL_CHILDREN:
                continue  # text, between the real children
            self._text(cursor, child.start_byte)
            if child.type == "jsx_expression":
                if _is_empty(child):
                    self.write(child.start_byte, child.end_byte, "")
                else:
                    self._unwrap(child, ", ")
            else:
                self.write(child.start_byte, child.start_byte, ", ")
                self.visit(child)
            cursor = child.end_byte
        self._text(cursor, end)

    def _text(self, start: int, end: int) -> None:
        value = jsx_text(self.source[start:end].decode("utf-8"))
        self.write(start, end, ", " + _js_string(value) if value else "")


def jsx_text(raw: str) -> str:
    """The string a run of JSX text stands for (esbuild's whitespace rules, then entities)."""
    lines: list[str] = []
    first, after_last = 0, -1  # the current line's first non-whitespace, the last one's end
    for position, character in enumerate(raw):
        if character in _LINE_BREAKS:
            if first != -1 and after_last != -1:
                lines.append(_decode_entities(raw[first:after_last]))
            first = -1
        elif character not in _WHITESPACE:
            after_last = position + 1
            if first == -1:
                first = position
    if first != -1:
        lines.append(_decode_entities(raw[first:]))
    return " ".join(lines)


def _decode_entities(text: str) -> str:
    """`&name;`, `&#123;` and `&#x7b;` decoded; anything else (`&amp` with no `;`) kept."""
    if "&" not in text:
        return text
    out: list[str] = []
    position = 0
    while position < len(text):
        character = text[position]
        position += 1
        if character == "&":
            semicolon = text.find(";", position)
            if semicolon > position:
                value = _entity(text[position:semicolon])
                if value is not None:
                    out.append(value)
                    position = semicolon + 1
                    continue
        out.append(character)
    return "".join(out)


def _entity(name: str) -> str | None:
    if not name.startswith("#"):
        code = _ENTITIES.get(name)
        return chr(code) if code is not None else None
    number, base = name[1:], 10
    if len(number) > 1 and number[0] == "x":
        number, base = number[1:], 16
    if not _NUMBER[base].fullmatch(number):
        return None
    code = int(number, base)
    return chr(code) if 0 <= code <= 0x10FFFF else None


def _js_string(value: str) -> str:
    """A JavaScript string literal of `value` (JSON's, with lone surrogates and the two
    line separators escaped so the text stays valid UTF-8 and one line)."""
    return _UNSAFE_IN_STRING.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _is_intrinsic(name: Node) -> bool:
    """A tag that names an HTML/SVG element, passed as a string (as esbuild decides)."""
    if name.type == "jsx_namespace_name":
        return True
    if name.type not in ("identifier", "this"):
        return False
    text = node_text(name).decode("utf-8")
    return "a" <= text[0] <= "z" or "-" in text


def _is_empty(expression: Node) -> bool:
    """`{}` or `{/* only comments */}`."""
    return all(child.type == "comment" for child in expression.named_children)


def _keep_lines(code: bytes, replaced: bytes) -> bytes:
    """`code`, with the newlines of the text it replaces around it (it stands where that text's
    first non-whitespace character was)."""
    if b"\n" not in replaced:
        return code
    lead = len(replaced) - len(replaced.lstrip())
    return b"\n" * replaced.count(b"\n", 0, lead) + code + b"\n" * replaced.count(b"\n", lead)
