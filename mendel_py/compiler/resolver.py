"""Resolve a dependency specifier to a module, the way Node and browserify do, across variations.

Rules:

- Relative specifiers (`./x`, `../x`) from a file in the base or a variation folder resolve in
  the *overlay* of the folders that file sees (its own folder, the folders it inherits from, then
  base): `./x` is the module id next to the requiring module's id, found in any of those folders.
  Candidates in Node's order: `x`, `x.js`, `x.json`, then `x.jsx` (after Node's two, as in
  create-react-app's webpack setup, so adding `.jsx` changed no existing resolution), then the
  folder `x` (its package.json `browser` string, else `main`, else `index.js` / `index.json` /
  `index.jsx`). Stylesheets try `x`, `x.css`.
- Bare names (`react`, `lodash/get`) are looked up in `node_modules` folders walking upward from
  the requiring file, without leaving the project root, and a package resolves as a browser
  bundler (esbuild, webpack's web target) resolves it:
  - package.json `exports`, when present, is the only way in: the subpath (`.`, `./server`,
    patterns with `*`, nested condition objects and fallback arrays) is matched and its
    conditions are taken in the order the package lists them, the first of `browser`, `import`,
    `require`, `module`, `default` (`style` too for a stylesheet) that leads to a file wins. The
    same condition set serves `import` and `require`, so a package that ships ESM and CommonJS
    builds is bundled once and both kinds of reference share its state (no dual-package hazard);
    a subpath the map does not list is an error, as in Node;
  - without `exports`: `browser` (string form), then `module`, then `main`, then `index.js`;
  - `#name` specifiers from a package's files resolve through its package.json `imports`, with
    the same conditions;
  - the `browser` object form maps files of the package (`"./lib/node.js": "./lib/web.js"`, also
    its main) and bare names required from inside it (`"fs": false`, `"a": "b"`); a file or
    name mapped to `false` is an empty module (`EMPTY_MODULE`, an empty CommonJS body).
- A name listed in the bundle's `external` option (or a path under it: `lodash` covers
  `lodash/get`) is outside the bundle: `false` in deps. So is a Node builtin (`fs`, `path`,
  `node:url`, ...) that no `node_modules` package provides, and in a stylesheet a remote URL
  (`https:`, `//host/`, `data:`). Anything else that does not resolve is a build error.
"""
from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any, Literal

from .errors import BuildError
from .jsdeps import Dependency
from .layout import EMPTY_MODULE, ModuleRef, ProjectLayout, SourceFile, ancestors, join

