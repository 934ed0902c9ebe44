"""Builders for small, hand-checkable Mendel projects used across the test-suite."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

BASE = "src/base"
VARIATIONS = "src/variations"


def folder(variation: str) -> str:
    return BASE if variation == "base" else f"{VARIATIONS}/{variation}"


def manifest(modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A Mendel v1 manifest from {module id: {"entry"?, "expose"?, "order"?, variation: spec}}.

    Each variation spec is {"deps": {...}, "source": "...", "lazy"?: [...]} (source defaults from
    id and variation); variations are listed in the dict's order.
    """
    ids = sorted(modules)
    bundles = []
    for index, module_id in enumerate(ids):
        spec = dict(modules[module_id])
        flags = {key: spec.pop(key) for key in ("entry", "expose", "order") if key in spec}
        data, variations = [], []
        for variation, body in spec.items():
            source = body.get("source", f"/* {module_id} in {variation} */ module.exports = {index};")
            variations.append(folder(variation))
            data.append({
                "id": module_id,
                "file": f"{folder(variation)}/{module_id}",
                "variation": folder(variation),
                "source": source,
                "sha": hashlib.sha1(source.encode()).hexdigest(),
                "deps": body.get("deps", {}),
                **({"lazy": body["lazy"]} if "lazy" in body else {}),
            })
        bundles.append({"id": module_id, "index": index, **flags, "variations": variations, "data": data})
    return {"indexes": {module_id: i for i, module_id in enumerate(ids)}, "bundles": bundles}


SAMPLE_MAIN = {
    "main.js": {"entry": True, "base": {"deps": {"./components/header.js": "components/header.js",
                                                 "./components/button.js": "components/button.js",
                                                 "react": False}}},
    "components/header.js": {
        "base": {"deps": {"../lib/util.js": "lib/util.js"}},
        "feature_B": {"deps": {"./banner.js": "components/banner.js", "../lib/util.js": "lib/util.js"}},
    },
    "components/banner.js": {"feature_B": {"deps": {"../lib/util.js": "lib/util.js"}}},
    "components/button.js": {
        "base": {"deps": {"../lib/util.js": "lib/util.js"}},
        "bucket_A": {"deps": {"../lib/util.js": "lib/util.js"}},
        "partner_C": {"deps": {"../lib/util.js": "lib/util.js"}},
        "bucket_D": {"deps": {"../lib/util.js": "lib/util.js"}},
    },
    "lib/util.js": {"base": {"deps": {}}, "partner_C": {"deps": {}}},
}

SAMPLE_CSS = {
    "styles/main.css": {"entry": True, "order": 0, "base": {"source": "body { margin: 0 }"},
                        "bucket_A": {"source": "body { margin: 1px }"}},
    "styles/button.css": {"entry": True, "order": 1, "base": {"source": ".button { color: blue }"},
                          "bucket_D": {"source": ".button { color: red }"}},
}

SAMPLE_RC = """\
base-config:
  id: base
  dir: ./src/base
variation-config:
  variation-dirs:
    - ./src/variations
  variations:
    bucket_A:
    feature_B:
    partner_C:
    bucket_D:
      - partner_C
route-config:
  hash: /mendel/:hash/:bundle
bundles:
  main:
    manifest: manifests/main.manifest.json
  css:
    manifest: manifests/css.manifest.json
    serveAs: css
"""


def write_project(root: Path, rc: str = SAMPLE_RC, manifests: dict[str, dict] | None = None) -> Path:
    """Write a .mendelrc and manifests (bundle id -> module spec) into `root`; return root."""
    manifests = manifests if manifests is not None else {"main": SAMPLE_MAIN, "css": SAMPLE_CSS}
    if rc == SAMPLE_RC:  # variations these manifests have no folder of are, here, deliberately empty
        named = {variation for modules in manifests.values() for spec in modules.values() for variation in spec}
        empty = [v for v in ("bucket_A", "feature_B", "partner_C", "bucket_D") if v not in named]
        if empty:
            rc = rc.replace("route-config:", f"  deliberately-empty: [{', '.join(empty)}]\nroute-config:", 1)
    (root / ".mendelrc").write_text(rc)
    (root / "manifests").mkdir(exist_ok=True)
    for bundle, modules in manifests.items():
        path = root / "manifests" / f"{bundle}.manifest.json"
        path.write_text(json.dumps(manifest(modules), indent=2))
    return root
