"""Folders of derived files mendel_py keeps next to a project's own (`.mendel-cache/`)."""
from __future__ import annotations

import os

CACHE_DIR = ".mendel-cache"
"""The name of every such folder: next to the manifests (`core.manifest_cache`) and at the
project root (`compiler.parsecache`)."""


def make_cache_dir(path: str) -> None:
    """Create `path` if needed, with a `.gitignore` of `*` in it (as pytest does for its cache),
    so what is derived from a project's files never shows up as a change to commit."""
    os.makedirs(path, exist_ok=True)
    ignore = os.path.join(path, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w", encoding="utf-8") as handle:
            handle.write("*\n")