JS_EXTENSIONS = (".js", ".json", ".jsx")
# What a browser bundler matches in `exports` (the order that counts is the package's own).
JS_CONDITIONS = frozenset(("browser", "import", "require", "module", "default"))
CSS_CONDITIONS = frozenset(("style", "browser", "import", "require", "default"))

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
        self._packages: dict[str, _Package | None] = {}
        self._unexported = ""  # why the last package lookup failed, when `exports` said no
        self._reasons: dict[tuple[str, str, bool, str, bool], str] = {}

    def resolve(
        self, spec: str, requirer: SourceFile, line: int, style: bool = False, written: Dependency | None = None
    ) -> Resolved:
        """The module `spec` names from `requirer`, or False when it is outside the bundle;
        `written` (the reference as the file has it) gives an error its column and wording."""
        if style:
            style_spec = self._style_spec(spec)
            if style_spec is None:
                return False
            spec = style_spec
        key = _memo_key(spec, requirer, style)
        if key not in self._memo:
            self._unexported = ""
            self._memo[key] = self._resolve(spec, requirer, style)
            if self._memo[key] is None:
                self._reasons[key] = self._unexported
        found = self._memo[key]
        if found is None:
            what = written.shown() if written is not None else (f'@import "{spec}"' if style else f'require("{spec}")')
            message = self._not_found_message(spec, what, requirer, self._reasons[key])
            raise BuildError(message, requirer.file, line, written.column if written is not None else None)
        return found

    def resolve_asset(self, spec: str, requirer: SourceFile, line: int, column: int | None = None) -> str:
        """The file (relative to the root) a stylesheet's `url(spec)` names, in the overlay of
        folders `requirer` sees (`x.png` is `./x.png`, as in CSS); BuildError when none."""
        relative = spec if is_relative(spec) else f"./{spec}"
        relative = relative.split("?", 1)[0].split("#", 1)[0]  # `font.woff2?v=3`, `x.svg#icon`
        found = self._relative(relative, requirer, style=False, extensions=())
        if found is not None:
            if found.rooted:
                return found.id
            for folder in self.layout.scope(requirer.folder):
                if self.layout.exists(join(folder, found.id)):
                    return join(folder, found.id)
        raise BuildError(f'cannot resolve url("{spec}"): no such file', requirer.file, line, column)

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
            relative = self._relative(spec, requirer, style)
            return self._browser_mapped(relative.id) if relative and relative.rooted else relative
        if spec.startswith("#") and not style:  # package.json `imports` of the requiring package
            package = self._package_of(requirer.file) if requirer.rooted else None
            imports = package.data.get("imports") if package is not None else None
            if package is None or not isinstance(imports, dict):
                return None
            found_import = self._exported(package, spec, style, imports)
            return self._browser_mapped(found_import) if found_import is not None else None
        mapped = None if style else self._browser_name(spec, requirer)
        if mapped is not None and not isinstance(mapped, str):
            return mapped
        if isinstance(mapped, str):
            if self._is_external(mapped):
                return False
            spec = mapped
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

    def _relative(
        self, spec: str, requirer: SourceFile, style: bool, extensions: tuple[str, ...] | None = None
    ) -> ModuleRef | None:
        extensions = _extensions(style) if extensions is None else extensions
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

    def _in_node_modules(self, spec: str, requirer: SourceFile, style: bool) -> Resolved | None:
        name = package_name(spec)
        extensions = _extensions(style)
        for modules_dir in self._node_modules_dirs(requirer):
            package_dir = join(modules_dir, name)
            if not self.layout.is_dir(package_dir):
                continue
            package = self._package(package_dir)
            if package is not None and "exports" in package.data:
                found = self._exported(package, "." + spec[len(name) :], style)
            else:
                found = self._probe(join(modules_dir, spec), ("",), extensions)
            if found is not None:
                return self._browser_mapped(found)
            if package is not None and "exports" in package.data:
                self._unexported = f"{spec[len(name) + 1 :] or '.'} is not exported by {package_dir}/package.json"
                return None
        return None

    def _exported(self, package: _Package, subpath: str, style: bool, imports: Any = None) -> str | None:
        """The file `exports` maps `subpath` to, or None (Node's PACKAGE_EXPORTS_RESOLVE); with
        `imports` (the `imports` field), what it maps a `#name` to."""
        exports = package.data["exports"] if imports is None else imports
        if imports is None and (not isinstance(exports, dict) or not any(key.startswith(".") for key in exports)):
            exports = {".": exports}  # sugar: a target or a condition object for "." alone
        target, match = exports.get(subpath), ""
        if target is None:
            best = ""
            for key in exports:
                star = key.find("*")
                if star < 0 or not subpath.startswith(key[:star]) or not subpath.endswith(key[star + 1 :]):
                    continue
                if len(subpath) >= len(key) - 1 and len(key) > len(best):
                    best, match = key, subpath[star : len(subpath) - (len(key) - star - 1)]
            if not best:
                return None
            target = exports[best]
        conditions = CSS_CONDITIONS if style else JS_CONDITIONS
        return self._export_target(package, target, match, conditions)

    def _export_target(self, package: _Package, target: Any, match: str, conditions: frozenset[str]) -> str | None:
        if isinstance(target, str):
            if not target.startswith("./"):
                return None
            path = posixpath.normpath(join(package.dir, target[2:].replace("*", match)))
            inside = path.startswith(package.dir + "/")
            return path if inside and self.layout.exists(path) else None
        if isinstance(target, list):
            return next((f for f in (self._export_target(package, t, match, conditions) for t in target) if f), None)
        if isinstance(target, dict):
            for condition, value in target.items():
                if condition in conditions:
                    found = self._export_target(package, value, match, conditions)
                    if found is not None:
                        return found
        return None

    def _browser_mapped(self, found: str) -> Resolved:
        """A file of a package as the package's `browser` object maps it (`EMPTY_MODULE` for false)."""
        ref = self.layout.classify(found)
        package = self._package_of(found)
        if package is None or package.browser is None:
            return ref
        relative = "./" + found[len(package.dir) + 1 :]
        for key in (relative, relative[: -len(posixpath.splitext(relative)[1]) or None]):
            if key in package.browser:
                mapped = package.browser[key]
                if mapped is False:
                    return ModuleRef(EMPTY_MODULE, rooted=True)
                target = self._probe_file_or_index(
                    posixpath.normpath(join(package.dir, mapped)), ("",), JS_EXTENSIONS
                )
                return self.layout.classify(target) if target is not None else ref
        return ref

    def _browser_name(self, spec: str, requirer: SourceFile) -> Resolved | str | None:
        """What the requiring file's package `browser` object says of a bare name: a module,
        another name to resolve instead, or None (not mapped)."""
        if not requirer.rooted:
            return None
        package = self._package_of(requirer.file)
        if package is None or package.browser is None or spec not in package.browser:
            return None
        mapped = package.browser[spec]
        if mapped is False:
            return ModuleRef(EMPTY_MODULE, rooted=True)
        if is_relative(mapped):
            target = self._probe_file_or_index(posixpath.normpath(join(package.dir, mapped)), ("",), JS_EXTENSIONS)
            return self.layout.classify(target) if target is not None else None
        return mapped

    def _package(self, directory: str) -> _Package | None:
        """The package.json of `directory` (relative to the root), read once per build."""
        if directory not in self._packages:
            path = join(directory, "package.json")
            package = None
            if self.layout.exists(path):
                data = _read_package(self.layout.absolute(path), path)
                package = _Package(directory, data, _browser_map(data.get("browser")))
            self._packages[directory] = package
        return self._packages[directory]

    def _package_of(self, file: str) -> _Package | None:
        """The package a file under `node_modules` belongs to (its nearest package.json)."""
        if "node_modules/" not in file:
            return None
        for directory in ancestors(posixpath.dirname(file)):
            if posixpath.basename(directory) == "node_modules" or not directory:
                return None
            package = self._package(directory)
            if package is not None:
                return package
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
        """`browser` (string), `module` or `main` of `target/package.json` in the first root that
        has one."""
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

    def _not_found_message(self, spec: str, what: str, requirer: SourceFile, reason: str) -> str:
        if is_relative(spec):
            return f"cannot resolve {what}"
        if reason:
            return f"cannot resolve {what}: {reason}"
        searched = ", ".join(self._node_modules_dirs(requirer))
        return (
            f"cannot resolve {what} (not in any node_modules; searched {searched}; list it in the "
            "bundle's `external` option if the page provides it)"
        )


