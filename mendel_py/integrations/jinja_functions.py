"""Mendel's template functions in a Jinja environment, at the cost of the calls a page makes.

Two costs Jinja would charge every render of every template (measured with callgrind, CPython
3.11, Jinja 3.1, on a page whose whole render is 66k instructions):

- **Globals are copied into each render's context** (through a ChainMap, a KeyError per name):
  about 4.9k instructions per global, 19k for Mendel's four, whether a template uses them or not.
  So the functions are not globals: `MendelContext`, the environment's context class, resolves
  them when a template looks a name up and finds nothing else (a render's variables and the
  app's globals come first, as before). They are not entries of ``environment.globals``: a dict
  subclass that answered for them there (measured) made the copy 6k instructions slower, a
  third of what leaving them out saves. An environment with its own context class gets them
  as globals instead (install Mendel after setting one: a context class set later has the
  compiled calls, not the names).
- **A call of a global**, ``{{ mendel_script("main") }}``, compiles to ``context.call(f, ...)``:
  the name resolved in every render, then Jinja's checks of the object for ``pass_context``:
  about 18k instructions, against 7.5k for a filter, which compiles to a direct call of the
  function the template bound when it was loaded. So `MendelCalls` rewrites, when a template is
  compiled, each call of a Mendel function in an output block, ``mendel_script(FIRST, REST)``,
  to ``((FIRST)|_mendel_script(REST))``. The filters take the template's context first
  (``pass_context``), which also keeps Jinja from calling them at compile time when their
  arguments are constants: a tag belongs to a request, never to a template. Every other use (a
  bare reference, a call with no positional argument) resolves the name as above; a template
  that mentions a Mendel name any other way (in a ``{% %}`` block, after a dot, as a filter or
  test) is compiled as written, since a block could rebind the name.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import Context
from jinja2.utils import missing

FILTER_PREFIX = "_"
"""A Mendel function's filter is its name with this prefix (``_mendel_script``): out of the way of
an app's own filters, and not meant to be written in templates."""


class MendelCalls(Extension):
    """Compiles calls of the environment's Mendel functions to calls of their filters (above)."""

    def __init__(self, environment: Environment):
        super().__init__(environment)
        self.names: frozenset[str] = frozenset()
        """The Mendel functions with filters in this environment (`install_template_functions`)."""

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        names = self.names
        tokens = list(stream)
        if not names or not any(token.type == "name" and token.value in names for token in tokens):
            return tokens
        replaced = _rewritten_calls(tokens, names)
        return tokens if replaced is None else replaced


def _rewritten_calls(tokens: list[Token], names: frozenset[str]) -> list[Token] | None:
    """`tokens` with every rewritable call of `names` rewritten; None to compile them as written
    (a Mendel name used otherwise than called in an output block)."""
    # index of a token -> what replaces it (the rewrite only swaps and adds punctuation, so the
    # calls nested in another's arguments are rewritten by their own entries)
    swaps: dict[int, list[Token]] = {}
    in_output = False
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "variable_begin":
            in_output = True
        elif kind == "variable_end":
            in_output = False
        if kind != "name" or token.value not in names:
            continue
        before = tokens[index - 1].type if index else None
        if not in_output or before in ("dot", "pipe") or (before == "name" and tokens[index - 1].value == "is"):
            return None  # (a block may rebind it; an attribute, filter or test of that name is another thing)
        if index + 1 >= len(tokens) or tokens[index + 1].type != "lparen":
            continue  # a bare reference: the global
        call = _call_shape(tokens, index + 1)
        if call is None:
            continue  # no first positional argument: the global
        first_end, close = call
        line = token.lineno
        swaps[index] = [Token(line, "lparen", "(")]
        swaps[index + 1] = [Token(line, "lparen", "(")]
        after = [Token(line, "rparen", ")"), Token(line, "pipe", "|"), Token(line, "name", FILTER_PREFIX + token.value)]
        if first_end == close:  # f(FIRST) -> ((FIRST)|_f)
            swaps[close] = [*after, Token(line, "rparen", ")")]
        else:  # f(FIRST, REST) -> ((FIRST)|_f(REST))
            swaps[first_end] = [*after, Token(line, "lparen", "(")]
            swaps[close] = [Token(line, "rparen", ")"), Token(line, "rparen", ")")]
    if not swaps:
        return None
    out: list[Token] = []
    for index, token in enumerate(tokens):
        replacement = swaps.get(index)
        if replacement is None:
            out.append(token)
        else:
            out.extend(replacement)
    return out


_OPENING = frozenset(("lparen", "lbracket", "lbrace"))
_CLOSING = frozenset(("rparen", "rbracket", "rbrace"))


def _call_shape(tokens: list[Token], open_index: int) -> tuple[int, int] | None:
    """For the call whose ``(`` is at `open_index`: the index of the comma or ``)`` that ends its
    first argument, and of its ``)``; None when it has no first positional argument (no
    arguments, a keyword first, ``*args``) or is not closed in this block."""
    first = tokens[open_index + 1] if open_index + 1 < len(tokens) else None
    if first is None or first.type in ("rparen", "mul", "pow", "variable_end"):
        return None
    if first.type == "name" and open_index + 2 < len(tokens) and tokens[open_index + 2].type == "assign":
        return None
    depth = 0
    first_end: int | None = None
    for index in range(open_index + 1, len(tokens)):
        kind = tokens[index].type
        if kind in _OPENING:
            depth += 1
        elif kind in _CLOSING:
            if depth == 0:
                return (index if first_end is None else first_end), index
            depth -= 1
        elif kind == "comma" and depth == 0 and first_end is None:
            first_end = index
        elif kind == "variable_end":
            return None
    return None


class MendelContext(Context):
    """A template context that resolves Mendel's functions after everything else (above); the
    environment's own subclass of this carries them (`install_template_functions`)."""

    functions: ClassVar[dict[str, Callable[..., Any]]] = {}

    def resolve_or_missing(self, key: str) -> Any:
        # (Jinja's own lookup, then the functions: a super() call would cost every name of every
        # template one more frame)
        if key in self.vars:
            return self.vars[key]
        if key in self.parent:
            return self.parent[key]
        return self.functions.get(key, missing)


def install_template_functions(
    environment: Environment, functions: Mapping[str, Callable[..., Any]], filters: Mapping[str, Callable[..., Any]]
) -> None:
    """Give `environment` Mendel's template `functions` (resolved by its context class, or as
    globals where it has a context class of its own) and `filters` (the same functions taking the
    template's context first, `jinja2.pass_context`), which their calls compile to. Templates
    compiled before this are compiled as they were."""
    if set(functions) != set(filters):
        raise ValueError(f"template functions and filters differ: {sorted(set(functions) ^ set(filters))}")
    context_class = environment.context_class
    if context_class is Context:
        context_class = environment.context_class = type("MendelContext", (MendelContext,), {"functions": {}})
    if issubclass(context_class, MendelContext):
        context_class.functions.update(functions)
    else:
        environment.globals.update(functions)
    environment.filters.update({FILTER_PREFIX + name: function for name, function in filters.items()})
    extension = environment.extensions.get(_EXTENSION_KEY)
    if extension is None:
        environment.add_extension(MendelCalls)
        extension = environment.extensions[_EXTENSION_KEY]
    assert isinstance(extension, MendelCalls)
    extension.names = extension.names | frozenset(filters)


_EXTENSION_KEY = f"{MendelCalls.__module__}.{MendelCalls.__qualname__}"
