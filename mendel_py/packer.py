"""Turn a resolved Tree into the bytes served for it: one JS script, or concatenated CSS.

The JS output follows browser-pack's semantics (``hasExports`` mode) with a prelude written for
this project: every module is ``function(require, module, exports){...}``; entries run in order;
exposed modules are reachable by their public name through a global ``require`` that chains to any
``require`` defined earlier on the page, so several bundles cooperate. Module ids are numbers (or
the expose name), so no file path or variation folder reaches the output.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .manifest import Manifest, Module

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


class TreeLike(Protocol):
    """What the packer reads of a tree (a `trees.Tree`): its manifest and which entries it took."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def selection(self) -> Sequence[tuple[int, int]]:
        """(module index, entry index) of every module of the tree, in manifest index order."""
        ...


def pack_js(tree: TreeLike) -> bytes:
    """One self-contained script for the tree's modules, in the tree's (manifest index) order."""
    return packer_for(tree.manifest).js(tree.selection)


def pack_css(tree: TreeLike) -> bytes:
    """The sources by `order` (unordered last), then manifest index; a "\\n" after each."""
    return packer_for(tree.manifest).css(tree.selection)


def packer_for(manifest: Manifest) -> ManifestPacker:
    """The manifest's packer, made once and kept with the manifest (so it goes when it goes)."""
    found = manifest.memo.get(_MEMO_KEY)
    if found is None:
        with _MEMO_LOCK:
            found = manifest.memo.setdefault(_MEMO_KEY, ManifestPacker(manifest))
    return found


class ManifestPacker:
    """Everything about packing that doesn't depend on the tree, computed once per manifest.

    Public module ids are fixed per manifest: a module's expose name, else the next number from 1
    in manifest index order that no expose name takes. So a module's whole definition --
    ``[id,function(require,module,exports){source\\n},{deps}]`` with its dependency targets already
    renumbered -- is the same in every tree: it is made once (on first use) and a bundle is a join
    of ready pieces plus the list of entries. The bytes for a hash are a function of the manifest,
    so every process serving one manifest (one deploy) produces the same bytes.
    """

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        modules = manifest.modules
        self.public_ids = _public_ids(modules)
        self._texts = [_js_literal(public) for public in self.public_ids]
        self._literals = [text.encode("ascii") for text in self._texts]
        self._js: list[list[bytes | None]] = [[None] * len(m.entries) for m in modules]
        self._css: list[list[bytes | None]] = [[None] * len(m.entries) for m in modules]
        self._run_order = tuple(m.index for m in sorted(modules, key=_order_key) if m.entry)
        self._order_keys = [_order_key(m) for m in modules]

    def js(self, selection: Sequence[tuple[int, int]]) -> bytes:
        """The script for the modules of `selection` ((module, entry) in manifest index order)."""
        pieces = self._js
        defs = [pieces[m][j] or self._js_piece(m, j) for m, j in selection]
        present = bytearray(len(pieces))
        for m, _j in selection:
            present[m] = 1
        literals = self._literals
        entries = b",".join([literals[m] for m in self._run_order if present[m]])
        return b"".join((_JS_HEAD, b",".join(defs), b"],[", entries, _JS_TAIL))

    def css(self, selection: Sequence[tuple[int, int]]) -> bytes:
        """The stylesheet: sources by `order` (unordered last), then manifest index."""
        keys = self._order_keys
        ordered = sorted(selection, key=lambda pair: keys[pair[0]])
        pieces = self._css
        return b"".join([pieces[m][j] or self._css_piece(m, j) for m, j in ordered])

    def prepare(self) -> None:
        """Make every piece now (e.g. in a pre-forking server's master, shared after fork)."""
        for m, module in enumerate(self.manifest.modules):
            for j in range(len(module.entries)):
                self._js_piece(m, j)

    def _js_piece(self, m: int, j: int) -> bytes:
        entry = self.manifest.modules[m].entries[j]
        source = _strip_source_map_comments(str(entry.get("source") or ""))
        piece = (
            f"[{self._texts[m]},function(require,module,exports){{\n"
            f"{source}\n}},{self._deps_literal(entry.get('deps') or {})}]"
        ).encode("utf-8")
        self._js[m][j] = piece  # a race only computes the same bytes twice
        return piece

    def _css_piece(self, m: int, j: int) -> bytes:
        piece = f"{self.manifest.modules[m].entries[j]['source']}\n".encode("utf-8")
        self._css[m][j] = piece
        return piece

    def _deps_literal(self, deps: Mapping[str, Any]) -> str:
        """The deps map with module ids replaced by public ids; false stays false (external)."""
        indexes, texts = self.manifest.indexes, self._texts
        items = (
            f"{_js_literal(specifier)}:{texts[indexes[target]] if isinstance(target, str) else 'false'}"
            for specifier, target in sorted(deps.items())
        )
        return "{" + ",".join(items) + "}"


_MEMO_KEY = "packer"
_MEMO_LOCK = threading.Lock()
_JS_HEAD = f"require={JS_PRELUDE}([".encode("ascii")
_JS_TAIL = b'],typeof require=="function"&&require);\n'


def _public_ids(modules: Sequence[Module]) -> list[int | str]:
    """Module index -> id used in the output: the expose name, else the next free number from 1."""
    exposed = {module.expose for module in modules if module.expose}
    public: list[int | str] = []
    number = 0
    for module in modules:
        if module.expose:
            public.append(module.expose)
            continue
        number += 1
        while str(number) in exposed:
            number += 1
        public.append(number)
    return public


def _order_key(module: Module) -> tuple[bool, float, int]:
    """Sort key: modules with an `order` first, by it; then manifest index."""
    order = module.order
    return (order is None, float(order) if order is not None else 0.0, module.index)


def _js_literal(value: int | str | bool) -> str:
    """A JSON literal that is also safe inside a JS script (U+2028/9 and `</` escaped)."""
    return json.dumps(value, ensure_ascii=True).replace("</", "<\\/")


def _strip_source_map_comments(source: str) -> str:
    """Drop sourceMappingURL comments: they name files, which must not reach the output."""
    if "sourceMappingURL" not in source and "sourceURL" not in source:
        return source
    return _SOURCE_MAP_BLOCK.sub("", _SOURCE_MAP_COMMENT.sub("", source))
