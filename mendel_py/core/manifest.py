"""Mendel v1 manifests: load, validate once, compile into a walk-ready form.

Every entry's digests are checked against its source here, once: a `sha` of sha1's length must be
the sha1 of the source (other lengths are opaque ids, as Mendel allows) and a `blake3`, when given,
the blake3 of it; a mismatch is a ManifestError naming the file, module and field, so a tampered or
half-edited manifest never serves new bytes under an old hash.

A compiled `Manifest` holds its modules and their data entries (`Entry`): each with the successor
module indices the walk follows (dependency keys in JavaScript's object-key order, `false` dropped)
and its digests as bytes, so a walk touches only integers, tuples and bytes. Every validation error
names the file, the module and the field, e.g. ``main.manifest.json: bundles[12] ("a.js"):
data[1].deps["./b"] -> "b.js" is not in indexes``. The compiled form is kept on disk by the
manifest's digest (`manifest_cache`), so a process parses and checks a manifest's bytes only once.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any, TypeVar

import lz4.block

from .._runtime.allocator import return_freed_memory
from .._runtime.atomic import read_bytes
from ..errors import ManifestError
from . import manifest_cache
from .hashcodec import file_blake3

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2
_BLAKE3_HEX = re.compile(r"[0-9a-f]{64}")
_SHA1_HEX_LENGTH = 40
T = TypeVar("T")


def js_key_order(keys: list[str]) -> list[str]:
    """Order object keys as JavaScript does: array-index keys ascending first, then the rest."""
    indexes = [k for k in keys if _is_array_index(k)]
    if not indexes:
        return keys
    rest = [k for k in keys if not _is_array_index(k)]
    return sorted(indexes, key=int) + rest


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


class Entry(Mapping[str, Any]):
    """One data entry of a module (one file), as a read-only mapping with the manifest's fields:
    "id", "file", "variation", "source", "sha", "blake3", "deps" and, where present, "lazy" and
    any other field the manifest gave it.

    Entries are the bulk of a loaded manifest (30,000 of them in a large app), so each is a slotted
    object sharing its strings with the module, and its digests, dependencies and walk successors
    are kept once, in the form the walk and the packer use; "sha", "blake3" and "deps" are made
    as the manifest spelled them only when asked for.

    The source is kept LZ4-compressed (`pack_source`): sources are most of a manifest's memory
    (65 MiB of 30,000 modules' text, 31 MiB compressed), and a process reads each one once, when
    the packer makes the module's piece of bundle from `utf8_source` (about 2 µs to expand).
    """

    STORED = ("id", "_file", "variation", "_source", "sha", "blake3", "specs", "targets", "successors",
              "lazy", "extra", "_sha_text")
    """The fields a compiled manifest keeps, in the constructor's order (`ids` is the manifest's)."""
    __slots__ = (*STORED, "_ids")

    def __init__(
        self, id: str, file: str | None, variation: str, packed_source: bytes, sha: bytes, blake3: bytes,
        specs: tuple[str, ...], targets: tuple[int, ...], successors: tuple[int, ...],
        lazy: tuple[str, ...], extra: dict[str, Any] | None, sha_text: str | None, ids: Sequence[str],
    ):
        self.id = id
        # most files are "<folder>/<module id>": those are made when asked for, not kept
        self._file = None if file is None or file == f"{variation}/{id}" else file
        self.variation = variation
        self._source = packed_source  # pack_source(the source's UTF-8)
        self.sha = sha
        """The `sha` field's bytes (a sha1 of the source, or an opaque id of another length)."""
        self.blake3 = blake3
        """32 bytes: the blake3 of the source (v3 hashes are made of these)."""
        self.specs = specs
        """The `deps` keys, in the manifest's order, and `targets` their module indices (-1: false)."""
        self.targets = targets
        self.successors = successors
        """Module indices of the deps that name a module, in JavaScript's key order (the walk's)."""
        self.lazy = lazy
        self.extra = extra
        """Fields beyond the ones above, as the manifest gave them (None: none)."""
        self._sha_text = sha_text  # the `sha` field, when it isn't the lowercase hex of `sha`
        self._ids = ids

    def __getitem__(self, key: str) -> Any:
        field = _ENTRY_FIELDS.get(key)
        if field is not None:
            return field(self)
        if key == "lazy" and self.lazy:
            return self.lazy
        if self.extra is not None and key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from _ENTRY_FIELDS
        if self.lazy:
            yield "lazy"
        if self.extra is not None:
            yield from self.extra

    def __len__(self) -> int:
        return len(_ENTRY_FIELDS) + bool(self.lazy) + len(self.extra or ())

    def __repr__(self) -> str:
        return f"<Entry {self.file}>"

    @property
    def deps(self) -> Mapping[str, str | bool]:
        """The `deps` field: specifier -> module id, or false (an external module)."""
        ids = self._ids
        return MappingProxyType({
            spec: ids[target] if target >= 0 else False for spec, target in zip(self.specs, self.targets)
        })

    @property
    def source(self) -> str:
        """The file's text as the build left it (the `source` field)."""
        return self.utf8_source.decode("utf-8")

    @property
    def utf8_source(self) -> bytes:
        """The source as UTF-8 (what a bundle holds), expanded on each call: callers keep it."""
        return lz4.block.decompress(self._source)

    @property
    def file(self) -> str:
        """The file's path in the project (the `file` field)."""
        return self._file if self._file is not None else f"{self.variation}/{self.id}"

    @property
    def sha_text(self) -> str:
        """The `sha` field as the manifest spelled it."""
        return self._sha_text if self._sha_text is not None else self.sha.hex()


