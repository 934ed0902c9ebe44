"""What the QA page shows (`Report`), gathered for one request from the trees, the request's
resolver and the packed bundles; no HTML and no HTTP here (`render` draws it, `page` serves it).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import MendelError
from ..experiments.assignment import Assignment, Experiment
from .matrix import Matrix, variation_matrix

if TYPE_CHECKING:
    from ..core.trees import MendelTrees, Tree
    from ..serving.request import RequestResolver

log = logging.getLogger(__name__)

__all__ = [
    "BundleInfo",
    "BundlePacker",
    "Report",
    "VariationInfo",
    "build_report",
    "bundle_info",
    "experiment_layers",
    "folder_owners",
    "variation_infos",
]


class Sized(Protocol):
    @property
    def size(self) -> int: ...


class BundlePacker(Protocol):
    """What the report needs of the server: the trees, and a tree's packed bundle (for its sizes)."""

    trees: MendelTrees

    def packed_bundle(self, bundle: str, tree: Tree, encoding: str = ...) -> Sized: ...


@dataclass(frozen=True)
class VariationInfo:
    id: str
    chain: tuple[str, ...]  # folders, base last
    inherits: tuple[str, ...]  # ids of the variations whose folders it inherits
    active: bool
    layer: str | None


@dataclass(frozen=True)
class BundleInfo:
    id: str
    hash: str
    url: str
    raw_bytes: int | None
    gzip_bytes: int | None
    files: int
    conflicts: tuple[str, ...]
    from_variations: tuple[tuple[str, str, str], ...]  # (module id, variation id, folder), walk order
    error: str | None = None


@dataclass
class Report:
    """Everything the page renders, gathered for one request."""

    variations: list[VariationInfo]
    active: list[str]
    source: str
    requested: list[str]
    ignored: list[str]
    bundles: list[BundleInfo]
    matrix: Matrix
    layers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    development: bool = False
    experiments: tuple[Experiment, ...] = ()
    assignments: dict[str, Assignment] = field(default_factory=dict)
    access_ends: int | None = None
    """When this browser's QA access ends (its token's expiry); None: development or the app's
    own check, which don't end with a token."""


def variation_infos(
    trees: Any, active: Iterable[str], layers: Mapping[str, Sequence[str]]
) -> list[VariationInfo]:
    """The configured variations in priority order, with what each inherits and its layer."""
    by_folder = {v.chain[0]: v.id for v in trees.variations}
    layer_of = {name: layer for layer, names in layers.items() for name in names}
    chosen = set(active)
    return [
        VariationInfo(
            id=v.id,
            chain=v.chain,
            inherits=tuple(by_folder[f] for f in v.chain[1:] if f in by_folder),
            active=v.id in chosen,
            layer=layer_of.get(v.id),
        )
        for v in trees.variations
    ]


def bundle_info(middleware: BundlePacker, resolver: RequestResolver, bundle: str) -> BundleInfo:
    """This browser's tree of `bundle`, its URL and its packed sizes."""
    try:
        tree = resolver.tree(bundle)
        url = resolver.bundle_url(bundle)
    except MendelError as error:
        return BundleInfo(bundle, "", "", None, None, 0, (), (), error=str(error))
    owners = folder_owners(middleware.trees)
    raw = gzipped = None
    try:
        raw = middleware.packed_bundle(bundle, tree).size
        gzipped = middleware.packed_bundle(bundle, tree, "gzip").size
    except Exception as error:  # the page still shows the tree when packing fails
        log.warning("QA page: packing %s failed: %s", bundle, error)
    return BundleInfo(
        id=bundle,
        hash=tree.hash,
        url=url,
        raw_bytes=raw,
        gzip_bytes=gzipped,
        files=tree.file_count,
        conflicts=tuple(tree.conflict_list),
        from_variations=tuple(
            (module, owners.get(folder, folder), folder) for module, folder in tree.variation_map.items()
        ),
    )


def folder_owners(trees: Any) -> dict[str, str]:
    """{folder: the id of the variation it belongs to}, the base folder included."""
    owners = {v.chain[0]: v.id for v in trees.variations}
    owners[trees.config.base_dir] = trees.config.base_id
    return owners


def build_report(
    middleware: BundlePacker,
    resolver: RequestResolver,
    layers: Mapping[str, Sequence[str]],
    development: bool,
) -> Report:
    trees = middleware.trees
    active = resolver.load_variations()[:-1]
    source, requested = resolver.decided_by or "nothing (base)", resolver.requested
    known = {v.id for v in trees.variations}
    experiments = trees.config.experiments
    if not layers and experiments:  # the experiments' layers, when the app names none
        layers = experiment_layers(experiments)
    return Report(
        variations=variation_infos(trees, active, layers),
        active=list(active),
        source=source,
        requested=requested,
        ignored=[name for name in requested if name not in known],
        bundles=[bundle_info(middleware, resolver, bundle) for bundle in trees.bundles],
        matrix=variation_matrix(trees),
        layers={layer: tuple(names) for layer, names in layers.items()},
        development=development,
        experiments=experiments,
        assignments={a.experiment: a for a in resolver.assignments},
    )


def experiment_layers(experiments: Sequence[Experiment]) -> dict[str, tuple[str, ...]]:
    """Each experiment layer with the variations its experiments choose among."""
    layers: dict[str, dict[str, None]] = {}
    for e in experiments:
        layers.setdefault(e.layer, {}).update(dict.fromkeys(v for v in e.variations if v))
    return {layer: tuple(names) for layer, names in layers.items()}
