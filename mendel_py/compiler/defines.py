"""Build-time constants: `process.env.NODE_ENV` becomes a string literal, as bundlers define it.

`mendel build` writes `"production"` (whatever `--env` picks from the `.mendelrc`), `mendel dev`
`"development"`, so libraries that choose their build by it (React's `index.js`, Preact's debug
helpers) run in a browser, where `process` does not exist. Every read of the member expression
is replaced, except where it is assigned to or where an ES module imports a `process` binding.

A branch the constant makes dead takes its dependencies with it: the `require`s and `import()`s
inside the untaken side of `if (process.env.NODE_ENV === "production") ... else ...` (also `!==`,
`==`, `!=`, the literal on either side, and `?:`) are not dependencies, so React's development
build is not bundled into a production one. The dead code itself stays (minifying is another
step's job): it is never run, and a `require` it holds is never called.

The replacement is an edit like the compiler's others (`esm.py`), so the file's `original` edits
give source maps their exact positions back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Node, Query, QueryCursor

from .jsdeps import string_value
from .treesitter import node_text, query

_NODE_ENV = """
(member_expression
  object: (member_expression object: (identifier) @process property: (property_identifier) @env)
  property: (property_identifier) @name) @read
"""
_CALLS = """
(call_expression function: [(identifier) (import)] @callee
  arguments: (arguments . [(string) (template_string)] @spec .))
"""
_EQUALITY = {"===": True, "==": True, "!==": False, "!=": False}


@dataclass
class Defines:
    """The edits that write the constant in, and the byte ranges of the branches it makes dead."""

    edits: list[tuple[int, int, bytes]] = field(default_factory=list)
    dead: list[tuple[int, int]] = field(default_factory=list)

    def dead_specifiers(self, root: Node) -> set[tuple[str, int]]:
        """(specifier, line) of every `require("...")` / `import("...")` inside a dead range."""
        if not self.dead:
            return set()
        found = set()
        for _, captures in QueryCursor(_calls_query()).matches(root):
            callee = captures["callee"][0]
            if callee.type == "identifier" and node_text(callee) != b"require":
                continue
            if any(start <= callee.start_byte < end for start, end in self.dead):
                spec = string_value(captures["spec"][0])
                if spec is not None:
                    found.add((spec, callee.start_point.row + 1))
        return found


@lru_cache(maxsize=1)
def _calls_query() -> Query:
    return query(_CALLS)


@lru_cache(maxsize=1)
def _node_env_query() -> Query:
    return query(_NODE_ENV)


def node_env_defines(root: Node, source: bytes, node_env: str) -> Defines:
    """The edits replacing `process.env.NODE_ENV` in the tree of `source`, and its dead ranges."""
    found = Defines()
    if b"NODE_ENV" not in source or _imports_process(root):
        return found
    literal = json.dumps(node_env).encode("utf-8")
    reads: list[Node] = []
    for _, captures in QueryCursor(_node_env_query()).matches(root):
        read = captures["read"][0]
        if (
            node_text(captures["process"][0]) != b"process"
            or node_text(captures["env"][0]) != b"env"
            or node_text(captures["name"][0]) != b"NODE_ENV"
            or _is_written(read)
        ):
            continue
        reads.append(read)
        found.edits.append((read.start_byte, read.end_byte, literal))
    for read in reads:
        _mark_dead_branch(read, node_env, found)
    return found


def _imports_process(root: Node) -> bool:
    """Whether an ES module binds `process` by an import (then the name is the module's own)."""
    for statement in root.children:
        if statement.type == "import_statement":
            for node in _descendants(statement):
                if node.type == "identifier" and node_text(node) == b"process":
                    return True
    return False


def _descendants(node: Node) -> list[Node]:
    out, pending = [], [node]
    while pending:
        current = pending.pop()
        out.append(current)
        pending.extend(current.children)
    return out


def _is_written(read: Node) -> bool:
    parent = read.parent
    if parent is None:
        return False
    if parent.type in ("assignment_expression", "augmented_assignment_expression"):
        left = parent.child_by_field_name("left")
        return left is not None and left.id == read.id
    return parent.type == "update_expression"


def _mark_dead_branch(read: Node, node_env: str, found: Defines) -> None:
    """When `read` is one side of an equality with a string whose other side is a literal, and
    that comparison is the whole condition of an `if` or `?:`, the untaken side is dead."""
    comparison = read.parent
    if comparison is None or comparison.type != "binary_expression":
        return
    operator = comparison.child_by_field_name("operator")
    left, right = comparison.child_by_field_name("left"), comparison.child_by_field_name("right")
    if operator is None or left is None or right is None or node_text(operator).decode() not in _EQUALITY:
        return
    other = right if left.id == read.id else left
    if other.type != "string":
        return
    value = node_text(other).decode("utf-8")[1:-1]
    if "\\" in value:
        return
    truth = (value == node_env) == _EQUALITY[node_text(operator).decode()]
    condition, holder = comparison, comparison.parent
    while holder is not None and holder.type == "parenthesized_expression":
        condition, holder = holder, holder.parent
    if holder is None or holder.type not in ("if_statement", "ternary_expression"):
        return
    test = holder.child_by_field_name("condition")
    if test is None or test.id != condition.id:
        return
    taken, untaken = holder.child_by_field_name("consequence"), holder.child_by_field_name("alternative")
    dead = untaken if truth else taken
    if dead is not None:
        found.dead.append((dead.start_byte, dead.end_byte))
