"""An in-process build kept in memory between edits, for the development loop.

`build_manifests` reads every file and resolves every dependency on each run. `IncrementalBuild`
keeps the parsed files, the project layout and each bundle's graph, and on `update(changed)`:

- an edited file whose dependency specifiers are unchanged (the usual edit) is re-read and
  patched into the graphs that hold it: no resolution, no walk;
- an edited file whose specifiers changed re-collects the bundles that hold it;
- a file added or deleted (or anything else the layout can't answer for) re-indexes the folders
  and re-collects every bundle, still without re-parsing unchanged files;
- a changed `.mendelrc` (or the first update) builds everything.

Each bundle's manifest is then serialised through a chunk memo (`manifest_writer`) and written
only when its bytes changed. The output is byte for byte what `mendel build` writes with the same
`node_env` (a development build defines `process.env.NODE_ENV` as "development"). A failed
update raises `BuildError` and leaves the previous state and the manifests on disk as they were.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._runtime.atomic import read_or_none, write_atomically
from .._runtime.cachedir import CACHE_DIR
from ..errors import MendelError
from .assets import asset_store, set_asset_urls
from .errors import BuildError
from .graph import BundleGraph, collect_bundle
from .layout import ProjectLayout
from .manifest_writer import ChunkMemo, manifest_bytes
from .parsecache import ParseCache
from .sources import ParsedSource, SourceLoader

if TYPE_CHECKING:
    from ..config.model import MendelConfig


@dataclass
class _Bundle:
    graph: BundleGraph
    data: bytes
    files: frozenset[str]
    memo: ChunkMemo = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateResult:
    """What an update did: the bundles whose manifests were rewritten, and how it rebuilt."""

    written: tuple[str, ...]
    mode: str  # "none", "patch", "collect", "layout" or "full"


class IncrementalBuild:
    """The project's bundles kept built in memory; `update` applies edits to files on disk."""

    def __init__(self, config: MendelConfig, node_env: str = "development"):
        self.config = config
        self.node_env = node_env  # `process.env.NODE_ENV` in the built code (`defines.py`)
        self._cache = ParseCache(os.path.join(config.root, CACHE_DIR))
        self._state: _State | None = None
        self._failed: set[str] = set()

    # ------------------------------------------------------------------ public

    def rebuild(self) -> UpdateResult:
        """Read the `.mendelrc` again and build everything (parsed files are reused)."""
        from ..config import load_config

        config = load_config(self.config.root) if self.config.path else self.config
        return self._commit(_State.collect(config, self._cache, None, node_env=self.node_env), "full")

    def update(self, changed: Iterable[str]) -> UpdateResult:
        """Apply changes to these absolute paths; write the manifests whose bytes changed.

        Files of a failed update are retried with the next one, so an edit elsewhere can't hide
        a file that is still broken.
        """
        relative = {self._relative(path) for path in changed} | self._failed
        relative.discard(None)
        try:
            result = self._update(relative)  # type: ignore[arg-type]
        except MendelError as error:  # a broken file, or a broken .mendelrc (ConfigError)
            self._failed = relative  # type: ignore[assignment]
            if isinstance(error, BuildError):
                error.add_frame(self.config.root)  # the frame the overlay and terminal show
            raise
        self._failed = set()
        return result

    def _update(self, relative: set[str]) -> UpdateResult:
        if self._state is None or self._config_changed(relative):
            return self.rebuild()
        relative = {path for path in relative if not self._transient(path)}
        if not relative:
            return UpdateResult((), "none")
        if any(not self._modified_in_place(path) for path in relative):
            state = _State.collect(self.config, self._cache, self._state.loader, forget=relative)
            return self._commit(state, "layout")
        return self._update_files(relative)

    def watch_paths(self) -> list[str]:
        """What a watcher should watch: the base folder, the variation roots and the `.mendelrc`."""
        config = self.config
        folders = [config.base_dir, *config.variation_dirs]
        paths = [os.path.join(config.root, *folder.split("/")) for folder in folders]
        return [path for path in dict.fromkeys(paths) if os.path.isdir(path)] + (
            [config.path] if config.path else []
        )

    def save_cache(self) -> None:
        """Persist the parse cache (once, when the loop ends: it is one JSON file)."""
        self._cache.save()

    # ------------------------------------------------------------------ internals

    def _commit(self, state: _State, mode: str) -> UpdateResult:
        written = self._write(state)
        self._state = state
        self.config = state.config
        return UpdateResult(written, mode)

    def _write(self, state: _State) -> tuple[str, ...]:
        """Write each bundle whose bytes differ from the previous state's (or, first, the file's)."""
        written = []
        for bundle_id, bundle in state.bundles.items():
            path = state.config.bundles[bundle_id].manifest_path
            previous = self._state.bundles.get(bundle_id) if self._state is not None else None
            before = previous.data if previous is not None else read_or_none(path)
            if before != bundle.data:
                write_atomically(path, bundle.data)
                written.append(bundle_id)
        if written:
            state.loader.assets.write(asset_store(state.config))
        return tuple(written)

    def _update_files(self, files: set[str]) -> UpdateResult:
        """Edits to existing files: patch graphs when the specifiers are unchanged."""
        state = self._state
        assert state is not None
        touched = {b for b, bundle in state.bundles.items() if bundle.files & files}
        if not touched:
            return UpdateResult((), "none")
        built = set().union(*(state.bundles[b].files for b in touched)) & files
        # an asset a stylesheet references is written into it as a URL: re-walk to write the new one
        referenced = {
            file for b in touched for module in state.bundles[b].graph.modules.values()
            for version in module.versions for file in version.parsed.asset_files
        } & built
        for file in referenced:
            state.loader.assets.files.pop(file, None)
        modules = {file for file in built if file in state.loader.loaded}  # (not stylesheet-only assets)
        before = {file: state.loader.loaded.get(file) for file in modules}
        # every file parses before any is kept: a later file's error must leave the earlier ones
        # as they were, so the retry compares them with what the manifests were built from
        fresh = {file: state.loader.reparse(file) for file in sorted(modules)}
        state.loader.loaded.update(fresh)
        if all(_same_specifiers(before[file], fresh[file]) for file in fresh) and not referenced:
            bundles = {b: state.patched(b, fresh) if b in touched else state.bundles[b] for b in state.bundles}
            mode = "patch"
        else:
            bundles = {b: state.recollected(b) if b in touched else state.bundles[b] for b in state.bundles}
            mode = "collect"
        return self._commit(dataclasses.replace(state, bundles=bundles), mode)

    def _relative(self, path: str) -> str | None:
        relative = os.path.relpath(os.path.abspath(path), self.config.root)
        if relative.startswith(".."):
            return None
        relative = relative.replace(os.sep, "/")
        if relative.split("/")[0] == CACHE_DIR:
            return None
        return relative

    def _config_changed(self, relative: set[str]) -> bool:
        if self.config.path is None:
            return False
        return self._relative(self.config.path) in relative

    def _transient(self, relative: str) -> bool:
        """A path gone again that the build never knew (an editor's or `sed -i`'s temp file)."""
        assert self._state is not None
        layout = self._state.layout
        if os.path.lexists(layout.absolute(relative)):
            return False
        return not layout.exists(relative) and not layout.has_files_under(relative)

    def _modified_in_place(self, relative: str) -> bool:
        """True for a file the layout already indexes that is still a file."""
        assert self._state is not None
        layout = self._state.layout
        return layout.exists(relative) and os.path.isfile(layout.absolute(relative))


