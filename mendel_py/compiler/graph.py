"""Collect a bundle's modules: every folder's version of every module reachable from its roots.

Starting from the entries (and exposed modules), each module id is looked up in the base folder
and in every variation folder; each version found is parsed and its own dependencies resolved
(a variation may add or drop a dependency), and every module any version reaches joins the
bundle. So a file that exists only in a variation joins through the variation that requires it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..core.hashcodec import file_blake3
from .assets import fill
from .errors import BuildError
from .layout import ModuleRef, ProjectLayout, SourceFile
from .resolver import Resolved, Resolver
from .sources import ParsedSource, SourceLoader

Deps = dict[str, "str | Literal[False]"]  # specifier -> module id, or False: outside the bundle


@dataclass(frozen=True)
class ModuleVersion:
    """One `data` entry: a module as found in one folder, with its resolved dependencies."""

    origin: SourceFile
    parsed: ParsedSource
    deps: Deps


@dataclass
class BundleModule:
    """One entry of a manifest's `bundles` array."""

    id: str
    versions: list[ModuleVersion]
    entry: bool = False
    expose: str | None = None
    order: int | None = None


@dataclass
class BundleGraph:
    """The modules of one bundle, by id, and its roots in configuration order."""

    modules: dict[str, BundleModule] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BundleSpec:
    """What the graph needs from a bundle's configuration."""

    id: str
    entries: tuple[str, ...]
    expose: dict[str, str]
    externals: tuple[str, ...]
    style: bool
    source: str | None  # the .mendelrc that configures it, for error messages


def collect_bundle(
    spec: BundleSpec,
    layout: ProjectLayout,
    loader: SourceLoader,
    on_file: Callable[[], None] | None = None,
) -> BundleGraph:
    """Walk the bundle from its roots through every folder's version of every module."""
    resolver = Resolver(layout, spec.externals)
    graph = BundleGraph()
    rooted: dict[str, bool] = {}
    pending: list[ModuleRef] = []

    def enqueue(ref: ModuleRef, requirer: str | None) -> None:
        known = rooted.get(ref.id)
        if known is None:
            rooted[ref.id] = ref.rooted
            pending.append(ref)
        elif known != ref.rooted:
            raise BuildError(
                f"module id {ref.id!r} names both a file in the base folder and a file outside it",
                requirer,
            )

    roots = _roots(spec, resolver)
    for ref, _name in roots:
        enqueue(ref, spec.source)
        graph.roots.append(ref.id)
    while pending:
        ref = pending.pop()
        module = BundleModule(ref.id, [])
        origins = layout.versions(ref)
        for origin in origins:
            parsed = loader.load(origin.file)
            deps = _resolve_deps(parsed, origin, resolver)
            for target in deps.values():
                if target is not False:
                    enqueue(target, origin.file)
            if parsed.asset_urls:
                module.versions += _with_asset_urls(parsed, origin, origins, layout, resolver, loader, _dep_ids(deps))
            else:
                module.versions.append(ModuleVersion(origin, parsed, _dep_ids(deps)))
            if on_file is not None:
                on_file()
        if len(module.versions) > len(origins):
            module.versions.sort(key=lambda version: layout.folders.index(version.origin.folder))
        graph.modules[ref.id] = module
    _mark_roots(spec, graph, {name: ref for ref, name in roots})
    if spec.style:
        _assign_css_order(graph)
    return graph


def _roots(spec: BundleSpec, resolver: Resolver) -> list[tuple[ModuleRef, str]]:
    """The entry and exposed modules, resolved, in configuration order."""
    if not spec.entries and not spec.expose:
        raise BuildError(f"bundle {spec.id!r} has no entries", spec.source)
    roots = []
    for name in (*spec.entries, *spec.expose):
        ref = resolver.resolve_entry(name, spec.style)
        if ref is None:
            raise BuildError(
                f"bundle {spec.id!r}: entry {name!r} is not a file in the base folder or any "
                "variation folder (entries are paths relative to the base folder)",
                spec.source,
            )
        roots.append((ref, name))
    return roots


