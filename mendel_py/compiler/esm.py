"""Compile an ES module into a registry function body `function(require, module, exports)`.

The output is what the packer's prelude already runs for CommonJS, so a bundle may mix both:

- `exports` gets `__esModule` and one enumerable getter per export, defined before anything
  runs, so importers (and cycles) see live bindings: a getter reads the local variable. Then
  it is made a namespace object as node's: `Symbol.toStringTag` "Module", not extensible.
- Top-level `this` is `undefined`; assigning to an imported binding is a build error.
- Every `import` / `export ... from` becomes a `require` at the top, in source order (imports
  are hoisted in the spec too). A reference to an imported name is rewritten to a property
  read on the required namespace (`a` -> `__mendel_m0.a`), which keeps bindings live; a call
  `f()` becomes `(0, __mendel_m0.f)()` so `this` stays undefined.
- CommonJS interop: `__mendel_ns` gives a CommonJS module a namespace whose `default` is
  `module.exports` (its own properties read through, as node does for named imports);
  `require()` of an ES module returns its `exports`, i.e. its namespace.
- `import("...")` becomes `__mendel_import("...")`: `require.lazy` (a lazy chunk) where the
  prelude has it, else the already bundled module, as a namespace in a Promise.
- JSX (`jsx.py`) compiles in the same walk: the factory, the fragment and component tags are
  references like any other, so `React` or `Button` imported by the module read its bindings.

Lines are kept: the prologue is prepended to line 1 and removed statements leave their
newlines, so a stack trace's line numbers are the file's. Columns move on the lines the compiler
edits, so the result carries its edits reversed (`mendel_py/core/original.py`): source maps point
at the file as written.
`import.meta` and top-level `await` are build errors naming file and line.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from tree_sitter import Node

from ..config.model import JsxConfig
from ..core.original import Edit
from . import jsx
from .errors import BuildError, node_column
from .jsdeps import JsScan, string_value
from .treesitter import field, node_text

NS_HELPER = (
    "function __mendel_ns(m){if(m&&m.__esModule)return m;"
    "var n=Object.create(m!==null&&(typeof m==\"object\"||typeof m==\"function\")?m:null);"
    "Object.defineProperty(n,\"default\",{value:m,enumerable:true});return n}"
)
IMPORT_HELPER = (
    "function __mendel_import(x){return(require.lazy?require.lazy(x):"
    "Promise.resolve().then(function(){return require(x)})).then(__mendel_ns)}"
)
_FUNCTIONS = frozenset((
    "function_declaration", "function_expression", "generator_function_declaration",
    "generator_function", "arrow_function", "method_definition",
))
_BLOCKS = frozenset(("statement_block", "switch_body", "class_body", "program"))
_LOOPS = frozenset(("for_statement", "for_in_statement"))
_DECLARATIONS = frozenset((
    "function_declaration", "generator_function_declaration", "class_declaration",
))
_ANONYMOUS_DEFAULTS = {"function_expression": b"function", "generator_function": b"*", "class": b"class"}
DEFAULT_LOCAL = "__mendel_default"
_DEFAULT_JSX = JsxConfig()
Edit_ = tuple[int, int, bytes]  # a byte span of the file and the bytes written in its place


class Compiled(NamedTuple):
    """A compiled file: the registry function body, and its edits reversed (see `original.py`)."""

    source: str
    original: tuple[Edit, ...]


def compile_commonjs(
    source: bytes, scan: JsScan, file: str, options: JsxConfig = _DEFAULT_JSX, extra: Iterable[Edit_] = ()
) -> Compiled:
    """A CommonJS file with `import("...")` calls, JSX or `extra` edits (build-time constants,
    `defines.py`): only those change (plus the helpers of `import()`, when it has some)."""
    edits = [(found.start, found.end, b"__mendel_import") for found in scan.lazy] + list(extra)
    if scan.jsx:
        root = scan.tree.root_node
        edits += jsx.script_edits(root, source, jsx.file_options(root, options, file), file)
    return _apply(NS_HELPER + IMPORT_HELPER if scan.lazy else "", source, edits)


def compile_module(
    source: bytes, scan: JsScan, file: str, options: JsxConfig = _DEFAULT_JSX, extra: Iterable[Edit_] = ()
) -> Compiled:
    """The registry function body for the ES module `source` (already scanned), with `extra`
    byte edits (spans no other edit touches) applied as well."""
    compiler = _Compiler(source, scan, file, options)
    compiler.edits.extend(extra)
    compiler.covered = [(start, end) for start, end, _ in compiler.edits]
    return compiler.run()


class _Compiler:
    def __init__(self, source: bytes, scan: JsScan, file: str, options: JsxConfig):
        self.source = source
        self.scan = scan
        self.file = file
        self.jsx = jsx.file_options(scan.tree.root_node, options, file) if scan.jsx else options
        self.edits: list[tuple[int, int, bytes]] = []
        self.bindings: dict[str, str] = {}  # imported local name -> expression reading it
        self.exports: list[tuple[str, str]] = []  # (exported name, local name or expression)
        self.setup: list[str] = []  # requires and star re-exports, in source order
        self.modules = 0
        self.covered: list[tuple[int, int]] = []  # spans the caller's edits rewrite: not walked

    def run(self) -> Compiled:
        root = self.scan.tree.root_node
        for statement in root.children:
            if statement.type == "import_statement":
                self._import(statement)
            elif statement.type == "export_statement":
                self._export(statement)
        self._check_and_rewrite(root, dict(self.bindings), in_function=False, binds_this=False)
        for found in self.scan.lazy:
            self.edits.append((found.start, found.end, b"__mendel_import"))
        getters = "".join(
            f"__mendel_x({json.dumps(name)},function(){{return {self._read(local)}}});"
            for name, local in self.exports
        )
        prologue = (
            '"use strict";Object.defineProperty(exports,"__esModule",{value:true});'
            + NS_HELPER + IMPORT_HELPER
            + "function __mendel_x(n,g){Object.defineProperty(exports,n,{enumerable:true,get:g})}"
            + "function __mendel_star(m){for(var k in m)if(k!==\"default\"&&k!==\"__esModule\"&&"
            "!Object.prototype.hasOwnProperty.call(exports,k))(function(k){__mendel_x(k,"
            "function(){return m[k]})})(k)}"
            + getters + "".join(self.setup)
            # a namespace object, as node's: tagged "Module", no property added after this
            + 'Object.defineProperty(exports,Symbol.toStringTag,{value:"Module"});'
            + "Object.preventExtensions(exports);"
        )
        return _apply(prologue, self.source, self.edits)

    def _read(self, local: str) -> str:
        return self.bindings.get(local, local)

    # ------------------------------------------------------------ statements

    def _require(self, statement: Node) -> str:
        spec = string_value(field(statement, "source")) or ""
        name = f"__mendel_m{self.modules}"
        self.modules += 1
        self.setup.append(f"var {name}=__mendel_ns(require({json.dumps(spec)}));")
        return name

    def _remove(self, node: Node) -> None:
        self.edits.append((node.start_byte, node.end_byte, b"\n" * node_text(node).count(b"\n")))

    def _import(self, statement: Node) -> None:
        module = self._require(statement)
        self._remove(statement)
        clause = next((c for c in statement.children if c.type == "import_clause"), None)
        for part in clause.children if clause else ():
            if part.type == "identifier":
                self.bindings[_text(part)] = f"{module}.default"
            elif part.type == "namespace_import":
                self.bindings[_text(part.named_children[-1])] = module
            elif part.type == "named_imports":
                for specifier in part.named_children:
                    if specifier.type == "import_specifier":
                        imported = _name(field(specifier, "name"))
                        local = specifier.child_by_field_name("alias") or field(specifier, "name")
                        self.bindings[_text(local)] = (
                            f"{module}.{imported}" if imported.isidentifier()
                            else f"{module}[{json.dumps(imported)}]"
                        )

    def _export(self, statement: Node) -> None:
        declaration = statement.child_by_field_name("declaration")
        value = statement.child_by_field_name("value")
        is_default = any(c.type == "default" for c in statement.children)
        if statement.child_by_field_name("source") is not None:
            self._re_export(statement)
        elif declaration is not None:
            self.edits.append((statement.start_byte, declaration.start_byte, b""))
            for name in _declared_names(declaration):
                self.exports.append(("default" if is_default else name, name))
        elif value is not None:
            self._default_value(statement, value)
        else:
            self._remove(statement)
            for specifier in _specifiers(statement):
                local, exported = _export_names(specifier)
                self.exports.append((exported, local))

    def _re_export(self, statement: Node) -> None:
        module = self._require(statement)
        self._remove(statement)
        for part in statement.children:
            if part.type == "*":
                self.setup.append(f"__mendel_star({module});")
            elif part.type == "namespace_export":
                self.exports.append((_name(part.named_children[-1]), module))
            elif part.type == "export_clause":
                for specifier in part.named_children:
                    imported, exported = _export_names(specifier)
                    self.exports.append((exported, f"{module}[{json.dumps(imported)}]"))

    def _default_value(self, statement: Node, value: Node) -> None:
        keyword = _ANONYMOUS_DEFAULTS.get(value.type)
        name = value.child_by_field_name("name")
        if keyword is not None and name is None:
            # `export default function () {}` stays a hoisted declaration, given a name.
            self.edits.append((statement.start_byte, value.start_byte, b""))
            after = next(c for c in value.children if c.type == keyword.decode())
            self.edits.append((after.end_byte, after.end_byte, f" {DEFAULT_LOCAL}".encode()))
            self.exports.append(("default", DEFAULT_LOCAL))
            return
        if keyword is not None and name is not None:
            self.edits.append((statement.start_byte, value.start_byte, b""))
            self.exports.append(("default", _text(name)))
            return
        self.edits.append((statement.start_byte, value.start_byte, f"const {DEFAULT_LOCAL}=".encode()))
        self.exports.append(("default", DEFAULT_LOCAL))

    # ---------------------------------------------------- references, errors

    def _check_and_rewrite(self, node: Node, active: dict[str, str], in_function: bool, binds_this: bool) -> None:
        """Rewrite references to imports and top-level `this` below `node`; refuse what a
        registry can't do. `active`: the imports not shadowed here; `binds_this`: inside a
        function or class body that has its own `this`."""
        for child in node.children:
            self._visit(child, active, in_function, binds_this)

    def _visit(self, child: Node, active: dict[str, str], in_function: bool, binds_this: bool) -> None:
        """One node of `_check_and_rewrite`'s walk."""
        if self.covered and any(start <= child.start_byte < end for start, end in self.covered):
            return
        kind = child.type
        if kind in ("import_statement",) or (kind == "export_statement" and child.child_by_field_name("source")):
            return
        if kind in jsx.ELEMENTS:
            self.edits.extend(jsx.element_edits(
                child, self.source, self.jsx, lambda inner: self._visit(inner, active, in_function, binds_this),
                lambda name, called: _bound_name(name, called, active), self.file,
            ))
            return
        if kind == "meta_property" and node_text(child).startswith(b"import"):
            raise self._error("`import.meta` is not supported in a bundled module", child)
        if not in_function and (kind == "await_expression" or (
            kind == "for_in_statement" and any(c.type == "await" for c in child.children)
        )):
            raise self._error("top-level `await` is not supported in a bundled module", child)
        if kind == "this" and not binds_this:
            # a module's top-level `this` is undefined (the registry calls it on `exports`)
            self.edits.append((child.start_byte, child.end_byte, b"(void 0)"))
            return
        if kind == "identifier" and active:
            self._reference(child, active)
            return
        if kind == "shorthand_property_identifier_pattern" and _text(child) in active:
            raise self._assignment_error(child)
        if kind == "shorthand_property_identifier" and node_text(child).decode() in active:
            name = _text(child)
            self.edits.append((child.start_byte, child.end_byte, f"{name}:{active[name]}".encode()))
            return
        if kind == "export_specifier":
            return
        inner = active
        if active and (kind in _FUNCTIONS or kind in _BLOCKS or kind in _LOOPS or kind == "catch_clause"):
            shadowed = _scope_names(child) & active.keys()
            if shadowed:
                inner = {k: v for k, v in active.items() if k not in shadowed}
        self._check_and_rewrite(
            child, inner, in_function or kind in _FUNCTIONS,
            binds_this or (kind in _FUNCTIONS and kind != "arrow_function") or kind == "class_body",
        )

    def _reference(self, node: Node, active: dict[str, str]) -> None:
        expression = active.get(_text(node))
        if expression is None:
            return
        if _is_assigned(node):
            raise self._assignment_error(node)
        parent = node.parent
        if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == node:
            expression = f"(0,{expression})"
        self.edits.append((node.start_byte, node.end_byte, expression.encode()))

    def _assignment_error(self, node: Node) -> BuildError:
        # A TypeError at run time in the spec; refused here, where the file and line are known.
        return self._error(f"assignment to the imported binding `{_text(node)}` (imports are read-only)", node)

    def _error(self, message: str, node: Node) -> BuildError:
        return BuildError(message, self.file, node.start_point.row + 1, node_column(self.source, node.start_byte))


