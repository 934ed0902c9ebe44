"""`mendel build`: compile the sources of a `.mendelrc` project into Mendel v1 manifests.

    from mendel_py.config import load_config
    from mendel_py.compiler import build_manifests

    report = build_manifests(load_config("."))              # writes the changed manifests
    report = build_manifests(load_config("."), check=True)  # writes nothing; see report.stale

What goes in (per bundle of the `.mendelrc`): `entries` (paths relative to the base folder),
`serveAs: css` for stylesheet bundles, and two options: `external: [names]` (bare names the page
provides: `false` in deps, also for paths under them) and `expose: {module id: public name}`
(exposed modules are walk roots too); `jsx` (top level: factory and fragment) is
the project's JSX setting. The base folder and every variation folder that exists on
disk (chains from `config.variations(())`) are read.

What comes out: one manifest per bundle at its `manifest` path. Module ids are paths relative to
the base/variation folder (or, for files outside every folder such as a root `node_modules`, to
the project root); `variations` lists the folders that have the module, base first, then the
variation folders in configuration order; each data entry has id, file (relative to the project
root), variation, source, sha (sha1 hex of source), blake3 (hex), deps and, when some deps are
reached only by `import()`, `lazy`. Entry modules carry
`entry: true`, exposed ones `expose`, stylesheets `order` (imports before importers). Resolution
rules: `resolver.py`; scanners: `jsdeps.py` (tree-sitter, through `treesitter.py`, which the JSX
transform `jsx.py` shares), `cssdeps.py`; ES modules into registry
functions: `esm.py`; output format: `manifest_writer.py`;
the parse cache (`.mendel-cache/`, content-addressed): `parsecache.py`.

Packages resolve as a browser bundler resolves them (package.json `exports` conditions, `browser`,
`module`: `resolver.py`), and `process.env.NODE_ENV` is a build-time constant (`defines.py`).

Errors are `BuildError` with file and line. A failed build writes nothing.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .errors import BuildError
from .report import BuildReport, BundleResult

if TYPE_CHECKING:
    from ..config.model import BundleConfig, MendelConfig
    from .graph import BundleGraph, BundleSpec

__all__ = ["BuildError", "BuildProgress", "BuildReport", "BundleResult", "build_manifests", "bundle_spec"]


class BuildProgress(Protocol):
    """Receives progress: `start` once with an upper bound of files, `advance` per file done."""

    def start(self, total: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...


def build_manifests(
    config: MendelConfig,
    *,
    check: bool = False,
    progress: BuildProgress | None = None,
    use_cache: bool = True,
    node_env: str = "production",
) -> BuildReport:
    """Build every bundle's manifest; write the changed ones (or, with `check`, write nothing).
    A `BuildError` comes with its code frame (`BuildError.describe`).

    `node_env` is what `process.env.NODE_ENV` becomes in the built code (`defines.py`):
    "production" for `mendel build` whatever its `--env`; `mendel dev` builds "development"."""
    try:
        return _build_manifests(config, check, progress, use_cache, node_env)
    except BuildError as error:
        raise error.add_frame(config.root) from None


def _build_manifests(
    config: MendelConfig, check: bool, progress: BuildProgress | None, use_cache: bool, node_env: str
) -> BuildReport:
    from .._runtime.atomic import read_or_none, write_set_atomically
    from .._runtime.cachedir import CACHE_DIR
    from .assets import asset_store, set_asset_urls
    from .graph import collect_bundle
    from .layout import ProjectLayout
    from .manifest_writer import manifest_bytes
    from .parsecache import ParseCache
    from .sources import SourceLoader

    config.check_variations()  # a missing folder is an error before anything is read (SPEC §1)
    layout = ProjectLayout.from_config(config)
    cache = ParseCache(os.path.join(config.root, CACHE_DIR)) if use_cache else ParseCache.disabled()
    loader = SourceLoader(layout.absolute, cache, config.jsx, node_env)
    set_asset_urls(loader, config)
    if progress is not None:
        progress.start(layout.source_file_count)
    on_file = progress.advance if progress is not None else None

    outputs: list[tuple[BundleConfig, BundleGraph, bytes]] = []
    for bundle in config.bundles.values():
        graph = collect_bundle(bundle_spec(bundle, config), layout, loader, on_file)
        outputs.append((bundle, graph, manifest_bytes(graph)))

    # an experiment arm whose folders no bundle uses would serve control under the arm's name
    config.check_variations((), bundle_folders={
        version.origin.folder
        for _, graph, _ in outputs
        for module in graph.modules.values()
        for version in module.versions
    })
    results = []
    changed_files = []
    for bundle, graph, data in outputs:
        changed = read_or_none(bundle.manifest_path) != data
        if changed:
            changed_files.append((bundle.manifest_path, data))
        results.append(_bundle_result(bundle, graph, changed, config.root))
    if not check:  # the assets first: a manifest never names an asset the store lacks
        loader.assets.write(asset_store(config))
    if changed_files and not check:
        # all written, then all renamed: a build killed while writing changes no manifest, so
        # the set on disk is never new JS with old CSS (see `atomic.write_set_atomically`)
        write_set_atomically(changed_files, on_step=_fault_at)
    if not check:
        cache.save()
    return BuildReport(
        bundles=tuple(results),
        variations=tuple(variation.id for variation in config.variations(())),
        variation_dirs=layout.variation_dirs,
        overrides=_overrides(layout.variation_dirs, [graph for _, graph, _ in outputs]),
        files_read=len(loader.loaded),
        files_scanned=loader.scanned,
        check=check,
    )


def _fault_at(step: str, path: str) -> None:
    """Fault points `manifest-written:<file>` and `manifest-renamed:<file>` (`mendel_py.faults`)."""
    from .._runtime.faults import fault_point

    fault_point(f"manifest-{step}:{os.path.basename(path)}")


def bundle_spec(bundle: BundleConfig, config: MendelConfig) -> BundleSpec:
    """What the graph needs from one bundle's configuration (options checked here)."""
    from .graph import BundleSpec

    options: Mapping[str, Any] = bundle.options or {}
    source = _relative(config.path, config.root) if config.path else None
    return BundleSpec(
        id=bundle.id,
        entries=tuple(bundle.entries or ()),
        expose=_expose_option(options.get("expose"), bundle.id, source),
        externals=_external_option(options.get("external"), bundle.id, source),
        style=bundle.is_css,
        source=source,
    )


