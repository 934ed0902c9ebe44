"""A direct, slow transcription of mendel-core's walkers over raw manifest JSON: the test oracle.

It follows mendel-core 3.x/4.x line by line (recursive walk, a fresh visited list per root,
JavaScript key order for deps, first-match-wins branch choice with conflict counting), so the fast
walker in mendel_py.core.walk can be checked against it on generated manifests.
"""
from __future__ import annotations

import hashlib
from typing import Any

from mendel_py.core.manifest import js_key_order


class ReferenceWalker:
    def __init__(self, manifest: dict[str, Any], chains: list[list[str]] | None, base: str,
                 branches: list[int] | None = None):
        self.manifest = manifest
        self.chains = chains
        self.base = base
        self.branches = branches
        self.path_count = 0
        self.deps: dict[int, dict] = {}
        self.order: list[int] = []
        self.branch_list: list[int] = []
        self.shas: list[bytes] = []
        self.conflict_list: list[str] = []
        self.error: str | None = None

    def walk_bundle(self) -> ReferenceWalker:
        for module in self.manifest["bundles"]:
            if module.get("entry") or module.get("expose"):
                self._walk(module, set())
        return self

    def _walk(self, module: dict, visited: set[int]) -> None:
        dep = self._find(module)
        deps = dep.get("deps", {})
        for key in js_key_order(list(deps)):
            index = self.manifest["indexes"].get(deps[key]) if deps[key] is not False else None
            if index is None:
                continue
            if index not in visited:
                visited.add(index)
                self._walk(self.manifest["bundles"][index], visited)

    def _find(self, module: dict) -> dict:
        if module["index"] in self.deps:
            return self.deps[module["index"]]
        if len(module["data"]) == 1:
            resolved = module["data"][0]
        else:
            index, resolved = self._resolve_branch(module)
            self.branch_list.append(index)
        self.deps[module["index"]] = resolved
        self.order.append(module["index"])
        if "sha" in resolved:
            self.shas.append(bytes.fromhex(resolved["sha"]))
        return resolved

    def _resolve_branch(self, module: dict) -> tuple[int, dict]:
        if self.branches is not None:
            return self._resolve_by_hash(module)
        found_in, resolved, path_index = 0, None, 0
        for chain in self.chains:
            for folder in chain:
                if folder in module["variations"]:
                    index = module["variations"].index(folder)
                    if not found_in:
                        resolved, path_index = module["data"][index], index
                    if not found_in or folder != self.base:
                        found_in += 1
                    break
        if found_in > 1:
            self.conflict_list.append(module["id"])
        if resolved is None:
            raise LookupError(module["id"])
        return path_index, resolved

    def _resolve_by_hash(self, module: dict) -> tuple[int, dict]:
        if self.error:
            return -1, {}
        if self.path_count >= len(self.branches):
            self.error = "TRVRSL"
            self.path_count += 1
            return -1, {}
        index = self.branches[self.path_count]
        self.path_count += 1
        if index >= len(module["data"]):
            self.error = "TRVRSL"
            return index, {}
        return index, module["data"][index]

    def sha1_digest(self) -> bytes:
        return hashlib.sha1(b"".join(self.shas)).digest()

    def dep_ids(self) -> list[str]:
        return [self.deps[i]["id"] for i in sorted(self.deps)]
