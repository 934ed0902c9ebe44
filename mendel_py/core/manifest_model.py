"""A compiled Mendel v1 manifest (`Manifest`): its modules (`Module`) and their data entries
(`Entry`), each with the successor module indices the walk follows and its digests as bytes, so a
walk touches only integers, tuples and bytes. Made by `manifest_check.compile_manifest` (from
parsed JSON) or by `manifest` (from the compiled form kept on disk).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType
from typing import Any, TypeVar

import lz4.block

__all__ = ["KNOWN_ENTRY_FIELDS", "Entry", "Manifest", "Module", "assemble", "js_key_order", "pack_source"]

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2
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
KNOWN_ENTRY_FIELDS = frozenset((*_ENTRY_FIELDS, "lazy"))


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
