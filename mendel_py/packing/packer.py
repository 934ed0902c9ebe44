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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .body import Body

if TYPE_CHECKING:
    from ..core.manifest import Entry, Manifest, Module

# The registry prelude, in pieces that the lazy variant below shares.
_REGISTRY_VARS = "var own=Object.prototype.hasOwnProperty,mods=Object.create(null),cache=Object.create(null),i"
_DEFINE = "for(i=0;i<defs.length;i++)mods[defs[i][0]]=defs[i];"
_FIND = (
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
)
_RUN = "return m.exports}for(i=0;i<entries.length;i++)req(entries[i]);return req})"

# Called as PRELUDE(defs, entries, previousRequire) where defs is a list of [id, factory, depsMap];
# it returns the new global require.
JS_PRELUDE = (
    "(function(defs,entries,prev){" + _REGISTRY_VARS + ";" + _DEFINE + _FIND
    + "def[1].call(m.exports,function(x){var to=own.call(deps,x)&&deps[x];return req(to?to:x)},"
    "m,m.exports);" + _RUN
)

# The same registry for a bundle with lazy chunks: PRELUDE(defs, entries, previousRequire, chunks),
# chunks mapping a lazily loaded module's public id to [its chunk's URL relative to this script,
# the chunk's integrity]. A module's require gains `require.lazy(specifier)`: a Promise of the
# target's exports, loading its chunk first (a script element, in the page script's CORS mode,
# checked by integrity when the page script was) unless it is defined already.
# A chunk script hands its definitions to the element that loaded it (`mendelAdd`), so no global
# name is added and chunks of different bundles can't mix.
JS_LAZY_PRELUDE = (
    "(function(defs,entries,prev,chunks){" + _REGISTRY_VARS + ","
    'me=typeof document!="undefined"&&document.currentScript,loading=Object.create(null);'
    + _DEFINE
    + "function load(name){"
    "if(own.call(mods,name)||!own.call(chunks,name))return Promise.resolve();"
    "var c=chunks[name],url=new URL(c[0],me.src).href;"
    "return loading[url]||(loading[url]=new Promise(function(ok,fail){"
    'var s=document.createElement("script");'
    "s.mendelAdd=function(d){for(var k=0;k<d.length;k++)mods[d[k][0]]=d[k]};"
    "s.onload=ok;"
    "s.onerror=function(){delete loading[url];"
    "fail(new Error(\"Loading chunk of module '\"+name+\"' failed\"))};"
    "if(me.crossOrigin!==null)s.crossOrigin=me.crossOrigin;"
    "if(me.integrity)s.integrity=c[1];"
    "s.src=url;document.head.appendChild(s)}))}"
    + _FIND
    + "function to(x){return own.call(deps,x)&&deps[x]||x}"
    "function r(x){return req(to(x))}"
    "r.lazy=function(x){var id=to(x);return load(id).then(function(){return req(id)})};"
    "def[1].call(m.exports,r,m,m.exports);" + _RUN
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


# chunk id -> (its URL relative to the bundle's, its Subresource Integrity value)
ChunkRef = Callable[[int], tuple[str, str]]


class ChunkNotFound(LookupError):
    """The tree has no lazy chunk with that id."""


def pack_js(tree: TreeLike, chunk_ref: ChunkRef | None = None) -> bytes:
    """One script for the tree's modules, in the tree's (manifest index) order.

    With `chunk_ref` (chunk id -> its relative URL and integrity), modules that the tree
    reaches only through `import()` are left to their lazy chunks; without it, or when the tree
    has none, the script holds every module of the tree.
    """
    return js_body(tree, chunk_ref).join()


def pack_chunk(tree: TreeLike, chunk: int) -> bytes:
    """The script of the tree's lazy chunk `chunk` (a lazily loaded module's public id);
    ChunkNotFound if the tree has no such chunk."""
    return chunk_body(tree, chunk).join()


def pack_css(tree: TreeLike) -> bytes:
    """The sources by `order` (unordered last), then manifest index; a "\\n" after each."""
    return css_body(tree).join()


def js_body(tree: TreeLike, chunk_ref: ChunkRef | None = None) -> Body:
    """`pack_js` as the pieces it is made of (`mendel_py.body`: what a server sends and keeps)."""
    return packer_for(tree.manifest).js(tree.selection, chunk_ref)


def chunk_body(tree: TreeLike, chunk: int) -> Body:
    """`pack_chunk` as the pieces it is made of."""
    return packer_for(tree.manifest).chunk(tree.selection, chunk)


def css_body(tree: TreeLike) -> Body:
    """`pack_css` as the pieces it is made of."""
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
    renumbered -- is the same in every tree: it is made once (on first use) and a bundle is ready
    pieces plus the list of entries (a `Body`: kept as its pieces, joined only when asked). The
    bytes for a hash are a function of the manifest, so every process serving one manifest (one
    deploy) produces the same bytes.
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
        self.lazy = LazyEdges(manifest)

    def js(self, selection: Sequence[tuple[int, int]], chunk_ref: ChunkRef | None = None) -> Body:
        """The script for the modules of `selection` ((module, entry) in manifest index order);
        with `chunk_ref`, lazily loaded parts are left to their chunks (see `pack_js`)."""
        present = bytearray(len(self._js))
        for m, _j in selection:
            present[m] = 1
        literals = self._literals
        entries = b",".join([literals[m] for m in self._run_order if present[m]])
        if not self.lazy.any or not self.lazy.reaches(selection):
            return self._script(_JS_HEAD, selection, b"],[", entries, _JS_TAIL)
        main, chunks = self.lazy.split(selection) if chunk_ref else (selection, {})
        refs = {str(self.public_ids[root]): chunk_ref(self.public_ids[root]) for root in chunks}  # type: ignore[misc, arg-type]
        table = json.dumps(refs, ensure_ascii=True)
        tail = b'],typeof require=="function"&&require,' + _script_safe(table).encode("ascii") + b");\n"
        return self._script(_JS_LAZY_HEAD, main, b"],[", entries, tail)

    def chunk(self, selection: Sequence[tuple[int, int]], chunk: int) -> Body:
        """The chunk script of the lazily loaded module with public id `chunk`."""
        return self._script(_CHUNK_HEAD, self.chunk_parts(selection, chunk), _CHUNK_TAIL)

    def js_parts(self, selection: Sequence[tuple[int, int]]) -> Sequence[tuple[int, int]]:
        """The (module, entry) pairs the bundle's script defines, in order, lazy chunks apart."""
        if self.lazy.any and self.lazy.reaches(selection):
            return self.lazy.split(selection)[0]
        return selection

    def chunk_parts(self, selection: Sequence[tuple[int, int]], chunk: int) -> list[tuple[int, int]]:
        """The (module, entry) pairs of chunk `chunk`, in order; ChunkNotFound if none."""
        _main, chunks = self.lazy.split(selection) if self.lazy.any else ((), {})
        for root, members in chunks.items():
            if self.public_ids[root] == chunk:
                return members
        raise ChunkNotFound(chunk)

    def source_starts(self, parts: Sequence[tuple[int, int]]) -> list[tuple[int, str]]:
        """(output line, source as packed) of each part of a script that defines `parts`.

        Nothing before the first definition holds a newline, and a definition is
        ``[id,function(require,module,exports){\n<source>\n},{deps}]``: each source starts at
        column 0 of the line after its definition starts, and the next one starts on the line
        that closes it (for source maps).
        """
        line, starts = 0, []
        for m, j in parts:
            source = _packed_source(self.manifest.modules[m].entries[j])
            starts.append((line + 1, source))
            line += source.count("\n") + 2
        return starts

    def definitions(self, selection: Sequence[tuple[int, int]], head: bytes, tail: bytes) -> Body:
        """`head`, the module definitions of `selection` exactly as a bundle holds them (every
        module, lazy ones included), then `tail`. A `head` with no newline puts each source on
        the lines it has in the bundle (the server renderer's script, `mendel_py.ssr.script`)."""
        return self._script(head, selection, tail)

    def _script(self, head: bytes, selection: Sequence[tuple[int, int]], *after: bytes) -> Body:
        """`head`, the definitions of `selection` separated by commas, then `after`: the shared
        pieces as they are (`after`, made for this tree, is what the body owns)."""
        pieces = self._js
        parts = [b","] * (2 * len(selection) - 1) if selection else []
        parts[::2] = [pieces[m][j] or self._js_piece(m, j) for m, j in selection]
        return Body.of([head, *parts, *after], own_bytes=sum(map(len, after)))

    def css(self, selection: Sequence[tuple[int, int]]) -> Body:
        """The stylesheet: sources by `order` (unordered last), then manifest index."""
        keys = self._order_keys
        ordered = sorted(selection, key=lambda pair: keys[pair[0]])
        pieces = self._css
        return Body.of([pieces[m][j] or self._css_piece(m, j) for m, j in ordered], own_bytes=0)

    def prepare(self) -> None:
        """Make every piece now (e.g. in a pre-forking server's master, shared after fork)."""
        for m, module in enumerate(self.manifest.modules):
            for j in range(len(module.entries)):
                self._js_piece(m, j)

    def _js_piece(self, m: int, j: int) -> bytes:
        entry = self.manifest.modules[m].entries[j]
        piece = b"".join((
            f"[{self._texts[m]},function(require,module,exports){{\n".encode("ascii"),
            _packed_utf8(entry),
            f"\n}},{self._deps_literal(entry)}]".encode("ascii"),
        ))
        self._js[m][j] = piece  # a race only computes the same bytes twice
        return piece

    def _css_piece(self, m: int, j: int) -> bytes:
        piece = self.manifest.modules[m].entries[j].utf8_source + b"\n"
        self._css[m][j] = piece
        return piece

    def _deps_literal(self, entry: Entry) -> str:
        """The entry's deps map, keys sorted, with module ids replaced by public ids; false stays
        false (an external module)."""
        texts = self._texts
        items = (
            f"{_key_literal(specifier)}:{texts[target] if target >= 0 else 'false'}"
            for specifier, target in sorted(zip(entry.specs, entry.targets))
        )
        return "{" + ",".join(items) + "}"


class LazyEdges:
    """Which edges of a manifest only `import()` takes, and how a tree splits along them.

    An entry's `lazy` lists the `deps` specifiers reached only by a literal `import()`. A tree's
    main part is what its roots reach through static edges; each lazily imported module outside
    it roots a chunk: what it reaches statically, minus the main part (two chunks may share a
    module; defining it twice is harmless, the registry runs it once).
    """

    def __init__(self, manifest: Manifest):
        indexes = manifest.indexes
        self.roots = manifest.roots
        self.static: list[list[tuple[int, ...]]] = []
        self.lazy: list[list[tuple[int, ...]]] = []
        # a manifest without `lazy` (every CommonJS one) needs no tables: nothing is split
        self.any = any("lazy" in entry for module in manifest.modules for entry in module.entries)
        if not self.any:
            return
        for module in manifest.modules:
            static_row, lazy_row = [], []
            for entry in module.entries:
                deps, lazy_specs = entry.get("deps") or {}, entry.get("lazy") or ()
                static = {indexes[t] for s, t in deps.items() if isinstance(t, str) and s not in lazy_specs}
                lazy = {indexes[deps[s]] for s in lazy_specs} - static
                static_row.append(tuple(sorted(static)))
                lazy_row.append(tuple(sorted(lazy)))
            self.static.append(static_row)
            self.lazy.append(lazy_row)
        self.any = any(targets for row in self.lazy for targets in row)

    def reaches(self, selection: Sequence[tuple[int, int]]) -> bool:
        """True when some module of the tree imports another lazily."""
        lazy = self.lazy
        return any(lazy[m][j] for m, j in selection)

    def split(
        self, selection: Sequence[tuple[int, int]]
    ) -> tuple[list[tuple[int, int]], dict[int, list[tuple[int, int]]]]:
        """(main part, {chunk root: chunk part}), each (module, entry) in manifest index order."""
        chosen = dict(selection)
        main = self._closure([r for r in self.roots if r in chosen], chosen, set())
        lazy_roots = sorted({t for m, j in selection for t in self.lazy[m][j]} - main)
        chunks = {
            root: sorted((m, chosen[m]) for m in self._closure([root], chosen, main))
            for root in lazy_roots
            if root in chosen
        }
        return sorted((m, chosen[m]) for m in main), chunks

    def _closure(self, starts: list[int], chosen: dict[int, int], outside: set[int]) -> set[int]:
        seen: set[int] = set()
        stack = [m for m in starts if m not in outside]
        while stack:
            m = stack.pop()
            if m in seen or m not in chosen:
                continue
            seen.add(m)
            stack.extend(t for t in self.static[m][chosen[m]] if t not in seen and t not in outside)
        return seen


_MEMO_KEY = "packer"
_MEMO_LOCK = threading.Lock()
_JS_HEAD = f"require={JS_PRELUDE}([".encode("ascii")
_JS_TAIL = b'],typeof require=="function"&&require);\n'
_JS_LAZY_HEAD = f"require={JS_LAZY_PRELUDE}([".encode("ascii")
_CHUNK_HEAD = b"document.currentScript.mendelAdd(["
_CHUNK_TAIL = b"]);\n"


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
    return _script_safe(json.dumps(value, ensure_ascii=True))


def _key_literal(specifier: str) -> str:
    """`_js_literal` of a specifier; most ("./a/b.js", "react") need no escaping and no json."""
    return f'"{specifier}"' if _PLAIN.fullmatch(specifier) else _js_literal(specifier)


_PLAIN = re.compile(r"[A-Za-z0-9_./@~+-]*")  # characters JSON and a script element take as they are


def _script_safe(json_text: str) -> str:
    """ASCII JSON made safe inside a script element: no `</`."""
    return json_text.replace("</", "<\\/")


def _packed_source(entry: Entry) -> str:
    """A JS entry's source as it goes into the bundle."""
    return _strip_source_map_comments(entry.source)


def _packed_utf8(entry: Entry) -> bytes:
    """`_packed_source` in UTF-8, without decoding the (usual) source that has nothing to drop."""
    source = entry.utf8_source
    if b"URL=" not in source:  # both comments hold it: one scan instead of two
        return source
    return _strip_source_map_comments(source.decode("utf-8")).encode("utf-8")


def _strip_source_map_comments(source: str) -> str:
    """Drop sourceMappingURL comments: they name files, which must not reach the output."""
    if "sourceMappingURL" not in source and "sourceURL" not in source:
        return source
    return _SOURCE_MAP_BLOCK.sub("", _SOURCE_MAP_COMMENT.sub("", source))
