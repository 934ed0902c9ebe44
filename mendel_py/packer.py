"""Turn a resolved Tree into the bytes served for it: one JS script, or concatenated CSS.

The JS output follows browser-pack's semantics (``hasExports`` mode) with a prelude written for
this project: every module is ``function(require, module, exports){...}``; entries run in order;
exposed modules are reachable by their public name through a global ``require`` that chains to any
``require`` defined earlier on the page, so several bundles cooperate. Module ids are renumbered
(``1..n``, or the expose name), so no file path or variation folder reaches the output.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# The registry prelude. Called as PRELUDE(defs, entries, previousRequire) where defs is a list of
# [id, factory, depsMap]; it returns the new global require.
JS_PRELUDE = (
    "(function(defs,entries,prev){"
    "var own=Object.prototype.hasOwnProperty,mods=Object.create(null),cache=Object.create(null),i;"
    "for(i=0;i<defs.length;i++)mods[defs[i][0]]=defs[i];"
    "function req(name,jumped){"
    "if(own.call(cache,name))return cache[name].exports;"
    "var def=mods[name];"
    "if(!def){"
    'var cur=typeof require=="function"&&require;'
    "if(!jumped&&cur&&cur!==req)return cur(name,true);"
    "if(prev)return prev(name,true);"
    "var err=new Error(\"Cannot find module '\"+name+\"'\");"
    'err.code="MODULE_NOT_FOUND";throw err}'
    "var m=cache[name]={exports:{}},deps=def[2];"
    "def[1].call(m.exports,function(x){var to=own.call(deps,x)&&deps[x];return req(to?to:x)},"
    "m,m.exports);"
    "return m.exports}"
    "for(i=0;i<entries.length;i++)req(entries[i]);"
    "return req})"
)

_SOURCE_MAP_COMMENT = re.compile(r"^\s*//[#@]\s*source(?:Mapping)?URL=.*$", re.MULTILINE)
_SOURCE_MAP_BLOCK = re.compile(r"/\*[#@]\s*source(?:Mapping)?URL=[\s\S]*?\*/")


class ModuleLike(Protocol):
    """The parts of a manifest.Module the packer reads."""

    id: str
    index: int
    entry: bool
    expose: str | None
    order: float | None


class TreeLike(Protocol):
    """The parts of a trees.Tree the packer reads."""

    files: Sequence[Mapping[str, Any]]
    modules: Sequence[ModuleLike]


def pack_js(tree: TreeLike) -> bytes:
    """One self-contained script for the tree's modules, in the tree's (manifest index) order."""
    pairs = _present_pairs(tree)
    public_ids = _public_ids(pair[1] for pair in pairs)
    defs = ",".join(_module_def(dep, info, public_ids) for dep, info in pairs)
    entries = ",".join(_js_literal(public_ids[info.id]) for info in _entries_in_run_order(pairs))
    script = f'require={JS_PRELUDE}([{defs}],[{entries}],typeof require=="function"&&require);\n'
    return script.encode("utf-8")


def pack_css(tree: TreeLike) -> bytes:
    """The sources by `order` (unordered last), then manifest index; a "\\n" after each."""
    pairs = sorted(_present_pairs(tree), key=lambda pair: _order_key(pair[1]))
    return "".join(f"{dep['source']}\n" for dep, _info in pairs).encode("utf-8")


def _present_pairs(tree: TreeLike) -> list[tuple[Mapping[str, Any], ModuleLike]]:
    """(dep, module info) for every resolved module; holes (None) are skipped as Mendel does."""
    return [(dep, info) for dep, info in zip(tree.files, tree.modules) if dep and info]


def _public_ids(infos: Any) -> dict[str, int | str]:
    """Module id -> id used in the output: the expose name, else the next free number from 1."""
    infos = list(infos)
    exposed = {info.expose for info in infos if info.expose}
    public: dict[str, int | str] = {}
    number = 0
    for info in infos:
        if info.expose:
            public[info.id] = info.expose
            continue
        number += 1
        while str(number) in exposed:
            number += 1
        public[info.id] = number
    return public


def _module_def(dep: Mapping[str, Any], info: ModuleLike, public_ids: dict[str, int | str]) -> str:
    """`[id,function(require,module,exports){source\\n},{deps}]` for one module."""
    source = _strip_source_map_comments(str(dep.get("source") or ""))
    deps = _renumbered_deps(dep.get("deps") or {}, public_ids)
    return (
        f"[{_js_literal(public_ids[info.id])},function(require,module,exports){{\n"
        f"{source}\n}},{deps}]"
    )


def _renumbered_deps(deps: Mapping[str, Any], public_ids: dict[str, int | str]) -> str:
    """The deps map with module ids replaced by public ids; anything not in the bundle is false."""
    items = (
        f"{_js_literal(specifier)}:{_js_literal(_public_target(target, public_ids))}"
        for specifier, target in sorted(deps.items())
    )
    return "{" + ",".join(items) + "}"


def _public_target(target: Any, public_ids: dict[str, int | str]) -> int | str | bool:
    """A dep's id in the output; false (external) for false and for modules not in the bundle."""
    return public_ids.get(target, False) if isinstance(target, str) else False


def _entries_in_run_order(pairs: list[tuple[Mapping[str, Any], ModuleLike]]) -> list[ModuleLike]:
    """Entry modules: those with an explicit `order` first (by order), then by manifest index."""
    entries = [info for _dep, info in pairs if info.entry]
    return sorted(entries, key=_order_key)


def _order_key(info: ModuleLike) -> tuple[bool, float, int]:
    """Sort key: modules with an `order` first, by it; then manifest index."""
    order = info.order
    return (order is None, float(order) if order is not None else 0.0, info.index)


def _js_literal(value: int | str | bool) -> str:
    """A JSON literal that is also safe inside a JS script (U+2028/9 and `</` escaped)."""
    return json.dumps(value, ensure_ascii=True).replace("</", "<\\/")


def _strip_source_map_comments(source: str) -> str:
    """Drop sourceMappingURL comments: they name files, which must not reach the output."""
    if "sourceMappingURL" not in source and "sourceURL" not in source:
        return source
    return _SOURCE_MAP_BLOCK.sub("", _SOURCE_MAP_COMMENT.sub("", source))