def _external_option(value: Any, bundle: str, source: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) and name for name in value):
        raise BuildError(f"bundle {bundle!r}: `external` must be a list of package names", source)
    return tuple(value)


def _expose_option(value: Any, bundle: str, source: str | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value):
        return {name: name for name in value}
    if isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(name, str) and name for key, name in value.items()
    ):
        return dict(value)
    raise BuildError(f"bundle {bundle!r}: `expose` must map module ids to public names", source)


def _bundle_result(bundle: BundleConfig, graph: BundleGraph, changed: bool, root: str) -> BundleResult:
    return BundleResult(
        id=bundle.id,
        manifest=_relative(bundle.manifest_path, root),
        serve_as=bundle.serve_as,
        modules=len(graph.modules),
        files=sum(len(module.versions) for module in graph.modules.values()),
        changed=changed,
    )


def _overrides(folders: tuple[str, ...], graphs: list[BundleGraph]) -> dict[str, int]:
    """Per variation folder: how many distinct files of it the bundles use."""
    files: dict[str, set[str]] = {folder: set() for folder in folders}
    for graph in graphs:
        for module in graph.modules.values():
            for version in module.versions:
                if version.origin.folder in files:
                    files[version.origin.folder].add(version.origin.file)
    return {folder: len(found) for folder, found in files.items()}


def _relative(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
