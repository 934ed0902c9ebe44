"""Minify one module's JavaScript (a registry function body) over its tree-sitter tree.

Three kinds of edit, all exact for source maps (every token kept is a copy of its input text, and
every written one stands over the one token it replaces):

- whitespace and comments go: a run of them becomes nothing, or one space where two tokens would
  otherwise join (`var a`, `a + +b`, `1 .x`); `/*!` and `@license` / `@preserve` comments stay.
  Where a statement ended without a semicolon (automatic semicolon insertion) and something
  follows it, a `;` is written, so taking out the line break can't join two statements.
- local names are mangled: every binding declared inside the module (its top level is the
  registry function's body, so its top-level names are locals too) gets the shortest name not
  visible where it is used, most used first. Never renamed: globals and other free names (they
  are not declared here), `require`, `module`, `exports` and `arguments`, property names, and the
  names a function or class is known by (declared ones, and variables initialised with an
  anonymous function or class, whose `.name` comes from the variable: as esbuild's
  `--keep-names`), so output that prints a component's name is unchanged; the compiler's own
  helpers (`__mendel_ns`, ...) are renamed. A module with a direct
  `eval` or a `with` statement, which can see any local by name, keeps all its names.
- `true` and `false` become `!0` and `!1`, as esbuild writes them, except where a unary expression
  can't stand (`true.x`, `true()`, either side of `**`).

Scopes are those of the language: functions (parameters and `var`s), blocks, `for` heads and
`catch` clauses (`let`, `const`, `class`), a named function or class expression's own name.
A function declared in a block is taken as the function's (sloppy mode's hoisting).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter
from typing import Any

from tree_sitter import Node, Query, QueryCursor, Tree

from ...core.original import compact_packed, expand, pack, unpack
from ..treesitter import parse, query, to_code_points

__all__ = ["QUERY", "minify_js", "minify_js_original"]

try:
    from ._splice import splice as _splice_c
except ImportError:  # not compiled on this install: the same splice, in Python (`_splice_py`)
    _splice_c = None  # type: ignore[assignment]  # ACCELERATED says which

ACCELERATED = _splice_c is not None
"""Whether the minifier's gaps are spliced in C (the optional `_splice` extension)."""

_FUNCTIONS = frozenset((
    "function_declaration", "function_expression", "generator_function_declaration", "generator_function",
    "arrow_function", "method_definition", "function", "class_static_block",
))
_ASI = frozenset((
    "expression_statement", "variable_declaration", "lexical_declaration", "return_statement", "throw_statement",
    "break_statement", "continue_statement", "debugger_statement", "do_statement", "field_definition",
    "import_statement", "export_statement", "using_declaration",
))
FIXED = frozenset(("require", "module", "exports", "arguments", "eval", "undefined"))
_RESERVED = frozenset("""
    as do if in of is for let new try var case else enum eval null this true void with break catch class
    const false super throw while yield delete export import public return static switch typeof default
    extends finally package private continue debugger function arguments interface protected implements
    instanceof await async get set from undefined NaN Infinity
""".split())
_COMPILER_PREFIX = b"__mendel_"
# parents under which `true` may stand where a unary expression may not (and `**`, whose left
# side can't be one)
_NEEDS_PRIMARY = frozenset((
    "member_expression", "subscript_expression", "call_expression", "new_expression", "optional_chain",
    "template_string", "decorator",
))
_SPACE = re.compile(rb"[ \t\n\r\x0b\x0c]+")
# a semicolon is never needed before these, nor after these (the statement went on, or ended)
_NO_SEMICOLON_BEFORE = frozenset(b"};)],.?:=")
_NO_SEMICOLON_AFTER = frozenset(b"{;,([=:?&|")
_FIRST = "etnsriaolcdupmfhgbvyxwkjqzETNSRIAOLCDUPMFHGBVYXWKJQZ_$"
_NEXT = _FIRST + "0123456789"


def _names() -> list[str]:
    names = list(_FIRST)
    names += [a + b for a in _FIRST for b in _NEXT]
    return [name for name in names if name not in _RESERVED]


_SHORT_NAMES = _names()
Spliced = tuple[str, int, bytes, str]
"""The output, and its reversed edits in the compact form's parts: (output, bytes per number,
numbers packed, texts) (`original.pack`, `original.compact_packed`)."""
Captures = dict[str, list[Node]]
"""A query's captures over a tree, by capture name (what `QueryCursor.captures` gives)."""