_TARGET_PARENTS = frozenset(("array_pattern", "rest_pattern", "object_pattern", "update_expression"))
_TARGET_FIELDS = {  # parent kind -> the field that holds an assignment target
    "assignment_expression": "left", "augmented_assignment_expression": "left", "for_in_statement": "left",
    "assignment_pattern": "left", "object_assignment_pattern": "left", "pair_pattern": "value",
}


def _is_assigned(node: Node) -> bool:
    """Whether an identifier is written to: `a = 1`, `a += 1`, `a++`, `(a) = 1`, `for (a of x)`,
    `[a] = x`, `({ k: a } = x)` (a default value in a pattern is read, not written)."""
    child, parent = node, node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        child, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type in _TARGET_PARENTS:
        return True
    field = _TARGET_FIELDS.get(parent.type)
    return field is not None and parent.child_by_field_name(field) == child


def _bound_name(name: str, called: bool, active: dict[str, str]) -> str:
    """A JSX factory or fragment (`React.createElement`, `h`) read where it is used: its first
    part through the module's import bindings, when it is imported and not shadowed there."""
    head, dot, rest = name.partition(".")
    expression = active.get(head)
    if expression is None:
        return name
    if dot:
        return f"{expression}.{rest}"
    return f"(0,{expression})" if called else expression


