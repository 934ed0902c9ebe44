"""Turn a bundle graph into Mendel v1 manifest bytes, byte-identical on any machine.

Layout as Mendel's manifest post-processing leaves it: `indexes` and `bundles` sorted by module
id, each module's `data` in the order of its `variations` (base first, then variation folders in
configuration order), every `deps` object sorted by specifier. The JSON is written with sorted
keys, two-space indentation, UTF-8 without escaping, and a trailing newline: no timestamps, no
absolute paths.
"""
from __future__ import annotations

import json
from typing import Any

from .graph import BundleGraph, BundleModule, ModuleVersion


def manifest_document(graph: BundleGraph) -> dict[str, Any]:
    """The manifest as a JSON-ready dict."""
    ids = sorted(graph.modules)
    return {
        "indexes": {module_id: position for position, module_id in enumerate(ids)},
        "bundles": [_module(graph.modules[module_id], position) for position, module_id in enumerate(ids)],
    }


def manifest_bytes(graph: BundleGraph) -> bytes:
    """The manifest file's exact bytes."""
    text = json.dumps(manifest_document(graph), indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


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
    }