class _Scope:
    __slots__ = ("parent", "function", "bindings", "children", "outer")

    def __init__(self, parent: _Scope | None, function: bool):
        self.parent = parent
        self.function = function
        self.bindings: dict[str, _Binding] = {}
        self.children: list[_Scope] = []
        self.outer: set[_Binding] = set()  # bindings of enclosing scopes used in here
        if parent is not None:
            parent.children.append(self)

    def function_scope(self) -> _Scope:
        scope = self
        while not scope.function and scope.parent is not None:
            scope = scope.parent
        return scope

    def declare(self, name: str, fixed: bool = False) -> None:
        binding = self.bindings.get(name)
        if binding is None:
            binding = self.bindings[name] = _Binding(name, self)
        if fixed or name in FIXED:
            binding.fixed = True


class _Binding:
    __slots__ = ("name", "scope", "uses", "fixed", "new")

    def __init__(self, name: str, scope: _Scope):
        self.name = name
        self.scope = scope
        self.uses = 0
        self.fixed = False
        self.new = name


def minify_js(
    source: str, tree: Tree | None = None, captures: Captures | None = None
) -> tuple[str, list[tuple[int, int, str]]]:
    """The minified `source` and its reversed edits (`original.py`: the output's `[start:end]`
    stands where `source` has `text`; code point offsets). `tree`: `source`'s tree, when the
    caller has it, and `captures`, `QUERY`'s captures over it, when the caller ran it (the
    dependency scan does, in the same walk as its own). A source that doesn't parse comes back
    as it is."""
    spliced = _minify(source, tree, captures)
    if spliced is None or not spliced[2]:
        return source, []
    output, width, numbers, texts = spliced
    return output, expand(unpack(width, numbers), texts)


def minify_js_original(source: str, tree: Tree | None = None, captures: Captures | None = None) -> tuple[str, str]:
    """`minify_js`, with the reversed edits as the `original` field's compact form ("" for none):
    what a build stores, without a tuple per edit."""
    spliced = _minify(source, tree, captures)
    if spliced is None or not spliced[2]:
        return source, ""
    output, width, numbers, texts = spliced
    return output, compact_packed(width, numbers, texts)


def _minify(source: str, tree: Tree | None, captures: Captures | None = None) -> Spliced | None:
    """The minified `source`, and its reversed edits as the compact form's numbers (gap, width,
    length per edit, packed: `original.pack`) and texts; None for a source that doesn't parse."""
    data = source.encode("utf-8")
    if tree is None:
        tree = parse(data)
    root = tree.root_node
    if root.has_error:
        return None
    walk = _Walk(data, source if source.isascii() else None)
    walk.run(root, captures)
    tokens = walk.booleans + (walk.renames() if not walk.keep_names else [])
    tokens.sort()
    protected, removed = walk.masks()
    splice = _splice_py if _splice_c is None else _splice_c
    return splice(data, protected, removed, tokens, _JOIN, walk.statement_ends)


def _splice_py(
    data: bytes, protected: list[tuple[int, int]], removed: list[tuple[int, int]],
    tokens: list[tuple[int, int, str]], join: bytes, statement_ends: Callable[[int], bool],
) -> Spliced:
    """The output and reversed edits (compact numbers, texts) of the gaps of `data` together with
    the (sorted) `tokens` edits: what `_splice.c` does, in Python.

    A gap is a run of whitespace and comments outside protected text (strings, regexes, template
    text, kept comments); it becomes nothing, one space where two tokens would join (`join`, a
    table of byte pairs), or a `;` where a statement relied on ASI; a run that is already what it
    becomes (one space between two words) is left alone. Runs are found by one regular
    expression over a copy of the text in which protected spans are masked and removed comments
    blanked (line breaks kept as line breaks)."""
    length = len(data)
    masked = bytearray(data)
    for start, end in protected:
        masked[start:end] = b"x" * (end - start)
    for start, end in removed:
        comment = data[start:end]
        masked[start:end] = (b"\n" if b"\n" in comment or b"\r" in comment else b" ") * (end - start)
    forward: list[tuple[int, int, str]] = []
    append = forward.append
    find = masked.find
    for match in _SPACE.finditer(masked):
        start, end = match.span()
        if start == 0 or end == length:
            append((start, end, ""))
            continue
        before, after = data[start - 1], data[end]
        if end - start == 1 and masked[start] == 32:  # a lone space, the commonest gap
            if not join[before * 256 + after]:
                append((start, end, ""))
            continue
        if (
            after not in _NO_SEMICOLON_BEFORE and before not in _NO_SEMICOLON_AFTER
            and (find(b"\n", start, end) >= 0 or find(b"\r", start, end) >= 0)
            and statement_ends(start)
        ):
            append((start, end, ";"))
        elif join[before * 256 + after]:
            if end - start != 1 or data[start] != 32:
                append((start, end, " "))
        else:
            append((start, end, ""))
    forward += tokens
    forward.sort()  # (sorted runs that never overlap: merges)
    source = data.decode("utf-8")
    if forward and not source.isascii():
        forward = to_code_points(data, forward)
    # the output's pieces, and each written text's place in the output (its input offset moved
    # by the edits before it)
    parts: list[str] = []
    append_part = parts.append
    numbers: list[int] = []
    extend = numbers.extend
    texts: list[str] = []
    append_text = texts.append
    position = shift = previous = 0
    for start, end, text in forward:
        append_part(source[position:start])
        size = len(text)
        if size:
            append_part(text)
        at = start + shift
        extend((at - previous, size, end - start))
        append_text(source[start:end])
        previous = at + size
        shift += size - end + start
        position = end
    append_part(source[position:])
    return ("".join(parts), *pack(numbers), "".join(texts))

