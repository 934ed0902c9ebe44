"""Turn a bundle graph into Mendel v1 manifest bytes, byte-identical on any machine.

Layout as Mendel's manifest post-processing leaves it: `indexes` and `bundles` sorted by module
id, each module's `data` in the order of its `variations` (base first, then variation folders in
configuration order), every `deps` object sorted by specifier. The JSON is written with sorted
keys, two-space indentation, UTF-8 without escaping, and a trailing newline: no timestamps, no
absolute paths.

The bytes are assembled from one JSON chunk per module, so a rebuild after a one-file edit
(`incremental.py`) re-serialises only the modules that changed: `memo` maps a module's content
and position to its chunk. The result is exactly `json.dumps(manifest_document(graph), indent=2,
sort_keys=True, ensure_ascii=False)` plus a newline (the tests compare the two).
"""
from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from .graph import BundleGraph, BundleModule, ModuleVersion


def manifest_document(graph: BundleGraph) -> dict[str, Any]:
    """The manifest as a JSON-ready dict."""
    ids = sorted(graph.modules)
    return {
        "indexes": {module_id: position for position, module_id in enumerate(ids)},
        "bundles": [_module(graph.modules[module_id], position) for position, module_id in enumerate(ids)],
    }


ChunkMemo = dict[Hashable, str]
_MODULE_INDENT = " " * 4  # a module object sits two levels deep: {"bundles": [ here ]}


def manifest_bytes(graph: BundleGraph, memo: ChunkMemo | None = None, used: ChunkMemo | None = None) -> bytes:
    """The manifest file's exact bytes; chunks are taken from `memo` and recorded in `used`."""
    ids = sorted(graph.modules)
    chunks = [_module_chunk(graph.modules[module_id], position, memo, used) for position, module_id in enumerate(ids)]
    indexes = ",\n".join(
        f"    {json.dumps(module_id, ensure_ascii=False)}: {position}" for position, module_id in enumerate(ids)
    )
    if not ids:
        text = '{\n  "bundles": [],\n  "indexes": {}\n}\n'
    else:
        text = '{\n  "bundles": [\n' + ",\n".join(chunks) + '\n  ],\n  "indexes": {\n' + indexes + "\n  }\n}\n"
    return text.encode("utf-8")


def _module_chunk(module: BundleModule, position: int, memo: ChunkMemo | None, used: ChunkMemo | None) -> str:
    key = (
        position,
        module.id,
        module.entry,
        module.expose,
        module.order,
        tuple((version.origin, version.parsed, tuple(version.deps.items())) for version in module.versions),
    )
    chunk = memo.get(key) if memo is not None else None
    if chunk is None:
        text = json.dumps(_module(module, position), indent=2, sort_keys=True, ensure_ascii=False)
        chunk = _MODULE_INDENT + text.replace("\n", "\n" + _MODULE_INDENT)
    if used is not None:
        used[key] = chunk
    return chunk


def _module(module: BundleModule, position: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": module.id,
        "index": position,
        "variations": [version.origin.folder for version in module.versions],
        "data": [_data_entry(version) for version in module.versions],
    }
    if module.entry:
        out["entry"] = True
    if module.expose is not None:
        out["expose"] = module.expose
    if module.order is not None:
        out["order"] = module.order
    return out


def _data_entry(version: ModuleVersion) -> dict[str, Any]:
    return {
        "id": version.origin.module_id,
        "file": version.origin.file,
        "variation": version.origin.folder,
        "source": version.parsed.source,
        "sha": version.parsed.sha,
        "blake3": version.parsed.blake3,
        "deps": dict(sorted(version.deps.items())),
        **_lazy_field(version),
        **_original_field(version),
    }


def _lazy_field(version: ModuleVersion) -> dict[str, Any]:
    """`lazy`: the deps reached only by `import()` (absent when none, as mendel-core writes it)."""
    lazy = sorted(spec for spec in version.parsed.lazy if version.deps.get(spec) not in (None, False))
    return {"lazy": lazy} if lazy else {}


def _original_field(version: ModuleVersion) -> dict[str, Any]:
    """`original`: a compiled source's edits, reversed (absent when the source is the file)."""
    original = version.parsed.original
    return {"original": original} if original else {}
