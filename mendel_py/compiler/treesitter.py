"""The tree-sitter JavaScript grammar the scanners (`jsdeps`) and the JSX transform (`jsx`) share:
the language, the parser, compiled queries, and the check for wrongly closed JSX tags that both
need. Imports no other compiler module but `errors`."""

from __future__ import annotations

from functools import cache, lru_cache

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from .errors import BuildError

__all__ = [
    "closing_tag_error", "compact_name", "element_closing_error", "field", "language", "node_text", "parse", "query",
]


@lru_cache(maxsize=1)
def language() -> Language:
    return Language(tree_sitter_javascript.language())


@cache  # a few patterns, each compiled once (~1 ms)
def query(pattern: str) -> Query:
    return Query(language(), pattern)


def parse(source: bytes) -> Tree:
    return Parser(language()).parse(source)


def node_text(node: Node) -> bytes:
    """A node's source bytes. The stubs allow None (a tree parsed through a read callback keeps
    no source); the trees here are always parsed from bytes, so a node always has its text."""
    return node.text or b""


def field(node: Node, name: str) -> Node:
    """The child in field `name`, for a field the grammar requires of this node type."""
    child = node.child_by_field_name(name)
    if child is None:
        raise ValueError(f"a {node.type} node without its {name!r} field")
    return child


def closing_tag_error(root: Node, file: str) -> BuildError | None:
    """The first element closed by another tag's name (`<a>...</b>`): the parser pairs tags
    without comparing names, so a syntax error around a wrongly closed tag is best told this way."""
    for element in QueryCursor(query("(jsx_element) @element")).captures(root).get("element", ()):
        error = element_closing_error(element, file)
        if error is not None:
            return error
    return None


def element_closing_error(element: Node, file: str) -> BuildError | None:
    """The error for one `jsx_element` whose closing tag names another element, else None."""
    opening, closing = element.child_by_field_name("open_tag"), element.child_by_field_name("close_tag")
    if opening is None or closing is None:
        return None
    opened, closed = opening.child_by_field_name("name"), closing.child_by_field_name("name")
    opened_text = compact_name(opened) if opened is not None else ""
    closed_text = compact_name(closed) if closed is not None else ""
    if opened_text == closed_text:
        return None
    return BuildError(
        f"expected closing tag </{opened_text}> to match opening tag <{opened_text}>, got </{closed_text}>",
        file, closing.start_point.row + 1,
    )


def compact_name(name: Node) -> str:
    """A tag or attribute name without the whitespace or comments the parser allows inside."""
    if name.child_count == 0:
        return node_text(name).decode("utf-8")
    return "".join(compact_name(child) for child in name.children if child.type != "comment")


def first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node under `node` in document order (None when it parsed)."""
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = first_error(child)
            if found is not None:
                return found
    return None


def to_code_points(data: bytes, edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """`edits` given in UTF-8 byte offsets of `data` (tree-sitter's), in code points (Python's)."""
    positions = sorted({offset for start, end, _ in edits for offset in (start, end)})
    table: dict[int, int] = {}
    count = previous = 0
    for offset in positions:
        count += len(data[previous:offset].decode("utf-8"))
        table[offset] = count
        previous = offset
    return [(table[start], table[end], text) for start, end, text in edits]
