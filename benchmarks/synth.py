"""Synthetic Mendel projects for benchmarks: a `.mendelrc` plus a Mendel v1 manifest.

The project mimics a large front-end app: a few entry points over a mostly downward module
graph (with a few cycles and external deps), variations in inheritance layers, each overriding
a handful of files, some overrides changing their deps or pulling in variation-only files.
Everything is deterministic from the seed.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

BASE_DIR = "src/base"
VARIATIONS_ROOT = "src/variations"
BUNDLE_ID = "main"
MANIFEST_PATH = "manifests/main.manifest.json"

_DIRS = (
    "components", "components/header", "components/footer", "components/forms",
    "components/media", "pages", "pages/account", "stores", "actions", "lib", "lib/net",
    "utils", "services", "views", "widgets", "i18n",
)
_WORDS = (
    "account", "action", "avatar", "banner", "button", "card", "cart", "carousel", "chart",
    "config", "dialog", "dispatch", "editor", "feed", "filter", "format", "grid", "header",
    "icon", "image", "input", "item", "layout", "link", "list", "loader", "logger", "menu",
    "modal", "nav", "notice", "pager", "panel", "player", "price", "profile", "query", "rating",
    "router", "search", "select", "session", "slider", "store", "stream", "tab", "table",
    "theme", "toast", "tooltip", "tracker", "upload", "user", "video", "view", "widget",
)
_EXTERNALS = ("react", "react-dom", "lodash/get", "classnames", "moment", "url", "events")
_IDENTS = ("props", "state", "data", "options", "result", "items", "node", "value", "ctx",
           "config", "event", "handler", "index", "count", "key", "payload", "response")
_ENTRY_COUNT = 3
_EXPOSED_COUNT = 1
_CYCLE_EDGE_PROBABILITY = 0.02
_EXTERNAL_PROBABILITY = 0.15
_VARIATION_ONLY_PROBABILITY = 0.4


@dataclass
class _Module:
    """One module as found in one folder."""

    id: str
    folder: str
    source: str
    deps: dict[str, str | bool]

    def entry(self) -> dict:
        """The manifest `data` entry for this module."""
        return {
            "id": self.id,
            "file": f"{self.folder}/{self.id}",
            "variation": self.folder,
            "source": self.source,
            "sha": hashlib.sha1(self.source.encode("utf-8")).hexdigest(),
            "deps": self.deps,
        }


@dataclass
class _Variation:
    id: str
    layer: int
    ancestors: list[str]          # parent first, then its ancestors

    @property
    def folder(self) -> str:
        return f"{VARIATIONS_ROOT}/{self.id}"


@dataclass
class _Project:
    rng: random.Random
    variations: list[_Variation]
    base: dict[str, _Module] = field(default_factory=dict)
    ranks: list[str] = field(default_factory=list)           # module ids, walk-depth order
    overrides: dict[str, dict[str, _Module]] = field(default_factory=dict)  # id -> folder -> module
    variation_only: dict[str, _Module] = field(default_factory=dict)


def write_synthetic_project(dest: str, modules: int = 2000, variations: int = 45,
                            layers: int = 5, override_ratio: float = 0.05,
                            dep_change_ratio: float = 0.3, seed: int = 1) -> str:
    """Write `.mendelrc`, the variation folders and the `main` manifest into `dest`; return it."""
    rng = random.Random(seed)
    project = _Project(rng=rng, variations=_make_variations(variations, layers))
    _make_base_modules(project, modules)
    _make_overrides(project, override_ratio, dep_change_ratio)
    os.makedirs(dest, exist_ok=True)
    _write_folders(dest, project)
    _write_mendelrc(dest, project)
    _write_json(os.path.join(dest, MANIFEST_PATH), _build_manifest(project))
    return dest


def variation_ids(variations: int = 45, layers: int = 5) -> list[list[str]]:
    """The variation ids of each layer, as `write_synthetic_project` names them."""
    per_layer = _layer_sizes(variations, layers)
    return [[_variation_id(layer, j) for j in range(size)] for layer, size in enumerate(per_layer)]


def random_variation_sets(n: int, seed: int = 1, variations: int = 45,
                          layers: int = 5) -> Iterator[list[str]]:
    """Yield `n` distinct variation-id lists, 1-4 ids each, every id from a different layer."""
    rng = random.Random(f"sets-{seed}")
    by_layer = [ids for ids in variation_ids(variations, layers) if ids]
    seen: set[frozenset[str]] = set()
    attempts = 0
    while len(seen) < n:
        attempts += 1
        if attempts > n * 100:
            raise ValueError(f"cannot draw {n} distinct variation sets from this project")
        chosen_layers = rng.sample(by_layer, rng.randint(1, min(4, len(by_layer))))
        names = [rng.choice(ids) for ids in chosen_layers]
        key = frozenset(names)
        if key not in seen:
            seen.add(key)
            yield names


# --- variations -------------------------------------------------------------------------------

def _layer_sizes(variations: int, layers: int) -> list[int]:
    layers = max(1, min(layers, variations))
    return [variations // layers + (1 if k < variations % layers else 0) for k in range(layers)]


def _variation_id(layer: int, j: int) -> str:
    return f"l{layer}_v{j:02d}"


def _make_variations(count: int, layers: int) -> list[_Variation]:
    """Layer k variations inherit one variation of layer k-1 (and, through the list, its chain)."""
    rng = random.Random(f"variations-{count}-{layers}")
    made: list[_Variation] = []
    previous: list[_Variation] = []
    for layer, ids in enumerate(variation_ids(count, layers)):
        current = []
        for vid in ids:
            parent = rng.choice(previous) if previous else None
            ancestors = [parent.id, *parent.ancestors] if parent else []
            current.append(_Variation(vid, layer, ancestors))
        made.extend(current)
        previous = current
    return made


# --- base module graph ------------------------------------------------------------------------

def _make_base_modules(project: _Project, count: int) -> None:
    rng = project.rng
    project.ranks = _module_ids(rng, count)
    children = _spanning_children(rng, len(project.ranks))
    for rank, module_id in enumerate(project.ranks):
        targets = _dep_targets(rng, rank, len(project.ranks), children[rank])
        deps = _deps_map(rng, module_id, [project.ranks[t] for t in targets])
        source = _js_source(rng, module_id, deps)
        project.base[module_id] = _Module(module_id, BASE_DIR, source, deps)


def _module_ids(rng: random.Random, count: int) -> list[str]:
    """`count` distinct ids like `components/header/menu_12.js`, in random (rank) order."""
    ids: set[str] = set()
    while len(ids) < count:
        ids.add(f"{rng.choice(_DIRS)}/{rng.choice(_WORDS)}_{rng.randrange(1000)}.js")
    ranked = sorted(ids)
    rng.shuffle(ranked)
    return ranked


def _spanning_children(rng: random.Random, count: int) -> list[list[int]]:
    """Give every non-entry rank one parent of lower rank, so the graph is reachable."""
    children: list[list[int]] = [[] for _ in range(count)]
    for rank in range(min(_ENTRY_COUNT + _EXPOSED_COUNT, count), count):
        parent = rng.randrange(rank)
        for _ in range(4):
            if len(children[parent]) < 5:
                break
            parent = rng.randrange(rank)
        children[parent].append(rank)
    return children


def _dep_targets(rng: random.Random, rank: int, count: int, children: list[int]) -> list[int]:
    """Ranks this module requires: its spanning children, topped up mostly downward (1-6 total)."""
    wanted = rng.randint(1, 6)
    targets = list(children)
    below = count - rank - 1
    attempts = 0
    while len(targets) < wanted and attempts < 20:
        attempts += 1
        if rng.random() < _CYCLE_EDGE_PROBABILITY or below <= 0:
            target = rng.randrange(count)
        else:
            target = rank + 1 + min(int(rng.expovariate(1 / 60)), below - 1)
        if target != rank and target not in targets:
            targets.append(target)
    rng.shuffle(targets)
    return targets


def _deps_map(rng: random.Random, module_id: str, dep_ids: list[str]) -> dict[str, str | bool]:
    """Require specifiers relative to the module, plus the odd external (`false`)."""
    deps: dict[str, str | bool] = {_specifier(module_id, dep): dep for dep in dep_ids}
    if rng.random() < _EXTERNAL_PROBABILITY:
        deps[rng.choice(_EXTERNALS)] = False
    return deps


def _specifier(from_id: str, to_id: str) -> str:
    relative = posixpath.relpath(to_id, posixpath.dirname(from_id) or ".")
    return relative if relative.startswith("../") else f"./{relative}"


def _js_source(rng: random.Random, module_id: str, deps: dict[str, str | bool]) -> str:
    """1-3 KB of deterministic JS-looking CommonJS text requiring `deps`."""
    target = rng.randint(1000, 3000)
    lines = ['"use strict";', f"// {module_id}"]
    for n, spec in enumerate(deps):
        lines.append(f"var dep{n} = require({json.dumps(spec)});")
    size = sum(len(line) + 1 for line in lines)
    while size < target:
        block = _js_function(rng)
        lines.append(block)
        size += len(block) + 1
    lines.append(f"module.exports = {{ name: {json.dumps(module_id)}, size: {size} }};")
    return "\n".join(lines)


def _js_function(rng: random.Random) -> str:
    name = f"{rng.choice(_WORDS)}{rng.choice(_WORDS).title()}"
    a, b = rng.sample(_IDENTS, 2)
    body = [f"function {name}({a}, {b}) {{",
            f"    var {rng.choice(_IDENTS)}{rng.randrange(99)} = {a} && {a}.{rng.choice(_IDENTS)};",
            f"    if ({b} > {rng.randrange(1000)}) {{ return {json.dumps(rng.choice(_WORDS))}; }}",
            f"    for (var i = 0; i < {a}.length; i++) {{ {b} += {a}[i] * {rng.randrange(97)}; }}",
            f"    return {b};",
            "}"]
    return "\n".join(body)


# --- overrides --------------------------------------------------------------------------------

def _make_overrides(project: _Project, override_ratio: float, dep_change_ratio: float) -> None:
    rng = project.rng
    candidates = project.ranks[_ENTRY_COUNT + _EXPOSED_COUNT:] or project.ranks
    file_count = min(len(candidates), max(1, round(override_ratio * len(project.ranks))))
    overridden = rng.sample(candidates, file_count)
    assigned = _assign_overrides(rng, project.variations, overridden)
    for variation in project.variations:
        for module_id in assigned[variation.id]:
            module = _override_module(project, variation, module_id, dep_change_ratio)
            project.overrides.setdefault(module_id, {})[variation.folder] = module


def _assign_overrides(rng: random.Random, variations: list[_Variation],
                      files: list[str]) -> dict[str, list[str]]:
    """Every file goes to at least one variation; every variation gets a handful (2-6)."""
    assigned: dict[str, list[str]] = {v.id: [] for v in variations}
    dealt = list(files)
    rng.shuffle(dealt)
    for n, module_id in enumerate(dealt):
        assigned[variations[n % len(variations)].id].append(module_id)
    for variation in variations:
        mine = assigned[variation.id]
        wanted = min(len(files), rng.randint(2, 6))
        while len(mine) < wanted:
            pick = rng.choice(files)
            if pick not in mine:
                mine.append(pick)
    return {vid: sorted(ids) for vid, ids in assigned.items()}


def _override_module(project: _Project, variation: _Variation, module_id: str,
                     dep_change_ratio: float) -> _Module:
    rng = project.rng
    deps = dict(project.base[module_id].deps)
    if rng.random() < dep_change_ratio:
        deps = _changed_deps(project, variation, module_id, deps)
    source = _js_source(rng, module_id, deps).replace('"use strict";',
                                                      f'"use strict"; // {variation.id}', 1)
    return _Module(module_id, variation.folder, source, deps)


def _changed_deps(project: _Project, variation: _Variation, module_id: str,
                  deps: dict[str, str | bool]) -> dict[str, str | bool]:
    """Add one dep, drop one, or reorder them (reordering needs two or more)."""
    rng = project.rng
    kind = rng.choice(("add", "drop", "reorder"))
    items = list(deps.items())
    if kind == "drop" and len(items) > 1:
        items.pop(rng.randrange(len(items)))
    elif kind == "reorder" and len(items) > 1:
        items.reverse()
    else:
        dep_id = _added_dep(project, variation, module_id)
        items.insert(rng.randrange(len(items) + 1), (_specifier(module_id, dep_id), dep_id))
    return dict(items)


def _added_dep(project: _Project, variation: _Variation, module_id: str) -> str:
    """A variation-only file of `variation`, or an existing base module."""
    rng = project.rng
    if rng.random() < _VARIATION_ONLY_PROBABILITY:
        return _variation_only_module(project, variation, module_id).id
    taken = set(project.base[module_id].deps.values())
    return rng.choice([m for m in project.ranks if m != module_id and m not in taken])


def _variation_only_module(project: _Project, variation: _Variation, near_id: str) -> _Module:
    rng = project.rng
    stem = posixpath.splitext(near_id)[0]
    module_id = f"{stem}_{variation.id}_{len(project.variation_only)}.js"
    dep_ids = rng.sample(project.ranks, min(len(project.ranks), rng.randint(1, 3)))
    deps = _deps_map(rng, module_id, dep_ids)
    module = _Module(module_id, variation.folder, _js_source(rng, module_id, deps), deps)
    project.variation_only[module_id] = module
    return module


# --- output -----------------------------------------------------------------------------------

def _build_manifest(project: _Project) -> dict:
    """The Mendel v1 manifest: module ids sorted, `indexes` matching `bundles` positions."""
    order = {v.folder: n for n, v in enumerate(project.variations)}
    module_ids = sorted([*project.base, *project.variation_only])
    entries = set(project.ranks[:_ENTRY_COUNT])
    exposed = project.ranks[_ENTRY_COUNT:_ENTRY_COUNT + _EXPOSED_COUNT]
    bundles = []
    for index, module_id in enumerate(module_ids):
        found = _module_versions(project, module_id, order)
        item: dict = {"id": module_id, "index": index,
                      "variations": [m.folder for m in found],
                      "data": [m.entry() for m in found]}
        if module_id in entries:
            item["entry"] = True
        if module_id in exposed:
            item["expose"] = posixpath.splitext(posixpath.basename(module_id))[0]
        bundles.append(item)
    return {"indexes": {m: n for n, m in enumerate(module_ids)}, "bundles": bundles}


def _module_versions(project: _Project, module_id: str, order: dict[str, int]) -> list[_Module]:
    """Base first, then overriding folders in config order."""
    if module_id in project.variation_only:
        return [project.variation_only[module_id]]
    overrides = project.overrides.get(module_id, {})
    return [project.base[module_id], *(overrides[f] for f in sorted(overrides, key=order.get))]


def _write_folders(dest: str, project: _Project) -> None:
    """Empty base and variation folders, so Mendel's chain rule finds them on disk."""
    os.makedirs(os.path.join(dest, BASE_DIR), exist_ok=True)
    for variation in project.variations:
        os.makedirs(os.path.join(dest, variation.folder), exist_ok=True)


def _write_mendelrc(dest: str, project: _Project) -> None:
    lines = ["base-config:", "  id: base", f"  dir: ./{BASE_DIR}",
             "variation-config:", "  variation-dirs:", f"    - ./{VARIATIONS_ROOT}",
             "  variations:"]
    for variation in project.variations:
        lines.append(f"    {variation.id}:")
        lines.extend(f"      - {ancestor}" for ancestor in variation.ancestors)
    lines += ["route-config:", "  hash: /mendel/:hash/:bundle",
              "bundles:", f"  {BUNDLE_ID}:", f"    manifest: {MANIFEST_PATH}", ""]
    with open(os.path.join(dest, ".mendelrc"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def _write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
