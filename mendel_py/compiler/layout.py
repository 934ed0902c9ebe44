"""The project on disk as the build sees it: the base and variation folders, and which files exist.

Paths here are POSIX paths relative to the project root (the `.mendelrc` folder). A module id is a
path relative to the base or variation folder that holds the file, so the same relative path has
the same id in every folder. Files outside every folder (a `node_modules` at the project root)
are "rooted": their id is their path from the project root and they belong to the base folder.
"""
from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.model import MendelConfig

SOURCE_EXTENSIONS = (".js", ".jsx", ".json", ".css")
SKIPPED_DIRS = ("node_modules",)
EMPTY_MODULE = "(empty)"
"""The module id and file (rooted, nothing on disk) of what a package.json `browser` map sends to
`false`: an empty CommonJS body, so `require("fs")` in the browser is `{}` as in browserify."""


@dataclass(frozen=True)
class ModuleRef:
    """A module as a dependency points at it: its id, and whether the id is a root path."""

    id: str
    rooted: bool = False


@dataclass(frozen=True)
class SourceFile:
    """One version of a module: the folder it comes from, the module id and the real file."""

    folder: str
    module_id: str
    file: str
    rooted: bool = False


def join(folder: str, relative: str) -> str:
    """`folder/relative` for root-relative folders, where the root itself is ""."""
    if not folder:
        return relative
    return f"{folder}/{relative}" if relative else folder


def ancestors(directory: str) -> list[str]:
    """`directory` and every parent up to the root "" (POSIX, relative)."""
    chain = [directory]
    while directory:
        directory = posixpath.dirname(directory)
        chain.append(directory)
    return chain


def normalise_folder(folder: str) -> str:
    """A folder as configured ("./src/base/") -> "src/base"; the root is ""."""
    normal = posixpath.normpath(folder.replace(os.sep, "/"))
    return "" if normal == "." else normal


class ProjectLayout:
    """The base folder, the variation folders (in manifest order) and a file index over them."""

    def __init__(self, root: str, base_dir: str, chains: Iterable[tuple[str, ...]]):
        self.root = root
        self.base_dir = normalise_folder(base_dir)
        chains = [tuple(normalise_folder(folder) for folder in chain) for chain in chains]
        self.variation_dirs = _first_seen(
            folder for chain in chains for folder in chain if folder != self.base_dir
        )
        self.folders = (self.base_dir, *self.variation_dirs)
        self.scopes = _scopes(self.base_dir, chains)
        self._by_length = sorted(self.folders, key=len, reverse=True)
        self._indexed: set[str] = set()
        self._source_count = 0
        self._isfile: dict[str, bool] = {}
        self._isdir: dict[str, bool] = {}
        for folder in self.folders:
            self._index_folder(folder)

    @classmethod
    def from_config(cls, config: MendelConfig) -> ProjectLayout:
        """The layout of a loaded config; variation chains as `config.variations(())` gives them."""
        chains = [tuple(variation.chain) for variation in config.variations(())]
        return cls(config.root, config.base_dir, chains)

    # ------------------------------------------------------------------ queries

    @property
    def source_file_count(self) -> int:
        """How many .js/.jsx/.json/.css files the folders hold (an upper bound of a build's work)."""
        return self._source_count

    def scope(self, folder: str) -> tuple[str, ...]:
        """The folders a file in `folder` sees: itself, the folders it inherits from, base."""
        return self.scopes.get(folder, (folder, self.base_dir))

    def exists(self, path: str) -> bool:
        """Whether `path` (relative to the root) is a file."""
        if path in self._indexed:
            return True
        if self._is_indexed_area(path):
            return False
        known = self._isfile.get(path)
        if known is None:
            known = self._isfile[path] = os.path.isfile(self.absolute(path))
        return known

    def has_files_under(self, directory: str) -> bool:
        """Whether the index holds a file below `directory` (relative to the root)."""
        prefix = directory.rstrip("/") + "/"
        return any(path.startswith(prefix) for path in self._indexed)

    def is_dir(self, path: str) -> bool:
        """Whether `path` (relative to the root) is a folder."""
        known = self._isdir.get(path)
        if known is None:
            known = self._isdir[path] = os.path.isdir(self.absolute(path))
        return known

    def absolute(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/")) if path else self.root

    def classify(self, path: str) -> ModuleRef:
        """The module a real file (relative to the root) is: in the innermost folder, or rooted."""
        for folder in self._by_length:
            if not folder:
                return ModuleRef(path)
            if path.startswith(folder + "/"):
                return ModuleRef(path[len(folder) + 1 :])
        return ModuleRef(path, rooted=True)

    def versions(self, ref: ModuleRef) -> list[SourceFile]:
        """Every folder's file for a module, base first, variations in manifest order."""
        if ref.rooted:
            return [SourceFile(self.base_dir, ref.id, ref.id, rooted=True)]
        return [
            SourceFile(folder, ref.id, join(folder, ref.id))
            for folder in self.folders
            if self.exists(join(folder, ref.id))
        ]

    # ------------------------------------------------------------------ index

    def _index_folder(self, folder: str) -> None:
        others = {other for other in self.folders if other != folder}
        pending = [folder]
        while pending:
            directory = pending.pop()
            try:
                entries = list(os.scandir(self.absolute(directory)))
            except OSError:
                continue
            for entry in entries:
                path = join(directory, entry.name)
                if entry.is_dir():
                    if entry.name.startswith(".") or entry.name in SKIPPED_DIRS or path in others:
                        continue
                    pending.append(path)
                elif entry.is_file():
                    self._indexed.add(path)
                    self._source_count += entry.name.endswith(SOURCE_EXTENSIONS)

    def _is_indexed_area(self, path: str) -> bool:
        """Whether the index answers for `path`: inside a folder, outside skipped subfolders."""
        owner = self.classify(path)
        if owner.rooted:
            return False
        parts = owner.id.split("/")[:-1]
        return not any(part.startswith(".") or part in SKIPPED_DIRS for part in parts)


def _first_seen(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _scopes(base_dir: str, chains: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """For each folder, the union of the chain tails that start at it (it, then what it inherits)."""
    scopes: dict[str, list[str]] = {base_dir: [base_dir]}
    for chain in chains:
        for position, folder in enumerate(chain):
            scopes.setdefault(folder, [])
            scopes[folder].extend(chain[position:])
    return {folder: _first_seen([*tail, base_dir]) for folder, tail in scopes.items()}
