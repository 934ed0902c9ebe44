"""Resolve a dependency specifier to a module, the way Node and browserify do, across variations.

Rules:

- Relative specifiers (`./x`, `../x`) from a file in the base or a variation folder resolve in
  the *overlay* of the folders that file sees (its own folder, the folders it inherits from, then
  base): `./x` is the module id next to the requiring module's id, found in any of those folders.
  Candidates in Node's order: `x`, `x.js`, `x.json`, then `x.jsx` (after Node's two, as in
  create-react-app's webpack setup, so adding `.jsx` changed no existing resolution), then
  `x.ts`, `x.tsx`, then the folder `x` (its package.json `browser` string, else `main`, else
  `index.js` / `index.json` / `index.jsx` / `index.ts` / `index.tsx`). `./x.js` that is not a
  file finds `x.ts` / `x.tsx` (TypeScript's own import style; `.mjs` -> `.mts`, `.cjs` -> `.cts`).
  Bare names that a `tsconfig.json` `paths` pattern (or its `baseUrl`) maps to a file resolve
  there first (`tsconfig.py`). Stylesheets try `x`, `x.css`.
- Bare names (`react`, `lodash/get`) are looked up in `node_modules` folders walking upward from
  the requiring file, without leaving the project root; a package folder honours package.json
  `browser` (string form), then `main`, then `index.js`.
- A name listed in the bundle's `external` option (or a path under it: `lodash` covers
  `lodash/get`) is outside the bundle: `false` in deps. So is a Node builtin (`fs`, `path`,
  `node:url`, ...) that no `node_modules` package provides, and in a stylesheet a remote URL
  (`https:`, `//host/`, `data:`). Anything else that does not resolve is a build error.
"""
from __future__ import annotations

import json
import posixpath
from typing import Literal

from .errors import BuildError
from .layout import ModuleRef, ProjectLayout, SourceFile, ancestors, join
from .tsconfig import TsPaths

JS_EXTENSIONS = (".js", ".json", ".jsx", ".ts", ".tsx")  # TypeScript after the JavaScript candidates
# `import "./x.js"` in TypeScript names the file `x.ts` (what tsc writes it to), as esbuild resolves it
_TS_FOR_JS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
CSS_EXTENSIONS = (".css",)

NODE_BUILTINS = frozenset(
    """assert async_hooks buffer child_process cluster console constants crypto dgram
    diagnostics_channel dns domain events fs http http2 https inspector module net os path
    perf_hooks process punycode querystring readline repl stream string_decoder sys timers tls
    trace_events tty url util v8 vm wasi worker_threads zlib""".split()
)

Resolved = ModuleRef | Literal[False]


def package_name(spec: str) -> str:
    """The package part of a bare specifier: `lodash/get` -> `lodash`, `@a/b/c` -> `@a/b`."""
    parts = spec.split("/")
    return "/".join(parts[:2]) if spec.startswith("@") else parts[0]


def is_relative(spec: str) -> bool:
    return spec in (".", "..") or spec.startswith(("./", "../", "/"))


