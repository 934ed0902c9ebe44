"""Mendel v1 manifests: load, validate once, compile into a walk-ready form.

Every entry's digests are checked against its source here, once: a `sha` of sha1's length must be
the sha1 of the source (other lengths are opaque ids, as Mendel allows) and a `blake3`, when given,
the blake3 of it; a mismatch is a ManifestError naming the file, module and field, so a tampered or
half-edited manifest never serves new bytes under an old hash.

A compiled `Manifest` holds, per module, the successor module indices of each data entry (dependency
keys in JavaScript's object-key order, `false` dropped) and each entry's digests as bytes, so a walk
touches only integers, tuples and bytes. Every validation error names the file, the module and the
field, e.g. ``main.manifest.json: bundles[12] ("a.js"): data[1].deps["./b"] -> "b.js" is not in
indexes``.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import ManifestError
from .hashcodec import file_blake3

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_BLAKE3_HEX = re.compile(r"[0-9a-f]{64}")
_SHA1_HEX_LENGTH = 40


def js_key_order(keys: list[str]) -> list[str]:
    """Order object keys as JavaScript does: array-index keys ascending first, then the rest."""
    indexes = [k for k in keys if _is_array_index(k)]
    if not indexes:
        return keys
    rest = [k for k in keys if not _is_array_index(k)]
    return sorted(indexes, key=int) + rest


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


@dataclass(frozen=True, slots=True, eq=False)
class Module:
    """One module of a bundle with every version of it (`entries[i]` is found in `folders[i]`).

    `folders` is the manifest's `variations` field: variation *folders*, not variation ids.
    """

    id: str
    index: int
    entry: bool
    expose: str | None
    order: float | None
    folders: tuple[str, ...]
    entries: tuple[Mapping[str, Any], ...]

    @property
    def variations(self) -> tuple[str, ...]:
        """Deprecated name of `folders` (the manifest field's name)."""
        warnings.warn("Module.variations is deprecated; use Module.folders", DeprecationWarning, stacklevel=2)
        return self.folders


@dataclass(frozen=True, slots=True, eq=False)
class Manifest:
    """A validated manifest compiled for walking. Indices are positions in `modules`."""

    path: str
    bundle: str
    modules: tuple[Module, ...]
    indexes: Mapping[str, int]
    roots: tuple[int, ...]
    branch_points: tuple[int, ...]
    folders: frozenset[str]
    source_bytes: int
    successors: tuple[tuple[tuple[int, ...], ...], ...]  # [module][entry] -> module indices
    sha: tuple[tuple[bytes, ...], ...]  # [module][entry] -> sha bytes
    blake3: tuple[tuple[bytes, ...], ...]  # [module][entry] -> 32-byte blake3 of the source
    # what other modules derive from this manifest once and keep with it (the packer's pieces)
    memo: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def first_entries(self) -> list[Mapping[str, Any]]:
        """Every module's first data entry, by index (made once, kept in `memo`)."""
        found = self.memo.get("first_entries")
        if found is None:
            found = self.memo.setdefault("first_entries", [m.entries[0] for m in self.modules])
        return found

    def digests(self, kind: str) -> tuple[tuple[bytes, ...], ...]:
        """Per-entry digests of one kind: "sha" (Mendel formats) or "blake3" (v3)."""
        return self.sha if kind == "sha" else self.blake3


def load_manifest(path: str, bundle: str, display: str | None = None) -> Manifest:
    """Read and compile the manifest at `path`; errors name it as `display` (default: `path`)."""
    shown = display or path
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ManifestError(
            f"no manifest for bundle {bundle!r} yet: run `mendel build` (after every source edit too)",
            shown,
        ) from None
    except OSError as exc:
        raise ManifestError(f"can't read manifest for bundle {bundle!r}: {exc.strerror}", shown) from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ManifestError(f"invalid JSON{where}: {getattr(exc, 'msg', exc)}", shown) from None
    return compile_manifest(data, shown, bundle)


def compile_manifest(data: Any, path: str, bundle: str) -> Manifest:
    """Validate a parsed manifest and compile it; `path` is only used in error messages."""
    return _Compiler(data, path, bundle).compile()


class _Compiler:
    """Validates a parsed manifest module by module and builds the walk tables."""

    def __init__(self, data: Any, path: str, bundle: str):
        self.data = data
        self.path = path
        self.bundle = bundle
        self.source_bytes_seen = 0

    def fail(self, message: str, module: str | None = None, field: str | None = None) -> ManifestError:
        return ManifestError(message, self.path, module, field)

    def compile(self) -> Manifest:
        indexes, raw_modules = self.top_level()
        modules = tuple(self.module(i, raw, indexes) for i, raw in enumerate(raw_modules))
        successors = tuple(
            tuple(self.successors(entry, indexes) for entry in module.entries) for module in modules
        )
        return Manifest(
            path=self.path,
            bundle=self.bundle,
            modules=modules,
            indexes=MappingProxyType(indexes),
            roots=tuple(m.index for m in modules if m.entry or m.expose),
            branch_points=tuple(m.index for m in modules if len(m.entries) > 1),
            folders=frozenset(folder for m in modules for folder in m.folders),
            source_bytes=self.source_bytes_seen,
            successors=successors,
            sha=tuple(tuple(bytes.fromhex(e["sha"]) for e in m.entries) for m in modules),
            blake3=tuple(tuple(bytes.fromhex(e["blake3"]) for e in m.entries) for m in modules),
        )

    def top_level(self) -> tuple[dict[str, int], list[Any]]:
        if not isinstance(self.data, dict):
            raise self.fail("a manifest is a JSON object with \"indexes\" and \"bundles\"")
        indexes, modules = self.data.get("indexes"), self.data.get("bundles")
        if not isinstance(indexes, dict):
            raise self.fail('"indexes" must be an object of module id -> position', field="indexes")
        if not isinstance(modules, list):
            raise self.fail('"bundles" must be an array of modules', field="bundles")
        for module_id, position in indexes.items():
            if type(position) is not int or not 0 <= position < len(modules):
                raise self.fail(
                    f'indexes["{module_id}"] = {position!r} is not a position in bundles',
                    module_id, "indexes",
                )
        if len(indexes) != len(modules):
            raise self.fail(f"indexes has {len(indexes)} ids but bundles has {len(modules)} modules", field="indexes")
        return indexes, modules

    def module(self, position: int, raw: Any, indexes: dict[str, int]) -> Module:
        where = f"bundles[{position}]"
        if not isinstance(raw, dict):
            raise self.fail(f"{where}: a module must be an object", field=where)
        module_id = raw.get("id")
        if not isinstance(module_id, str):
            raise self.fail(f'{where}: "id" must be a string', field=f"{where}.id")
        where = f'{where} ("{module_id}")'
        if indexes.get(module_id) != position:
            raise self.fail(f'{where}: indexes["{module_id}"] must be {position}', module_id, "indexes")
        if raw.get("index", position) != position:
            raise self.fail(f'{where}: "index" is {raw.get("index")!r}, expected {position}', module_id, "index")
        variations = raw.get("variations")
        data = raw.get("data")
        if not isinstance(data, list) or not data:
            raise self.fail(f'{where}: "data" must be a non-empty array', module_id, "data")
        if not _is_str_list(variations) or len(variations) != len(data):
            raise self.fail(
                f'{where}: "variations" must be an array of {len(data)} folder names, one per data entry',
                module_id, "variations",
            )
        if len(set(variations)) != len(variations):
            raise self.fail(f'{where}: "variations" names a folder twice', module_id, "variations")
        entry, expose, order = raw.get("entry", False), raw.get("expose"), raw.get("order")
        if not isinstance(entry, bool):
            raise self.fail(f'{where}: "entry" must be true or false', module_id, "entry")
        if expose is not None and not (isinstance(expose, str) and expose):
            raise self.fail(f'{where}: "expose" must be a non-empty string', module_id, "expose")
        if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
            raise self.fail(f'{where}: "order" must be a number', module_id, "order")
        entries = tuple(
            self.entry(where, module_id, j, item, variations[j], indexes) for j, item in enumerate(data)
        )
        return Module(module_id, position, entry, expose, order, tuple(variations), entries)

    def entry(
        self, where: str, module_id: str, j: int, item: Any, folder: str, indexes: dict[str, int]
    ) -> Mapping[str, Any]:
        field = f"data[{j}]"
        if not isinstance(item, dict):
            raise self.fail(f"{where}: {field} must be an object", module_id, field)
        for name in ("id", "file", "source", "sha"):
            if not isinstance(item.get(name), str):
                raise self.fail(f'{where}: {field}.{name} must be a string', module_id, f"{field}.{name}")
        if item.get("variation", folder) != folder:
            raise self.fail(
                f'{where}: {field}.variation is "{item["variation"]}" but variations[{j}] is "{folder}"',
                module_id, f"{field}.variation",
            )
        if not _HEX.fullmatch(item["sha"]):
            raise self.fail(f'{where}: {field}.sha must be hex digits', module_id, f"{field}.sha")
        deps = item.get("deps", {})
        if not isinstance(deps, dict):
            raise self.fail(f'{where}: {field}.deps must be an object', module_id, f"{field}.deps")
        for spec, target in deps.items():
            if target is False:
                continue
            if not isinstance(target, str):
                raise self.fail(
                    f'{where}: {field}.deps["{spec}"] must be a module id or false',
                    module_id, f'{field}.deps["{spec}"]',
                )
            if target not in indexes:
                raise self.fail(
                    f'{where}: {field}.deps["{spec}"] -> "{target}" is not in indexes',
                    module_id, f'{field}.deps["{spec}"]',
                )
        lazy = item.get("lazy", [])
        if not _is_str_list(lazy) or any(not isinstance(deps.get(spec), str) for spec in lazy):
            raise self.fail(
                f"{where}: {field}.lazy must list specifiers of deps that name a module"
                " (the ones a file reaches only through import())",
                module_id, f"{field}.lazy",
            )
        entry = dict(item)
        entry.setdefault("variation", folder)
        entry["deps"] = MappingProxyType(dict(deps))
        if lazy:
            entry["lazy"] = tuple(lazy)
        digest = item.get("blake3")
        if digest is not None and not (isinstance(digest, str) and _BLAKE3_HEX.fullmatch(digest)):
            raise self.fail(f'{where}: {field}.blake3 must be 64 lowercase hex digits', module_id, f"{field}.blake3")
        source = self.source_bytes(where, module_id, field, item["source"])
        entry["blake3"] = self.checked_blake3(where, module_id, field, source, digest)
        self.check_sha(where, module_id, field, source, item["sha"])
        self.source_bytes_seen += len(source)
        return MappingProxyType(entry)

    def source_bytes(self, where: str, module_id: str, field: str, source: str) -> bytes:
        try:
            return source.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(
                f"{where}: {field}.source is not valid Unicode (a lone surrogate)", module_id, f"{field}.source"
            ) from None

    def checked_blake3(self, where: str, module_id: str, field: str, source: bytes, written: str | None) -> str:
        """The entry's blake3 hex: computed, and equal to the written one if there is one."""
        actual = file_blake3(source).hex()
        if written is not None and written != actual:
            raise self.fail(
                f"{where}: {field}.blake3 does not match its source (the manifest was edited or"
                " is corrupt: rebuild it with `mendel build`)",
                module_id, f"{field}.blake3",
            )
        return actual

    def check_sha(self, where: str, module_id: str, field: str, source: bytes, sha: str) -> None:
        """A sha1-length `sha` must be the sha1 of the source."""
        if len(sha) == _SHA1_HEX_LENGTH and hashlib.sha1(source).hexdigest() != sha.lower():
            raise self.fail(
                f"{where}: {field}.sha does not match its source (the manifest was edited or"
                " is corrupt: rebuild it with `mendel build`)",
                module_id, f"{field}.sha",
            )

    @staticmethod
    def successors(entry: Mapping[str, Any], indexes: dict[str, int]) -> tuple[int, ...]:
        deps = entry["deps"]
        return tuple(indexes[deps[key]] for key in js_key_order(list(deps)) if deps[key] is not False)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