_ENTRY_FIELDS: dict[str, Callable[[Entry], Any]] = {
    "id": attrgetter("id"),
    "file": attrgetter("file"),
    "variation": attrgetter("variation"),
    "source": attrgetter("source"),
    "sha": attrgetter("sha_text"),
    "blake3": lambda entry: entry.blake3.hex(),
    "deps": attrgetter("deps"),
}
_KNOWN_FIELDS = frozenset((*_ENTRY_FIELDS, "lazy"))


def pack_source(utf8: bytes) -> bytes:
    """A source as an `Entry` keeps it: LZ4's block format, its size first. LZ4 over zlib: half
    the size for a tenth of the time to expand (2 µs against 10 µs for a 2 KB module), which a
    cold bundle request pays once per module."""
    return lz4.block.compress(utf8)


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
    entries: tuple[Entry, ...]

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
    # what other modules derive from this manifest once and keep with it (the packer's pieces)
    memo: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    # Tables by [module][entry], made on first use: the walk reads the entries themselves (a
    # 30,000-module manifest would hold 90,000 more tuples for them).
    @property
    def successors(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """[module][entry] -> module indices of the entry's deps, in JavaScript's key order."""
        return self._table("successors")

    @property
    def sha(self) -> tuple[tuple[bytes, ...], ...]:
        """[module][entry] -> the `sha` field's bytes."""
        return self._table("sha")

    @property
    def blake3(self) -> tuple[tuple[bytes, ...], ...]:
        """[module][entry] -> 32-byte blake3 of the source."""
        return self._table("blake3")

    def _table(self, field: str) -> tuple[tuple[Any, ...], ...]:
        read = attrgetter(field)
        return self._memoized(field, lambda: tuple(tuple(map(read, m.entries)) for m in self.modules))

    @property
    def first_entries(self) -> list[Entry]:
        """Every module's first data entry, by index (made once, kept in `memo`)."""
        return self._memoized("first_entries", lambda: [m.entries[0] for m in self.modules])

    @property
    def first_choices(self) -> list[tuple[int, int]]:
        """(index, 0) of every module by index: a tree's selection is gathered from these, then
        the few branch points that took another entry are put in (made once, kept in `memo`)."""
        return self._memoized("first_choices", lambda: [(m, 0) for m in range(len(self.modules))])

    def _memoized(self, key: str, make: Callable[[], T]) -> T:
        """`memo[key]`, made by `make()` on first use (a race only makes it twice; one is kept)."""
        found = self.memo.get(key)
        if found is None:
            found = self.memo.setdefault(key, make())
        return found


def assemble(path: str, bundle: str, modules: tuple[Module, ...], source_bytes: int) -> Manifest:
    """A Manifest of validated modules (indexed by position): the walk tables derived from them."""
    return Manifest(
        path=path,
        bundle=bundle,
        modules=modules,
        indexes=MappingProxyType({m.id: m.index for m in modules}),
        roots=tuple(m.index for m in modules if m.entry or m.expose),
        branch_points=tuple(m.index for m in modules if len(m.entries) > 1),
        folders=frozenset(folder for m in modules for folder in m.folders),
        source_bytes=source_bytes,
    )


def load_manifest(path: str, bundle: str, display: str | None = None) -> Manifest:
    """Read and compile the manifest at `path`; errors name it as `display` (default: `path`).

    The compiled form is kept on disk by the manifest's digest (`manifest_cache`), so only the
    first load of a manifest's bytes parses and checks them.
    """
    shown = display or path
    keep_compiled = manifest_cache.enabled()
    with _gc_paused():
        if keep_compiled:
            payload = manifest_cache.read(path, _reading(manifest_cache.file_digest, path, bundle, shown))
            if payload is not None and (kept := _from_payload(payload, shown, bundle)) is not None:
                return kept
        raw = _reading(read_bytes, path, bundle, shown)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            raise ManifestError(f"invalid JSON{where}: {getattr(exc, 'msg', exc)}", shown) from None
        body = manifest_cache.dumps(_payload(compile_manifest(data, shown, bundle)))
        del data
        if keep_compiled:  # filed under the digest of the bytes just compiled
            manifest_cache.write(path, manifest_cache.manifest_digest(raw), body)
        del raw
        # The manifest kept is made from the compiled form, as a later load makes it: its
        # objects then sit together instead of among the holes the parsed JSON leaves (a
        # 30,000-module manifest kept 215 MiB of the process this way, against 90 MiB).
        manifest = _build(manifest_cache.loads(body), shown, bundle)
        del body
    return_freed_memory()  # what the parse held (the kept manifest is made of new objects)
    return manifest


def _reading(read: Callable[[str], T], path: str, bundle: str, shown: str) -> T:
    """`read(path)`, its failures as ManifestErrors that say what to do."""
    try:
        return read(path)
    except FileNotFoundError:
        raise ManifestError(
            f"no manifest for bundle {bundle!r} yet: run `mendel build` (after every source edit too)",
            shown,
        ) from None
    except OSError as exc:
        raise ManifestError(f"can't read manifest for bundle {bundle!r}: {exc.strerror}", shown) from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building a large manifest makes hundreds of thousands of objects, and each batch of them
    would start a collection that traverses all the others (none is garbage): a quarter of the
    time of a load."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _payload(manifest: Manifest) -> tuple[Any, ...]:
    """A compiled manifest as plain values (what `manifest_cache` keeps), column by column.

    Columns, not a tuple per entry: loading then leaves a few large lists to free, which go back
    to the system whole, instead of 60,000 small tuples whose holes stay in the process (~10 MiB
    at 30,000 modules). What a walk reads comes first: the module numbers, then every entry's
    blake3 and sha. `marshal` makes each object where it first meets it and refers back to it
    after, so these objects are made side by side in memory, as parsing the JSON did; spread
    among the sources and paths, they made a cold walk a third slower.
    """
    modules = manifest.modules
    entries = [entry for module in modules for entry in module.entries]
    return (
        manifest.source_bytes,
        tuple(manifest.indexes.values()),
        [entry.blake3 for entry in entries],
        [entry.sha for entry in entries],
        [[getattr(m, name) for m in modules] for name in ("id", "entry", "expose", "order", "folders")],
        [len(m.entries) for m in modules],
        [[getattr(e, name) for e in entries] for name in Entry.STORED],
    )


def _from_payload(payload: Any, path: str, bundle: str) -> Manifest | None:
    """The manifest `_payload` made (None if the payload is not of that shape)."""
    try:
        return _build(payload, path, bundle)
    except (TypeError, ValueError, IndexError, AttributeError):
        return None


def _build(payload: Any, path: str, bundle: str) -> Manifest:
    source_bytes, numbers, _blake3, _sha, module_columns, counts, entry_columns = payload
    ids = module_columns[0]
    entries = iter([Entry(*fields, ids) for fields in zip(*entry_columns, strict=True)])
    modules = tuple(
        Module(module_id, numbers[position], entry, expose, order, folders, tuple(islice(entries, count)))
        for position, (module_id, entry, expose, order, folders, count)
        in enumerate(zip(*module_columns, counts, strict=True))
    )
    return assemble(path, bundle, modules, source_bytes)


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
        extra = {key: item[key] for key in item.keys() - _KNOWN_FIELDS} or None
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


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
