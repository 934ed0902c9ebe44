"""The server script of a tree: the packer's module definitions for it, then the sandbox's web
globals (`SHIMS`) and the render runtime (`RUNTIME`), as one classic script an engine evaluates
once per context.

Line 1 holds everything up to the first module's source, with no newline, exactly as in the
bundle the browser gets (`packing.packer`): so each module's source sits on the same lines as in
the bundle, and the bundle's source map (`packing.sourcemap`, with every module of the tree) maps
an error's position back to the author's file. Lines after the last module are the runtime's.

The runtime keeps no state between renders:
- each render requires the server module through a fresh module registry, so the project's own
  modules run afresh (a module-level counter reads 1 on every render);
- modules from `node_modules` (packages) are kept per context and shared by renders, as Mendel's
  own loader shares them: their code is evaluated once. Packages that the project's modules
  require are evaluated when the context is made, before the baseline below is taken, so what
  their first evaluation writes to globals stays;
- before each render, the global object and the built-ins' constructors and prototypes are put
  back as they were at the baseline (taken when the context was made), undoing what the previous
  render and its promise jobs did: properties added are deleted, changed or deleted ones
  restored. A change that can't be undone (a new non-configurable property, a frozen or
  non-extensible built-in, a changed prototype) makes the render answer "dirty": its owner
  discards the context and renders again in a new one. The check reads each watched property's
  value, not its descriptor, in the common case where nothing changed (measured: 0.6 ms per
  render in QuickJS, for ~120 objects).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..core.manifest import Manifest
from ..packing.packer import packer_for

HEAD = b"globalThis.__mendelDefs=["
TAIL = b"];\n"

_HERE = Path(__file__).resolve().parent
SHIMS = "\n" + (_HERE / "shims.js").read_text("utf-8")
"""`shims.js`: TextEncoder, TextDecoder, queueMicrotask (where missing), MessageChannel and timers
that never fire, the engines' own extras removed."""
RUNTIME = (_HERE / "runtime.js").read_text("utf-8")
"""`runtime.js`: the registries, the baseline and its restoring, `__mendelRender`."""


def server_script(
    manifest: Manifest, selection: Sequence[tuple[int, int]], module: int, export: str
) -> tuple[str, int]:
    """The script of the tree `selection` of `manifest`, rendering with export `export` of module
    index `module` (the server module as this tree resolved it); and how many of its lines are
    the modules' (the lines after them are the runtime's)."""
    packer = packer_for(manifest)
    ids = packer.public_ids
    modules = manifest.modules
    package = [is_package(modules[m].id, modules[m].entries[j].get("file")) for m, j in selection]
    in_tree_package = {m for (m, _j), flag in zip(selection, package) if flag}
    warm = sorted({
        target
        for (m, j), in_package in zip(selection, package)
        if not in_package
        for target in modules[m].entries[j].targets
        if target in in_tree_package
    })
    config = {
        "module": ids[module],
        "export": export,
        "packages": [ids[m] for (m, _j), flag in zip(selection, package) if flag],
        "warm": [ids[m] for m in warm],
    }
    body = packer.definitions(selection, HEAD, TAIL).join().decode("utf-8")
    runtime = RUNTIME.replace("__MENDEL_CONFIG__", json.dumps(config, ensure_ascii=True))
    return body + SHIMS + runtime, body.count("\n")


def is_package(module_id: str, file: str | None) -> bool:
    """A module from `node_modules` (its code is shared by the renders of a context)."""
    for name in (module_id, file or ""):
        path = name.replace("\\", "/")
        if path.startswith("node_modules/") or "/node_modules/" in path:
            return True
    return False