def _apply(prologue: str, source: bytes, edits: list[tuple[int, int, bytes]]) -> Compiled:
    """`prologue` then `source` with `edits` (byte spans of `source`, with their new bytes)
    applied; each edit, and the prologue, reversed in code points of the result."""
    parts, position, length = [prologue], 0, len(prologue)
    original: list[Edit] = [(0, length, "")] if prologue else []
    for start, end, text in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        kept, written = source[position:start].decode("utf-8"), text.decode("utf-8")
        length += len(kept)
        original.append((length, length + len(written), source[start:end].decode("utf-8")))
        parts += (kept, written)
        length += len(written)
        position = end
    parts.append(source[position:].decode("utf-8"))
    return Compiled("".join(parts), tuple(original))


def _text(node: Node) -> str:
    return node_text(node).decode("utf-8")


def _name(node: Node) -> str:
    """An import/export name: an identifier, or a string literal (`export { a as "a-b" }`)."""
    return string_value(node) or "" if node.type == "string" else _text(node)


def _specifiers(statement: Node) -> Iterator[Node]:
    for part in statement.children:
        if part.type == "export_clause":
            yield from (c for c in part.named_children if c.type == "export_specifier")


def _export_names(specifier: Node) -> tuple[str, str]:
    name = _name(field(specifier, "name"))
    alias = specifier.child_by_field_name("alias")
    return name, _name(alias) if alias is not None else name