def _mark_roots(spec: BundleSpec, graph: BundleGraph, refs: dict[str, ModuleRef]) -> None:
    """`entry` and `expose` on the root modules; `refs`: each root's name -> its module (`_roots`)."""
    for name in spec.entries:
        graph.modules[refs[name].id].entry = True
    for name, public in spec.expose.items():
        graph.modules[refs[name].id].expose = public


def _resolve_deps(parsed: ParsedSource, origin: SourceFile, resolver: Resolver) -> dict[str, Resolved]:
    """Each distinct specifier of one file version -> its module (or False), in source order."""
    deps: dict[str, Resolved] = {}
    for found in parsed.dependencies:
        if found.spec not in deps:
            deps[found.spec] = resolver.resolve(found.spec, origin, found.line, parsed.is_style, found)
    return deps


def _with_asset_urls(
    parsed: ParsedSource,
    origin: SourceFile,
    origins: list[SourceFile],
    layout: ProjectLayout,
    resolver: Resolver,
    loader: SourceLoader,
    deps: Deps,
) -> list[ModuleVersion]:
    """A stylesheet version with its url(...) references written as asset URLs; for a file of
    the base folder, also one version per variation folder that has no version of its own and
    overrides one of those assets (the same file, that folder's asset URLs written in)."""

    def written(where: SourceFile) -> tuple[tuple[str, ...], ParsedSource]:
        files = tuple(resolver.resolve_asset(url.spec, where, url.line, url.column) for url in parsed.asset_urls)
        source = fill(parsed.pieces, (loader.assets.url(file) for file in files))
        encoded = source.encode("utf-8")
        return files, dataclasses.replace(
            parsed, source=source, sha=hashlib.sha1(encoded).hexdigest(), blake3=file_blake3(source).hex(),
            asset_files=files,
        )

    files, own = written(origin)
    versions = [ModuleVersion(origin, own, deps)]
    if origin.folder != layout.base_dir or origin.rooted:
        return versions
    have = {version.folder for version in origins}
    for folder in layout.variation_dirs:
        if any(seen in have for seen in layout.scope(folder) if seen != layout.base_dir):
            continue  # that folder's walk takes a version of its own (or of a folder it inherits)
        where = SourceFile(folder, origin.module_id, origin.file)
        their_files, theirs = written(where)
        # only a folder that overrides an asset itself: one that inherits the override takes
        # the version of the folder it inherits from
        if their_files != files and any(file.startswith(folder + "/") for file in their_files):
            versions.append(ModuleVersion(where, theirs, deps))
    return versions


def _dep_ids(deps: dict[str, Resolved]) -> Deps:
    return {spec: target if target is False else target.id for spec, target in deps.items()}


def _assign_css_order(graph: BundleGraph) -> None:
    """`order` for stylesheets: imports before importers (post-order from the entries).

    Each module's versions are visited base first, then variations; each version's imports in
    source order. Only entries are roots here: a stylesheet is ordered where it is imported.
    """
    order: list[str] = []
    visited: set[str] = set()

    def visit(module_id: str) -> None:
        stack: list[tuple[str, list[str]]] = [(module_id, _children(graph, module_id))]
        visited.add(module_id)
        while stack:
            current, children = stack[-1]
            if children:
                child = children.pop(0)
                if child not in visited and child in graph.modules:
                    visited.add(child)
                    stack.append((child, _children(graph, child)))
            else:
                stack.pop()
                order.append(current)

    for root in graph.roots:
        if root not in visited:
            visit(root)
    for module_id in sorted(set(graph.modules) - visited):
        visit(module_id)
    for position, module_id in enumerate(order):
        graph.modules[module_id].order = position


def _children(graph: BundleGraph, module_id: str) -> list[str]:
    children: list[str] = []
    for version in graph.modules[module_id].versions:
        children.extend(target for target in version.deps.values() if target is not False)
    return list(dict.fromkeys(children))