# what the minifier reads of a tree; a build's dependency scan runs it in its own walk of a file
# the compiler leaves as it is (`jsdeps.scan`'s `also`), so its capture names are not the scan's
QUERY = """
(identifier) @id
(shorthand_property_identifier) @short
(shorthand_property_identifier_pattern) @short
[(string) (regex)] @atom
(template_string) @template
(comment) @comment
[(function_declaration) (generator_function_declaration) (function_expression) (generator_function)
 (arrow_function) (method_definition) (class_static_block)] @function
[(statement_block) (switch_body) (for_statement) (for_in_statement) (catch_clause) (class)] @block
(variable_declaration (variable_declarator name: (_) @var))
(lexical_declaration (variable_declarator name: (_) @let))
(variable_declarator name: (identifier) @keep
  value: [(function_expression !name) (generator_function !name) (arrow_function) (class !name)])
(formal_parameters (_) @param)
(arrow_function parameter: (identifier) @param)
(catch_clause parameter: (_) @param)
(for_in_statement "var" left: (_) @var)
(for_in_statement ["let" "const"] left: (_) @let)
(function_declaration name: (identifier) @fdecl)
(generator_function_declaration name: (identifier) @fdecl)
(function_expression name: (identifier) @fexpr)
(generator_function name: (identifier) @fexpr)
(class name: (identifier) @fexpr)
(class_declaration name: (identifier) @cdecl)
(with_statement) @with
[(true) (false)] @boolean
"""
# event kinds of the sweep, in the order they are handled at one offset
_OPEN_FUNCTION, _OPEN_BLOCK, _DECLARE, _USE = range(4)


@lru_cache(maxsize=1)
def _query() -> Query:
    return query(QUERY)