def _declared_names(declaration: Node) -> list[str]:
    if declaration.type in ("lexical_declaration", "variable_declaration"):
        names: list[str] = []
        for declarator in declaration.named_children:
            if declarator.type == "variable_declarator":
                names.extend(_pattern_names(declarator.child_by_field_name("name")))
        return names
    name = declaration.child_by_field_name("name")
    return [_text(name)] if name is not None else []


def _pattern_names(pattern: Node | None) -> Iterable[str]:
    if pattern is None:
        return
    kind = pattern.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        yield _text(pattern)
    elif kind == "pair_pattern":
        yield from _pattern_names(pattern.child_by_field_name("value"))
    elif kind in ("assignment_pattern", "object_assignment_pattern"):
        yield from _pattern_names(pattern.child_by_field_name("left"))
    elif kind in ("object_pattern", "array_pattern", "rest_pattern"):
        for child in pattern.named_children:
            yield from _pattern_names(child)


def _scope_names(node: Node) -> set[str]:
    """Names a scope node declares for its own body (what shadows an import inside it)."""
    names: set[str] = set()
    kind = node.type
    if kind in _FUNCTIONS:
        name = node.child_by_field_name("name") if kind in ("function_expression", "generator_function") else None
        if name is not None:
            names.add(_text(name))
        parameters = node.child_by_field_name("parameters") or node.child_by_field_name("parameter")
        if parameters is not None:
            if parameters.type == "identifier":
                names.add(_text(parameters))
            for parameter in parameters.named_children:
                names.update(_pattern_names(parameter))
        body = node.child_by_field_name("body")
        if body is not None:
            names.update(_var_names(body))
            names.update(_lexical_names(body))
    elif kind == "catch_clause":
        names.update(_pattern_names(node.child_by_field_name("parameter")))
    elif kind in _LOOPS:
        for child in node.children:
            if child.type == "lexical_declaration":
                names.update(_declared_names(child))
        left = node.child_by_field_name("left")
        if left is not None and any(c.type in ("let", "const") for c in node.children):
            names.update(_pattern_names(left))
    else:
        names.update(_lexical_names(node))
    return names


def _lexical_names(block: Node) -> set[str]:
    names: set[str] = set()
    for child in block.named_children:
        if child.type == "lexical_declaration" or child.type in _DECLARATIONS:
            names.update(_declared_names(child))
    return names


def _var_names(body: Node) -> set[str]:
    names: set[str] = set()
    stack = list(body.named_children)
    while stack:
        node = stack.pop()
        if node.type == "variable_declaration":
            names.update(_declared_names(node))
        elif node.type == "for_in_statement" and any(child.type == "var" for child in node.children):
            names.update(_pattern_names(node.child_by_field_name("left")))  # `for (var k in o)`
        if node.type not in _FUNCTIONS and node.type != "class_body":
            stack.extend(node.named_children)
    return names