class _Loader(SourceLoader):
    """A SourceLoader whose parsed files outlive one build; `reparse` reads one file again."""

    def reparse(self, file: str) -> ParsedSource:
        """`file` parsed again (raising BuildError), not kept: the caller keeps a whole set."""
        self.assets.files.pop(file, None)  # an edited asset has another digest
        return self._parse(file)

    def forget(self, files: Iterable[str]) -> None:
        for file in files:
            self.loaded.pop(file, None)
            self.assets.files.pop(file, None)


@dataclass(frozen=True)
class _State:
    config: MendelConfig
    layout: ProjectLayout
    loader: _Loader
    bundles: dict[str, _Bundle]

    @classmethod
    def collect(
        cls,
        config: MendelConfig,
        cache: ParseCache,
        loader: _Loader | None,
        forget: Iterable[str] = (),
        node_env: str = "development",
    ) -> _State:
        """Index the folders and collect every bundle (reusing `loader`'s unchanged files)."""
        from . import bundle_spec

        layout = ProjectLayout.from_config(config)
        if loader is None:
            loader = _Loader(layout.absolute, cache, config.jsx, node_env)
            set_asset_urls(loader, config)
        loader.forget(forget)
        state = cls(config, layout, loader, {})
        for bundle in config.bundles.values():
            graph = collect_bundle(bundle_spec(bundle, config), layout, loader)
            state.bundles[bundle.id] = _bundle(graph, {})
        return state

    def recollected(self, bundle_id: str) -> _Bundle:
        from . import bundle_spec

        spec = bundle_spec(self.config.bundles[bundle_id], self.config)
        graph = collect_bundle(spec, self.layout, self.loader)
        return _bundle(graph, self.bundles[bundle_id].memo)

    def patched(self, bundle_id: str, fresh: dict[str, ParsedSource]) -> _Bundle:
        """The bundle's graph with the new parse of each edited file swapped in."""
        old = self.bundles[bundle_id]
        modules = {}
        for module_id, module in old.graph.modules.items():
            if any(version.origin.file in fresh for version in module.versions):
                versions = [
                    dataclasses.replace(v, parsed=fresh[v.origin.file]) if v.origin.file in fresh else v
                    for v in module.versions
                ]
                module = dataclasses.replace(module, versions=versions)
            modules[module_id] = module
        graph = BundleGraph(modules=modules, roots=list(old.graph.roots))
        return _bundle(graph, old.memo)


def _bundle(graph: BundleGraph, memo: ChunkMemo) -> _Bundle:
    new_memo: ChunkMemo = {}
    data = manifest_bytes(graph, memo=memo, used=new_memo)
    files = frozenset(v.origin.file for m in graph.modules.values() for v in m.versions) | frozenset(
        file for m in graph.modules.values() for v in m.versions for file in v.parsed.asset_files
    )
    return _Bundle(graph, data, files, new_memo)


def _same_specifiers(before: ParsedSource | None, after: ParsedSource) -> bool:
    if before is None or after.asset_urls:  # a stylesheet's asset URLs are written in by the walk
        return False
    return [d.spec for d in before.dependencies] == [d.spec for d in after.dependencies]
