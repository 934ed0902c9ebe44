"""The manifest validator: parsed Mendel v1 JSON -> a compiled `Manifest`, or a ManifestError
naming the file, the module and the field, e.g. ``main.manifest.json: bundles[12] ("a.js"):
data[1].deps["./b"] -> "b.js" is not in indexes``.

Every entry's digests are checked against its source here, once: a `sha` of sha1's length must be
the sha1 of the source (other lengths are opaque ids, as Mendel allows) and a `blake3`, when given,
the blake3 of it; a mismatch is a ManifestError naming the file, module and field, so a tampered or
half-edited manifest never serves new bytes under an old hash.
"""

from __future__ import annotations

import hashlib
import re
from operator import itemgetter
from typing import Any, TypeGuard, TypeVar

from ..errors import ManifestError
from .hashcodec import file_blake3
from .manifest_model import (
    KNOWN_ENTRY_FIELDS,
    Entry,
    Manifest,
    Module,
    assemble,
    js_key_order,
    pack_source,
)

__all__ = ["compile_manifest"]

_BLAKE3_HEX = re.compile(r"[0-9a-f]{64}")
_SHA1_HEX_LENGTH = 40
T = TypeVar("T")


def compile_manifest(data: Any, path: str, bundle: str) -> Manifest:
    """Validate a parsed manifest and compile it; `path` is only used in error messages."""
    return _Compiler(data, path, bundle).compile()