class _Walk:
    def __init__(self, data: bytes, text: str | None = None):
        self.data = data
        self.text = text  # `data` as a str when it is ASCII (its offsets are the bytes'), else None
        self.protected: list[tuple[int, int]] = []  # strings, regexes, template text: copied as is
        self.comments: list[tuple[int, int]] = []  # removed
        self.occurrences: list[tuple[int, int, _Scope, bool, str]] = []  # start, end, scope, shorthand, name
        self.keep_names = False  # a direct eval or a `with`
        self.fixed_names: set[str] = set(FIXED)  # names kept somewhere: no renamed binding takes one
        self.top = _Scope(None, True)
        self.root: Node | None = None
        self.booleans: list[tuple[int, int, str]] = []  # `true` -> `!0`, `false` -> `!1`

    def run(self, root: Node, captures: Captures | None = None) -> None:
        self.root = root
        if captures is None:
            captures = QueryCursor(_query()).captures(root)
        get = captures.get
        self.protected = [(node.start_byte, node.end_byte) for node in get("atom", ())]
        self.comments = [(node.start_byte, node.end_byte) for node in get("comment", ())]
        for template in get("template", ()):
            self._template(template)
        for node in get("boolean", ()):
            parent = node.parent
            # `!0` is a unary expression: never where a primary one is needed (`!0.x`, `!0()`,
            # `!0 ** 2` would mean something else, or nothing)
            if parent is not None and parent.type == "binary_expression":
                operator = parent.child_by_field_name("operator")
                if operator is None or operator.type == "**":
                    continue
            elif parent is None or parent.type in _NEEDS_PRIMARY:
                continue
            self.booleans.append((node.start_byte, node.end_byte, "!0" if node.type == "true" else "!1"))
        if get("with"):
            self.keep_names = True
            return
        # (start, order, -end, sequence, kind, node): sorted, outer scopes open first
        # (the last two: kind and node, or for a use whether it is a shorthand property and the name)
        events: list[tuple[int, int, int, int, Any, Any]] = []
        append = events.append
        sequence = 0
        for kind, order in (("function", _OPEN_FUNCTION), ("block", _OPEN_BLOCK)):
            for node in get(kind, ()):
                if kind == "block" and node.type == "statement_block":
                    parent = node.parent
                    if parent is not None and parent.type in _FUNCTIONS:
                        continue  # a function's body: its parameters' scope
                sequence += 1
                append((node.start_byte, order, -node.end_byte, sequence, kind, node))
        keep = {node.start_byte for node in get("keep", ())}
        data = self.data
        text = self.text
        # names that some binding here may lose: a use of any other name is of a global or a kept
        # name, which no renamed binding may take (`fixed_names`), and needs no scope
        candidates: set[str] = set()
        pattern_names: dict[int, list[str]] = {}
        for kind in ("var", "let", "param"):
            for node in get(kind, ()):
                start, end = node.byte_range
                sequence += 1
                append((start, _DECLARE, -end, sequence, kind, node))
                if node.type == "identifier":  # (most are: no pattern to take apart)
                    names = [text[start:end] if text is not None else data[start:end].decode("utf-8")]
                else:
                    names = _pattern_names(node, data)
                pattern_names[start] = names
                if start not in keep:
                    candidates.update(names)
        for kind in ("fdecl", "fexpr", "cdecl"):
            for node in get(kind, ()):
                sequence += 1
                append((node.start_byte, _DECLARE, -node.end_byte, sequence, kind, node))
                if kind == "fdecl" and data.startswith(_COMPILER_PREFIX, node.start_byte):
                    candidates.add(data[node.start_byte:node.end_byte].decode("utf-8"))
        fixed_names = self.fixed_names
        add_fixed = fixed_names.add
        for kind, shorthand in (("id", False), ("short", True)):
            for node in get(kind, ()):
                start, end = node.byte_range
                name = text[start:end] if text is not None else data[start:end].decode("utf-8")
                if name == "eval":
                    self.keep_names = True  # a direct eval sees every local by name
                if name in candidates:
                    sequence += 1
                    append((start, _USE, -end, sequence, shorthand, name))
                else:
                    add_fixed(name)
        outer_names = {node.start_byte for node in get("fdecl", ())}
        events.sort()
        # the scopes open at the event being handled, innermost last, each with its end
        stack: list[tuple[int, _Scope]] = [(len(data) + 1, self.top)]
        limit, scope = stack[-1]
        occurrences = self.occurrences
        add_occurrence = occurrences.append
        for start, order, negative_end, _sequence, kind, node in events:
            while limit <= start:
                stack.pop()
                limit, scope = stack[-1]
            if order == _USE:  # (kind: whether it is a shorthand property; node: the name)
                if start in outer_names and scope.parent is not None:
                    # a declared function's name belongs around it
                    add_occurrence((start, -negative_end, scope.parent, kind, node))
                else:
                    add_occurrence((start, -negative_end, scope, kind, node))
            elif order == _DECLARE:
                if kind == "var" or kind == "let" or kind == "param":
                    target = scope
                    if kind == "var":
                        while not target.function and target.parent is not None:
                            target = target.parent
                    kept = start in keep
                    bindings = target.bindings
                    for name in pattern_names[start]:
                        # (`_Scope.declare`, inline: the commonest event but a use)
                        binding = bindings.get(name)
                        if binding is None:
                            binding = bindings[name] = _Binding(name, target)
                        if kept:
                            binding.fixed = True
                            add_fixed(name)
                        elif name in FIXED:
                            binding.fixed = True
                else:
                    name = data[start:-negative_end].decode("utf-8")
                    # the compiler's helpers (`__mendel_ns`) have no name anyone reads
                    fixed = not name.startswith("__mendel_")
                    if fixed:
                        add_fixed(name)
                    if kind == "fdecl":
                        (scope.parent or scope).function_scope().declare(name, fixed=fixed)
                    else:
                        scope.declare(name, fixed=fixed)
            else:
                limit, scope = -negative_end, _Scope(scope, order == _OPEN_FUNCTION)
                stack.append((limit, scope))

    def _template(self, node: Node) -> None:
        position = node.start_byte
        for child in node.children:
            if child.type == "template_substitution":
                self.protected.append((position, child.start_byte + 2))
                position = child.end_byte - 1
        self.protected.append((position, node.end_byte))

    # ---------------------------------------------------------------- output

    def masks(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(text copied as it is: strings, regexes, template text and kept comments; comments
        removed)."""
        protected = self.protected
        removed = []
        data = self.data
        for start, end in self.comments:
            text = data[start:end]
            if text.startswith(b"/*!") or b"@license" in text or b"@preserve" in text:
                protected.append((start, end))
            else:
                removed.append((start, end))
        return protected, removed

    def renames(self) -> list[tuple[int, int, str]]:
        resolved: list[tuple[int, int, bool, _Binding]] = []
        fixed = self.fixed_names
        add = resolved.append
        for start, end, scope, shorthand, name in self.occurrences:
            binding = scope.bindings.get(name)
            if binding is None:
                found: _Scope | None = scope.parent
                while found is not None:
                    binding = found.bindings.get(name)
                    if binding is not None:
                        break
                    found = found.parent
                if binding is None:
                    fixed.add(name)  # free here: a global no renamed binding may take
                    continue
                crossing = scope
                while crossing is not found:
                    crossing.outer.add(binding)
                    crossing = crossing.parent
            binding.uses += 1
            add((start, end, shorthand, binding))
        pending = [self.top]
        count = len(_SHORT_NAMES)
        while pending:
            scope = pending.pop()
            # taken here: what enclosing bindings used in here are called, and (`fixed`) every
            # kept name and every global of the module, this scope's kept bindings among them
            taken = {binding.new for binding in scope.outer}
            position = 0  # the next short name to try
            # (most used first; `reverse` keeps a sort stable, so ties stay in declaration order)
            for binding in sorted(scope.bindings.values(), key=_uses, reverse=True):
                if binding.fixed:
                    continue
                while position < count and (_SHORT_NAMES[position] in taken or _SHORT_NAMES[position] in fixed):
                    position += 1
                # (past the short names, a scope of thousands of names keeps the rest)
                name = binding.name
                candidate = _SHORT_NAMES[position] if position < count else name
                if len(candidate) < len(name) or name in taken or name in fixed:
                    binding.new = candidate
                    position += 1
                taken.add(binding.new)
            pending.extend(scope.children)
        edits: list[tuple[int, int, str]] = []
        add_edit = edits.append
        for start, end, shorthand, binding in resolved:
            new = binding.new
            if new != binding.name:
                add_edit((start, end, f"{binding.name}:{new}" if shorthand else new))
        return edits

    def statement_ends(self, position: int) -> bool:
        """Whether a statement that relies on ASI ends at `position` (before a line break)."""
        root = self.root
        node = root.descendant_for_byte_range(position - 1, position) if root is not None else None
        while node is not None and node.end_byte == position:
            if node.type in _ASI:
                return True
            node = node.parent
        return False


_uses = attrgetter("uses")


def _pattern_names(pattern: Node, data: bytes) -> list[str]:
    """The names a declaration's pattern binds."""
    if pattern.type == "identifier":
        return [data[pattern.start_byte:pattern.end_byte].decode("utf-8")]
    names = []
    stack = [pattern]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind in ("identifier", "shorthand_property_identifier_pattern"):
            names.append(data[node.start_byte:node.end_byte].decode("utf-8"))
        elif kind == "pair_pattern":
            value = node.child_by_field_name("value")
            if value is not None:
                stack.append(value)
        elif kind in ("assignment_pattern", "object_assignment_pattern"):
            left = node.child_by_field_name("left")
            if left is not None:
                stack.append(left)
        elif kind in ("object_pattern", "array_pattern", "rest_pattern"):
            stack.extend(node.named_children)
    return names


def _is_word(byte: int) -> bool:
    return chr(byte).isalnum() or byte in b"_$\\" or byte >= 0x80


def _joins(before: int, after: int) -> bool:
    """Whether two tokens, ending in `before` and starting with `after`, would join without a
    space between them."""
    if _is_word(before) and _is_word(after):
        return True
    if before == after and before in b"+-":
        return True
    if before == ord("/") and after in b"/*":
        return True
    if 48 <= before <= 57 and after == ord("."):
        return True
    return (before, after) in ((ord("<"), ord("!")), (ord("-"), ord(">")))


def _join_table() -> bytes:
    """`_joins` for every pair of bytes, as one 64 KiB table (built row by row: words join words)."""
    words = bytes(_is_word(byte) for byte in range(256))
    table = bytearray(65536)
    for before in range(256):
        if words[before]:
            table[before * 256:before * 256 + 256] = words
    for before, after in ((43, 43), (45, 45), (47, 47), (47, 42), (60, 33), (45, 62)):  # + + - - / / / * < ! - >
        table[before * 256 + after] = 1
    for digit in b"0123456789":
        table[digit * 256 + 46] = 1  # 1 .x
    return bytes(table)


_JOIN = _join_table()
