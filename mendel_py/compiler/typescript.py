"""TypeScript and TSX (`.ts .tsx .mts .cts`) into JavaScript, by erasing types where they stand.

The file is parsed with tree-sitter's TypeScript (or TSX) grammar. Every piece of type syntax is
replaced by as many spaces as it has characters (its newlines kept): annotations, type
parameters and arguments, `as` / `satisfies` clauses, the non-null `!`, optional `?` markers,
interfaces, type aliases, `declare`d things, overload signatures, `implements`, access
modifiers, `readonly`, `abstract` and `override`. So every other token keeps its line and column
(the approach of Node's type stripping) and the JavaScript that comes out goes on through the
same compiler as a `.js` file (ES modules, JSX). What TypeScript turns into code is compiled as
`tsc` emits it, written in place of the declaration it comes from (lines kept):

- `enum` (also `const enum`, which compiles like an enum: there is no cross-file inlining):
  `var E;(function(E){E[E["A"]=0]="A";E["S"]="s";})(E||(E={}));` -- numeric members get the
  reverse mapping, string members don't, members without an initializer count on from the
  previous one, and an initializer may name earlier members;
- parameter properties (`constructor(private x: number)`): `this.x=x;` at the start of the
  constructor body, after the `super(...)` call in a derived class;
- namespaces holding values: `var N;(function(N){...; N.a=a;})(N||(N={}));`, each exported
  declaration copied onto the namespace after it (a later reassignment of an exported `let`
  inside the namespace is not seen through `N.a`); type-only namespaces are erased.

`import type`, `export type`, type-only specifiers, and imports whose bindings are used only as
types are removed, as `tsc` and esbuild do (so a module imported only for its types is not
loaded). Decorators, `import x = require()` and `export =` are build errors naming file and line.
Nothing type-checks: that is `tsc --noEmit`'s job.

The result is the JavaScript bytes and the forward edits `(start, end, text)` in code points of
the file; `sources.py` keeps them reversed, composed with the later steps' (`edits.py`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

from .errors import BuildError
from .treesitter import first_error, to_code_points

TS_EXTENSIONS = (".ts", ".tsx", ".mts", ".cts")

_ERASED = frozenset((
    "type_annotation", "type_parameters", "type_arguments", "asserts_annotation", "type_predicate_annotation",
    "opting_type_annotation", "omitting_type_annotation", "adding_type_annotation", "interface_declaration",
    "type_alias_declaration", "ambient_declaration", "function_signature", "method_signature",
    "abstract_method_signature", "index_signature", "accessibility_modifier", "override_modifier",
    "implements_clause",
))
_TYPE_DECLARATIONS = frozenset((
    "interface_declaration", "type_alias_declaration", "ambient_declaration", "function_signature",
))
_MODIFIER_TOKENS = frozenset(("readonly", "abstract", "declare"))
_OPTIONAL_PARENTS = frozenset((
    "optional_parameter", "public_field_definition", "method_definition", "variable_declarator",
))
_NAMESPACES = frozenset(("internal_module", "module"))
_PRAGMA_NAME = re.compile(r"@jsx(?:Frag)?[ \t\r\n]+([A-Za-z_$][\w$]*)")

Edits = list[tuple[int, int, str]]


def is_typescript(file: str) -> bool:
    return file.endswith(TS_EXTENSIONS)


@lru_cache(maxsize=2)
def _language(tsx: bool) -> Language:
    return Language(tree_sitter_typescript.language_tsx() if tsx else tree_sitter_typescript.language_typescript())


def strip(text: str, file: str, jsx_names: Iterable[str] = ("React",)) -> tuple[str, Edits]:
    """The JavaScript of the TypeScript file `text`, and the forward edits that made it (code
    point offsets of `text`). `jsx_names`: the roots of the JSX factory and fragment, whose
    imports a file with JSX uses without naming them."""
    source = text.encode("utf-8")
    tree = Parser(_language(file.endswith(".tsx"))).parse(source)
    root = tree.root_node
    if root.has_error:
        node = first_error(root) or root
        what = f"missing {node.type}" if node.is_missing else "syntax error"
        raise BuildError(what, file, node.start_point.row + 1)
    stripper = _Stripper(source, text, file)
    stripper.run(root, frozenset(jsx_names))
    edits = sorted(stripper.edits, key=lambda edit: (edit[0], edit[1]))
    if not text.isascii():
        edits = to_code_points(source, edits)
    else:
        edits = [(start, end, new) for start, end, new in edits]
    out: list[str] = []
    position = 0
    for start, end, new in edits:
        out.append(text[position:start])
        out.append(new)
        position = end
    out.append(text[position:])
    return "".join(out), edits


class _Stripper:
    def __init__(self, source: bytes, text: str, file: str):
        self.source = source
        self.text = text
        self.file = file
        self.edits: list[tuple[int, int, str]] = []  # byte offsets until `strip` converts them
        self.used: set[str] = set()  # names read as values outside imports
        self.type_names: set[str] = set()
        self.has_jsx = False

    # ----------------------------------------------------------------- output

    def _slice(self, start: int, end: int) -> str:
        return self.source[start:end].decode("utf-8")

    def blank(self, start: int, end: int) -> None:
        """Replace the span by spaces, its line breaks kept (one space per character)."""
        if end > start:
            self.edits.append((start, end, re.sub(r"[^\r\n]", " ", self._slice(start, end))))

    def erase(self, node: Node) -> None:
        self.blank(node.start_byte, node.end_byte)

    def write(self, start: int, end: int, code: str) -> None:
        """`code` in place of the span, followed by the span's line breaks."""
        breaks = self._slice(start, end).count("\n")
        self.edits.append((start, end, code + "\n" * breaks))

    def insert(self, position: int, code: str) -> None:
        self.edits.append((position, position, code))

    def error(self, message: str, node: Node) -> BuildError:
        return BuildError(message, self.file, node.start_point.row + 1)

    # ------------------------------------------------------------------ walk

    def run(self, root: Node, jsx_names: frozenset[str]) -> None:
        for statement in root.children:
            declaration = _export_declaration(statement) if statement.type == "export_statement" else statement
            if declaration is not None and declaration.type in ("interface_declaration", "type_alias_declaration"):
                name = declaration.child_by_field_name("name")
                if name is not None:
                    self.type_names.add(self._slice(name.start_byte, name.end_byte))
        imports = []
        for statement in root.children:
            if statement.type == "import_statement":
                imports.append(statement)
            else:
                self.visit(statement)
        if self.has_jsx:
            self.used.update(jsx_names)
            self.used.update(_PRAGMA_NAME.findall(self.text))
        for statement in imports:
            self._import(statement)

    def visit(self, node: Node) -> None:
        """Walk `node`: erase, hand to a handler, or go on into its children (with a stack, not
        recursion, so a long expression chain can't exhaust Python's call depth)."""
        stack = [node]
        while stack:
            node = stack.pop()
            kind = node.type
            if kind in _ERASED:
                self.erase(node)
                continue
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, node)
                continue
            if kind == "identifier" or kind == "shorthand_property_identifier":
                self.used.add(self._slice(node.start_byte, node.end_byte))
                continue
            if kind in ("jsx_element", "jsx_self_closing_element"):
                self.has_jsx = True
            if kind == "decorator":
                raise self.error("decorators are not supported (TypeScript's or the proposal's)", node)
            stack.extend(reversed(node.children))

    def children(self, node: Node) -> None:
        for child in node.children:
            self.visit(child)

    # ------------------------------------------------------------- statements

    def _import(self, statement: Node) -> None:
        if any(child.type == "import_require_clause" for child in statement.children):
            raise self.error("`import x = require(...)` is not supported: use `import x from`", statement)
        if any(child.type == "type" for child in statement.children):
            self.erase(statement)
            return
        clause = next((child for child in statement.children if child.type == "import_clause"), None)
        if clause is None:
            return  # `import "./x"`: for its effects
        bindings = 0
        kept = 0
        for part in clause.children:
            if part.type == "identifier":
                bindings += 1
                kept += self._slice(part.start_byte, part.end_byte) in self.used
            elif part.type == "namespace_import":
                bindings += 1
                name = part.named_children[-1]
                kept += self._slice(name.start_byte, name.end_byte) in self.used
            elif part.type == "named_imports":
                specifiers = [child for child in part.named_children if child.type == "import_specifier"]
                for specifier in specifiers:
                    bindings += 1
                    local = specifier.child_by_field_name("alias") or specifier.child_by_field_name("name")
                    is_type = any(child.type == "type" for child in specifier.children)
                    if is_type or local is None or self._slice(local.start_byte, local.end_byte) not in self.used:
                        self._erase_listed(specifier)
                    else:
                        kept += 1
        if bindings and not kept:
            self.edits = [edit for edit in self.edits if not statement.start_byte <= edit[0] < statement.end_byte]
            self.erase(statement)

    def _erase_listed(self, item: Node) -> None:
        """Erase a specifier and the comma after it."""
        after = item.next_sibling
        end = after.end_byte if after is not None and after.type == "," else item.end_byte
        self.blank(item.start_byte, end)

    def _export(self, node: Node) -> None:
        children = node.children
        if len(children) > 1 and children[1].type == "=":
            raise self.error("`export =` is not supported: use `export default`", node)
        if any(child.type == "type" for child in children) or any(
            child.type in _TYPE_DECLARATIONS for child in children
        ) or (len(children) > 1 and children[1].type == "as"):  # `export as namespace X`
            self.erase(node)
            return
        declaration = _export_declaration(node)
        if declaration is not None and declaration.type in _NAMESPACES and not _has_values(declaration):
            self.erase(node)
            return
        local = node.child_by_field_name("source") is None
        for child in children:
            if child.type == "export_clause":
                for specifier in child.named_children:
                    if specifier.type != "export_specifier":
                        continue
                    name = specifier.child_by_field_name("name")
                    text = self._slice(name.start_byte, name.end_byte) if name is not None else ""
                    if any(part.type == "type" for part in specifier.children) or (local and text in self.type_names):
                        self._erase_listed(specifier)
                    elif local:
                        self.used.add(text)
            else:
                self.visit(child)

    def _expression_statement(self, node: Node) -> None:
        inner = node.named_children[0] if node.named_children else None
        if inner is not None and inner.type in _NAMESPACES and not _has_values(inner):
            self.erase(node)
            return
        self.children(node)

    # ---------------------------------------------------------- declarations

    def _class_member(self, node: Node) -> None:
        if any(child.type in ("declare", "abstract") for child in node.children):
            self.erase(node)  # no value at run time
            return
        self._marked(node)

    def _marked(self, node: Node) -> None:
        """A node whose `?`, `!` and modifier tokens are types (fields, methods, parameters)."""
        optional = node.type in _OPTIONAL_PARENTS
        self._erasing(node, lambda child: child.type in _MODIFIER_TOKENS or (optional and child.type in ("?", "!")))

    def _abstract_class(self, node: Node) -> None:
        self._erasing(node, lambda child: child.type == "abstract")

    def _non_null(self, node: Node) -> None:
        last = node.children[-1] if node.children else None
        self._erasing(node, lambda child: child == last and child.type == "!")

    def _cast(self, node: Node) -> None:
        """`x as T`, `x satisfies T`: the expression stays, the rest is type."""
        expression = node.children[0]
        self.visit(expression)
        self.blank(expression.end_byte, node.end_byte)

    def _type_assertion(self, node: Node) -> None:
        """`<T>x`."""
        self._erasing(node, lambda child: child.type == "type_arguments")

    def _erasing(self, node: Node, is_type: Callable[[Node], bool]) -> None:
        """Erase the children of `node` that `is_type` picks; visit the others."""
        for child in node.children:
            if is_type(child):
                self.erase(child)
            else:
                self.visit(child)

    def _parameter(self, node: Node) -> None:
        first = node.children[0] if node.children else None
        if first is not None and first.type == "this":  # `this: T`, a type only
            self._erase_listed(node)
            return
        self._marked(node)

    def _method(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        if name is None or self._slice(name.start_byte, name.end_byte) != "constructor":
            self._marked(node)
            return
        assigned: list[str] = []
        parameters = node.child_by_field_name("parameters")
        for parameter in parameters.named_children if parameters is not None else ():
            if any(child.type in ("accessibility_modifier", "readonly", "override_modifier")
                   for child in parameter.children):
                pattern = parameter.child_by_field_name("pattern")
                if pattern is None or pattern.type != "identifier":
                    raise self.error("a parameter property must be a plain name", parameter)
                assigned.append(self._slice(pattern.start_byte, pattern.end_byte))
        self._marked(node)
        body = node.child_by_field_name("body")
        if not assigned or body is None:
            return
        position = body.children[0].end_byte
        for statement in body.named_children:
            call = statement.named_children[0] if statement.type == "expression_statement" else None
            is_call = call is not None and call.type == "call_expression"
            callee = call.child_by_field_name("function") if call is not None and is_call else None
            if callee is not None and callee.type == "super":
                position = statement.end_byte
                break
        # (after a statement that ended without a semicolon, one comes first)
        lead = ";" if self.source[position - 1:position] not in (b";", b"{", b"}") else ""
        self.insert(position, lead + "".join(f"this.{name}={name};" for name in assigned))

    def _enum(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            raise self.error("an enum needs a name and a body", node)
        name = self._slice(name_node.start_byte, name_node.end_byte)
        opening = body.children[0]
        self.write(node.start_byte, opening.end_byte, f"var {name};(function({name}){{")
        members: set[str] = set()
        previous: str | None = None  # the previous member's key
        auto: int | None = 0  # the next member's value when it has no initializer, if known
        for member in body.children[1:-1]:
            if member.type == ",":
                self.erase(member)
                continue
            if member.type == "comment":
                continue
            key_node = member.child_by_field_name("name") if member.type == "enum_assignment" else member
            if key_node is None:
                raise self.error("an enum member needs a name", member)
            key_text = self._slice(key_node.start_byte, key_node.end_byte)
            member_name = json.loads(key_text) if key_node.type == "string" and key_text[0] == '"' else (
                key_text[1:-1] if key_node.type == "string" else key_text
            )
            key = json.dumps(member_name)
            value = member.child_by_field_name("value") if member.type == "enum_assignment" else None
            if value is None:
                if auto is None:
                    number = f"{name}[{json.dumps(previous)}]+1" if previous is not None else "0"
                else:
                    number = str(auto)
                self.write(member.start_byte, member.end_byte, f"{name}[{name}[{key}]={number}]={key};")
                auto = auto + 1 if auto is not None else None
            else:
                string = value.type in ("string", "template_string")
                opening_code = f"{name}[{key}]=" if string else f"{name}[{name}[{key}]="
                self.write(member.start_byte, value.start_byte, opening_code)
                self._member_value(value, name, members)
                self.insert(value.end_byte, ";" if string else f"]={key};")
                auto = _integer(self._slice(value.start_byte, value.end_byte))
                auto = auto + 1 if auto is not None else None
            members.add(member_name)
            previous = member_name
        closing = body.children[-1]
        self.write(closing.start_byte, closing.end_byte, f"}})({name}||({name}={{}}));")

    def _member_value(self, node: Node, enum: str, members: set[str]) -> None:
        """An enum initializer: names of earlier members read them from the enum."""
        if node.type == "identifier":
            text = self._slice(node.start_byte, node.end_byte)
            if text in members:
                self.write(node.start_byte, node.end_byte, f"{enum}.{text}")
            else:
                self.used.add(text)
            return
        if node.type in _ERASED or node.type in _HANDLERS:
            self.visit(node)
            return
        for child in node.children:
            self._member_value(child, enum, members)

    def _namespace(self, node: Node) -> None:
        if not _has_values(node):
            self.erase(node)
            return
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            raise self.error("a namespace needs a name and a body", node)
        if name_node.type != "identifier":
            raise self.error("dotted namespace names are not supported: nest the namespaces", node)
        name = self._slice(name_node.start_byte, name_node.end_byte)
        self.write(node.start_byte, body.children[0].end_byte, f"var {name};(function({name}){{")
        for statement in body.children[1:-1]:
            declaration = _export_declaration(statement) if statement.type == "export_statement" else None
            if declaration is None or any(child.type in _TYPE_DECLARATIONS for child in statement.children):
                self.visit(statement)
                continue
            self.blank(statement.start_byte, declaration.start_byte)
            self.visit(declaration)
            names = _declared(declaration)
            end = declaration.end_byte
            lead = ";" if self.source[end - 1:end] not in (b";", b"}") else ""
            self.insert(end, lead + "".join(f"{name}.{local}={local};" for local in names))
        closing = body.children[-1]
        self.write(closing.start_byte, closing.end_byte, f"}})({name}||({name}={{}}));")


_HANDLERS = {
    "export_statement": _Stripper._export,
    "expression_statement": _Stripper._expression_statement,
    "public_field_definition": _Stripper._class_member,
    "abstract_class_declaration": _Stripper._abstract_class,
    "non_null_expression": _Stripper._non_null,
    "as_expression": _Stripper._cast,
    "satisfies_expression": _Stripper._cast,
    "type_assertion": _Stripper._type_assertion,
    "required_parameter": _Stripper._parameter,
    "optional_parameter": _Stripper._parameter,
    "method_definition": _Stripper._method,
    "variable_declarator": _Stripper._marked,
    "enum_declaration": _Stripper._enum,
    "internal_module": _Stripper._namespace,
    "module": _Stripper._namespace,
}


def _export_declaration(statement: Node) -> Node | None:
    declaration = statement.child_by_field_name("declaration")
    if declaration is not None:
        return declaration
    return next((child for child in statement.named_children if child.type in _TYPE_DECLARATIONS), None)


def _has_values(namespace: Node) -> bool:
    """Whether a namespace declares anything that exists at run time."""
    body = namespace.child_by_field_name("body")
    for statement in body.named_children if body is not None else ():
        inner = statement
        if statement.type == "export_statement":
            found = _export_declaration(statement)
            if found is None:
                return True
            inner = found
        if inner.type == "expression_statement" and inner.named_children:
            inner = inner.named_children[0]
        if inner.type in _NAMESPACES:
            if _has_values(inner):
                return True
        elif inner.type not in _TYPE_DECLARATIONS and inner.type != "comment":
            return True
    return False


def _declared(declaration: Node) -> list[str]:
    """The names an exported declaration in a namespace binds."""
    def name_of(node: Node) -> str:
        return node.text.decode("utf-8") if node.text is not None else ""

    if declaration.type in ("lexical_declaration", "variable_declaration"):
        names: list[str] = []
        for declarator in declaration.named_children:
            if declarator.type == "variable_declarator":
                pattern = declarator.child_by_field_name("name")
                if pattern is not None:
                    names.extend(_pattern_names(pattern))
        return names
    inner = declaration.named_children[0] if declaration.type == "expression_statement" else declaration
    name = inner.child_by_field_name("name")
    return [name_of(name)] if name is not None else []


def _pattern_names(pattern: Node) -> list[str]:
    out: list[str] = []
    stack = [pattern]
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "shorthand_property_identifier_pattern"):
            out.append(node.text.decode("utf-8") if node.text is not None else "")
        elif node.type == "pair_pattern":
            value = node.child_by_field_name("value")
            if value is not None:
                stack.append(value)
        elif node.type in ("assignment_pattern", "object_assignment_pattern"):
            left = node.child_by_field_name("left")
            if left is not None:
                stack.append(left)
        elif node.type in ("object_pattern", "array_pattern", "rest_pattern"):
            stack.extend(reversed(node.named_children))
    return out


def _integer(text: str) -> int | None:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return None