class _Compiler:
    """Validates a parsed manifest module by module and builds the compact modules."""

    def __init__(self, data: Any, path: str, bundle: str):
        self.data = data
        self.path = path
        self.bundle = bundle
        self.source_bytes_seen = 0
        # one object per distinct folder, specifier and folder list, shared by all that name it
        self.objects: dict[Any, Any] = {}

    def fail(self, message: str, module: str | None = None, field: str | None = None) -> ManifestError:
        return ManifestError(message, self.path, module, field)

    def compile(self) -> Manifest:
        indexes, raw_modules = self.top_level()
        ids = list(indexes)  # by position, once every position is checked below
        modules = tuple(self.module(i, raw, indexes, ids) for i, raw in enumerate(raw_modules))
        return assemble(self.path, self.bundle, modules, self.source_bytes_seen)

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
        # every module checks that indexes names it at its position, so this is a permutation
        return dict(sorted(indexes.items(), key=itemgetter(1))), modules

    def module(self, position: int, raw: Any, indexes: dict[str, int], ids: list[str]) -> Module:
        where = f"bundles[{position}]"
        if not isinstance(raw, dict):
            raise self.fail(f"{where}: a module must be an object", field=where)
        module_id = raw.get("id")
        if not isinstance(module_id, str):
            raise self.fail(f'{where}: "id" must be a string', field=f"{where}.id")
        where = f'{where} ("{module_id}")'
        if indexes.get(module_id) != position:
            raise self.fail(f'{where}: indexes["{module_id}"] must be {position}', module_id, "indexes")
        module_id = ids[position]  # the same string, as the one object every reference shares
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
        folders = self.shared(tuple(self.shared(folder) for folder in variations))
        entries = tuple(
            self.entry(_Where(where, module_id, j), item, folders[j], indexes, ids) for j, item in enumerate(data)
        )
        return Module(module_id, position, entry, expose, order, folders, entries)

    def shared(self, value: T) -> T:
        return self.objects.setdefault(value, value)

    def entry(self, at: _Where, item: Any, folder: str, indexes: dict[str, int], ids: list[str]) -> Entry:
        if not isinstance(item, dict):
            raise self.fail(f"{at.where}: {at.field} must be an object", at.module, at.field)
        for name in ("id", "file", "source", "sha"):
            if type(item.get(name)) is not str:
                raise at.error(self, name, "must be a string")
        if item.get("variation", folder) != folder:
            raise at.error(self, "variation", f'is "{item["variation"]}" but variations[{at.j}] is "{folder}"')
        specs, targets, successors = self.deps(at, item.get("deps", {}), indexes)
        lazy = self.lazy(at, item.get("lazy"), specs, targets)
        sha_text = item["sha"]
        sha = self.sha_bytes(at, sha_text)
        utf8 = self.utf8(at, item["source"])
        blake3 = self.check_digests(at, utf8, sha_text, item.get("blake3"))
        extra = {key: item[key] for key in item.keys() - KNOWN_ENTRY_FIELDS} or None
        return Entry(
            module_id if (module_id := at.module) == item["id"] else item["id"],
            item["file"], folder, pack_source(utf8), sha, blake3, specs, targets, successors, lazy, extra,
            None if sha.hex() == sha_text else sha_text, ids,
        )

    def deps(
        self, at: _Where, deps: Any, indexes: dict[str, int]
    ) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
        """(specifiers, their module indices or -1 for false, successors in JS key order)."""
        if not isinstance(deps, dict):
            raise at.error(self, "deps", "must be an object")
        targets = []
        for spec, target in deps.items():
            if target is False:
                targets.append(-1)
                continue
            if type(target) is not str:
                raise at.error(self, f'deps["{spec}"]', "must be a module id or false")
            index = indexes.get(target)
            if index is None:
                raise self.fail(
                    f'{at.where}: {at.field}.deps["{spec}"] -> "{target}" is not in indexes',
                    at.module, f'{at.field}.deps["{spec}"]',
                )
            targets.append(index)
        specs = tuple(self.shared(spec) for spec in deps)
        if any(spec[:1].isdigit() for spec in specs):  # array-index keys come first in JS
            position = {spec: k for k, spec in enumerate(specs)}
            ordered = [targets[position[spec]] for spec in js_key_order(list(specs))]
        elif -1 not in targets:
            return specs, (same := tuple(targets)), same  # the common case: one tuple, not two
        else:
            ordered = targets
        return specs, tuple(targets), tuple(t for t in ordered if t >= 0)

    def lazy(self, at: _Where, lazy: Any, specs: tuple[str, ...], targets: tuple[int, ...]) -> tuple[str, ...]:
        if lazy is None:
            return ()
        named = {spec for spec, target in zip(specs, targets) if target >= 0}
        if not _is_str_list(lazy) or any(spec not in named for spec in lazy):
            raise at.error(
                self, "lazy", "must list specifiers of deps that name a module"
                " (the ones a file reaches only through import())",
            )
        return tuple(self.shared(spec) for spec in lazy)

    def sha_bytes(self, at: _Where, text: str) -> bytes:
        try:
            digest = bytes.fromhex(text)
        except ValueError:
            digest = None
        if digest is None or 2 * len(digest) != len(text):  # fromhex also skips spaces
            raise at.error(self, "sha", "must be hex digits")
        return digest

    def utf8(self, at: _Where, source: str) -> bytes:
        try:
            return source.encode("utf-8")
        except UnicodeEncodeError:
            raise at.error(self, "source", "is not valid Unicode (a lone surrogate)") from None

    def check_digests(self, at: _Where, data: bytes, sha: str, blake3: Any) -> bytes:
        """The source's blake3, after checking that `sha` (if sha1-long) and `blake3` (if given)
        are the digests of its UTF-8 `data`."""
        if blake3 is not None and not (type(blake3) is str and _BLAKE3_HEX.fullmatch(blake3)):
            raise at.error(self, "blake3", "must be 64 lowercase hex digits")
        actual = file_blake3(data)
        if blake3 is not None and blake3 != actual.hex():
            raise at.error(self, "blake3", _MISMATCH)
        if len(sha) == _SHA1_HEX_LENGTH and hashlib.sha1(data).hexdigest() != sha.lower():
            raise at.error(self, "sha", _MISMATCH)
        self.source_bytes_seen += len(data)
        return actual


_MISMATCH = "does not match its source (the manifest was edited or is corrupt: rebuild it with `mendel build`)"


class _Where:
    """Where an entry is, for error messages: `bundles[3] ("a.js")`, module "a.js", `data[1]`."""

    __slots__ = ("where", "module", "j")

    def __init__(self, where: str, module: str, j: int):
        self.where = where
        self.module = module
        self.j = j

    @property
    def field(self) -> str:
        return f"data[{self.j}]"

    def error(self, compiler: _Compiler, name: str, problem: str) -> ManifestError:
        field = f"{self.field}.{name}"
        return compiler.fail(f"{self.where}: {field} {problem}", self.module, field)


def _is_str_list(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