class Resolver:
    """Specifier -> module for one bundle (its `external` names) over one project layout."""

    def __init__(self, layout: ProjectLayout, externals: tuple[str, ...] = ()):
        self.layout = layout
        self.externals = frozenset(externals)
        self._memo: dict[tuple[str, str, bool, str, bool], Resolved | None] = {}
        self.tsconfig = TsPaths.load(layout.root)

    def resolve(self, spec: str, requirer: SourceFile, line: int, style: bool = False) -> Resolved:
        """The module `spec` names from `requirer`, or False when it is outside the bundle."""
        if style:
            style_spec = self._style_spec(spec)
            if style_spec is None:
                return False
            spec = style_spec
        key = _memo_key(spec, requirer, style)
        if key not in self._memo:
            self._memo[key] = self._resolve(spec, requirer, style)
        found = self._memo[key]
        if found is None:
            raise BuildError(self._not_found_message(spec, style), requirer.file, line)
        return found

    def resolve_entry(self, spec: str, style: bool) -> ModuleRef | None:
        """A bundle entry in base or any variation folder: relative to the base folder (or, when
        it starts with the base folder, relative to the project root)."""
        target = posixpath.normpath(spec.lstrip("/"))
        if target.startswith(".."):
            return None
        found = self._probe(target, self.layout.folders, _extensions(style))
        base_prefix = self.layout.base_dir + "/"
        if found is None and self.layout.base_dir and target.startswith(base_prefix):
            found = self._probe(target[len(base_prefix) :], self.layout.folders, _extensions(style))
        return ModuleRef(found) if found is not None else None

    # ------------------------------------------------------------------ rules

    def _resolve(self, spec: str, requirer: SourceFile, style: bool) -> Resolved | None:
        if self._is_external(spec):
            return False
        if is_relative(spec):
            return self._relative(spec, requirer, style)
        if self.tsconfig is not None and not style:
            for target in self.tsconfig.candidates(spec):
                mapped = self._mapped(target, requirer)
                if mapped is not None:
                    return mapped
        found = self._in_node_modules(spec, requirer, style)
        if found is None and _is_builtin(spec):
            return False
        return found

    def _style_spec(self, spec: str) -> str | None:
        """A stylesheet @import target as a module specifier; None for a remote URL."""
        if ":" in spec.split("/")[0] or spec.startswith("//"):
            return None
        if spec.startswith("~"):
            return spec[1:]
        return spec if is_relative(spec) else f"./{spec}"

    def _is_external(self, spec: str) -> bool:
        return spec in self.externals or package_name(spec) in self.externals

    def _relative(self, spec: str, requirer: SourceFile, style: bool) -> ModuleRef | None:
        extensions = _extensions(style)
        if not requirer.rooted:
            if spec.startswith("/"):
                target = posixpath.normpath(spec.lstrip("/"))
            else:
                target = posixpath.normpath(join(posixpath.dirname(requirer.module_id), spec))
            if target == ".":
                target = ""
            if not target.startswith(".."):
                found = self._probe(target, self.layout.scope(requirer.folder), extensions)
                return ModuleRef(found) if found is not None else None
        if spec.startswith("/"):
            return None
        real = posixpath.normpath(join(posixpath.dirname(requirer.file), spec))
        if real.startswith("..") or real == "..":
            return None
        found = self._probe("" if real == "." else real, ("",), extensions)
        return self.layout.classify(found) if found is not None else None

    def _mapped(self, target: str, requirer: SourceFile) -> ModuleRef | None:
        """A tsconfig target (a path from the root): a module id when it is in the base folder."""
        base = self.layout.base_dir
        if not base or target.startswith(base + "/"):
            module_id = target[len(base) + 1:] if base else target
            folder = self.layout.base_dir if requirer.rooted else requirer.folder
            found = self._probe(module_id, self.layout.scope(folder), JS_EXTENSIONS)
            return ModuleRef(found) if found is not None else None
        found = self._probe(target, ("",), JS_EXTENSIONS)
        return self.layout.classify(found) if found is not None else None

    def _in_node_modules(self, spec: str, requirer: SourceFile, style: bool) -> ModuleRef | None:
        name = package_name(spec)
        for modules_dir in self._node_modules_dirs(requirer):
            if not self.layout.is_dir(join(modules_dir, name)):
                continue
            found = self._probe(join(modules_dir, spec), ("",), _extensions(style))
            if found is not None:
                return self.layout.classify(found)
        return None

    def _node_modules_dirs(self, requirer: SourceFile) -> list[str]:
        """`node_modules` folders to search, innermost first, all inside the project root."""
        if requirer.rooted:
            starts = [posixpath.dirname(requirer.file)]
        else:
            directory = posixpath.dirname(requirer.module_id)
            starts = [join(folder, directory) for folder in self.layout.scope(requirer.folder)]
        candidates: list[str] = []
        for start in starts:
            for directory in ancestors(start):
                if posixpath.basename(directory) != "node_modules":
                    candidates.append(join(directory, "node_modules"))
        return list(dict.fromkeys(candidates))

    # ------------------------------------------------------------------ probing

    def _probe(self, target: str, roots: tuple[str, ...], extensions: tuple[str, ...]) -> str | None:
        """The first Node candidate for `target` that is a file in one of `roots` (overlaid)."""
        if target:
            for candidate in (target, *(target + extension for extension in extensions)):
                if self._exists(candidate, roots):
                    return candidate
            stem, suffix = posixpath.splitext(target)
            for extension in _TS_FOR_JS.get(suffix, ()) if extensions is JS_EXTENSIONS else ():
                if self._exists(stem + extension, roots):
                    return stem + extension
        package_entry = self._package_entry(target, roots)
        if package_entry is not None:
            found = self._probe_file_or_index(package_entry, roots, extensions)
            if found is not None:
                return found
        for extension in extensions:
            candidate = join(target, "index" + extension)
            if self._exists(candidate, roots):
                return candidate
        return None

    def _probe_file_or_index(
        self, target: str, roots: tuple[str, ...], extensions: tuple[str, ...]
    ) -> str | None:
        candidates = [target, *(target + extension for extension in extensions)]
        candidates += [join(target, "index" + extension) for extension in extensions]
        return next((candidate for candidate in candidates if self._exists(candidate, roots)), None)

    def _package_entry(self, target: str, roots: tuple[str, ...]) -> str | None:
        """`browser` (string) or `main` of `target/package.json` in the first root that has one."""
        manifest = join(target, "package.json")
        for root in roots:
            path = join(root, manifest)
            if self.layout.exists(path):
                field = _package_main(self.layout.absolute(path), path)
                if field is None:
                    return None
                normal = posixpath.normpath(join(target, field))
                return None if normal.startswith("..") else normal
        return None

    def _exists(self, candidate: str, roots: tuple[str, ...]) -> bool:
        return any(self.layout.exists(join(root, candidate)) for root in roots)

    def _not_found_message(self, spec: str, style: bool) -> str:
        what = f'@import "{spec}"' if style else f'require("{spec}")'
        if is_relative(spec):
            return f"cannot resolve {what}"
        return (
            f"cannot resolve {what} (not in any node_modules; list it in the bundle's "
            "`external` option if the page provides it)"
        )


def _memo_key(spec: str, requirer: SourceFile, style: bool) -> tuple[str, str, bool, str, bool]:
    """Resolution depends on the requirer's folder and directory only, not on its file name."""
    where = posixpath.dirname(requirer.file if requirer.rooted else requirer.module_id)
    return (requirer.folder, where, requirer.rooted, spec, style)


def _extensions(style: bool) -> tuple[str, ...]:
    return CSS_EXTENSIONS if style else JS_EXTENSIONS


def _is_builtin(spec: str) -> bool:
    return spec.startswith("node:") or package_name(spec) in NODE_BUILTINS


def _package_main(absolute: str, shown: str) -> str | None:
    """The entry a package.json names: `browser` when it is a string, else `main`."""
    try:
        with open(absolute, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise BuildError(f"unreadable package.json: {error}", shown) from None
    if not isinstance(data, dict):
        return None
    for field in ("browser", "main"):
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