def _memo_key(spec: str, requirer: SourceFile, style: bool) -> tuple[str, str, bool, str, bool]:
    """Resolution depends on the requirer's folder and directory only, not on its file name."""
    where = posixpath.dirname(requirer.file if requirer.rooted else requirer.module_id)
    return (requirer.folder, where, requirer.rooted, spec, style)


def _extensions(style: bool) -> tuple[str, ...]:
    return CSS_EXTENSIONS if style else JS_EXTENSIONS


def _is_builtin(spec: str) -> bool:
    return spec.startswith("node:") or package_name(spec) in NODE_BUILTINS


@dataclass(frozen=True)
class _Package:
    """A package folder (relative to the root), its package.json, and its `browser` object."""

    dir: str
    data: dict[str, Any]
    browser: dict[str, str | Literal[False]] | None


def _read_package(absolute: str, shown: str) -> dict[str, Any]:
    try:
        with open(absolute, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise BuildError(f"unreadable package.json: {error}", shown) from None
    return data if isinstance(data, dict) else {}


def _browser_map(value: Any) -> dict[str, str | Literal[False]] | None:
    """The `browser` object form: file keys (`./lib/x.js`) normalised, name keys (`fs`) as
    written; values a path (`./web.js`), a name, or False."""
    if not isinstance(value, dict):
        return None
    mapped: dict[str, str | Literal[False]] = {}
    for key, target in value.items():
        if not isinstance(key, str) or not (target is False or isinstance(target, str)):
            continue
        if key.startswith("./"):
            key = "./" + posixpath.normpath(key[2:])
        mapped[key] = target
    return mapped


def _package_main(absolute: str, shown: str) -> str | None:
    """The entry a package.json names for a browser: `browser` when it is a string, else
    `module`, else `main` (the main fields of esbuild's and webpack's browser targets)."""
    data = _read_package(absolute, shown)
    for field in ("browser", "module", "main"):
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
