"""Helpers shared by the `mendel build` tests: write a small project and build it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mendel_py.compiler import BuildReport, build_manifests
from mendel_py.config import load_config
from mendel_py.config.model import MendelConfig

DEFAULT_RC = """\
base-config:
  dir: ./src/base
variation-config:
  variation-dirs:
    - ./src/variations
  variations:
    var_a:
    var_b:
    var_c:
      - var_a
bundles:
  main:
    entries:
      - main.js
    manifest: manifests/main.manifest.json
"""
# One folder (`src`), no variations, bundle `main` from `src/main.js`.
FLAT_RC = """\
base-config:
  dir: ./src
bundles:
  main:
    entries:
      - main.js
    manifest: manifests/main.manifest.json
"""


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write `{relative path: text}` under `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_project(root: Path, files: dict[str, str], mendelrc: str = DEFAULT_RC) -> MendelConfig:
    """Write a project (with a `.mendelrc`) and load its config."""
    write_files(root, {".mendelrc": mendelrc, **files})
    if mendelrc == DEFAULT_RC:  # its variations' folders exist, if only empty (SPEC §1)
        for name in ("var_a", "var_b", "var_c"):
            (root / "src" / "variations" / name).mkdir(parents=True, exist_ok=True)
    return load_config(str(root))


def build(root: Path, **kwargs: Any) -> BuildReport:
    return build_manifests(load_config(str(root)), **kwargs)


def manifest(root: Path, bundle: str = "main") -> dict[str, Any]:
    return json.loads((root / "manifests" / f"{bundle}.manifest.json").read_text(encoding="utf-8"))


def module(document: dict[str, Any], module_id: str) -> dict[str, Any]:
    return document["bundles"][document["indexes"][module_id]]


def deps_by_folder(document: dict[str, Any], module_id: str) -> dict[str, dict[str, Any]]:
    """`{variation folder: deps}` of one module."""
    found = module(document, module_id)
    return {entry["variation"]: entry["deps"] for entry in found["data"]}
