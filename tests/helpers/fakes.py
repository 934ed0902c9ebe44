"""Stand-ins for the trees as the packer and the middleware read them, shared by the packer,
WSGI, bundle, metrics, recompression and store tests."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

from mendel_py.config import config_from_dict
from mendel_py.core.manifest import Manifest, Module, compile_manifest
from mendel_py.errors import HashError, WalkError


@dataclass
class FakeTree:
    """What the packer and the middleware read of a tree, over a real compiled manifest."""

    bundle: str
    hash: str
    manifest: Manifest
    selection: tuple[tuple[int, int], ...]

    @property
    def file_count(self) -> int:
        return len(self.selection)

    @property
    def files(self) -> list[Any]:
        return [self.manifest.modules[m].entries[j] for m, j in self.selection]

    @property
    def modules(self) -> list[Module]:
        return [self.manifest.modules[m] for m, _j in self.selection]


def make_manifest(bundle: str, specs: list[dict[str, Any]], variation: str = "src/variations/bucket_A") -> Manifest:
    """A compiled manifest from [{"id", "source", "deps"?, "entry"?, "expose"?, "order"?}]."""
    modules = []
    for index, spec in enumerate(specs):
        module: dict[str, Any] = {
            "id": spec["id"], "index": index, "variations": [variation], "entry": spec.get("entry", False),
            "data": [{"id": spec["id"], "file": f"{variation}/{spec['id']}", "variation": variation,
                      "source": spec["source"], "sha": "00", "deps": spec.get("deps", {})}],
        }
        module.update({key: spec[key] for key in ("expose", "order") if key in spec})
        modules.append(module)
    data = {"indexes": {spec["id"]: i for i, spec in enumerate(specs)}, "bundles": modules}
    return compile_manifest(data, f"{bundle}.manifest.json", bundle)


def make_tree(bundle: str, specs: list[dict[str, Any]], variation: str = "src/variations/bucket_A") -> FakeTree:
    """A tree of every module of `make_manifest(bundle, specs, variation)`."""
    manifest = make_manifest(bundle, specs, variation)
    return FakeTree(bundle, "HASH", manifest, tuple((m, 0) for m in range(len(specs))))


BASE = "src/base"
FOLDERS = {"bucket_A": "src/variations/bucket_A", "feature_B": "src/variations/feature_B"}


def js_specs(variation: str) -> list[dict[str, Any]]:
    return [
        {"id": "main.js", "entry": True, "deps": {"./util.js": "util.js"},
         "source": f"window.log.push(require('./util.js')); // built for {variation}"},
        {"id": "util.js", "source": "module.exports = '" + "x" * 2000 + "';"},
    ]


CSS_SPECS = [
    {"id": "b.css", "order": 2, "source": ".b{color:red}"},
    {"id": "a.css", "order": 1, "source": ".a{color:blue}"},
]


class FakeTrees:
    """Stands in for MendelTrees: the hash of a tree is "h" + the sorted matching variations."""

    def __init__(self, route: str = "/mendel/:hash/:bundle") -> None:
        bundles: dict[str, dict[str, Any]] = {name: {} for name in ("main", "empty", "walk")}
        bundles["css"] = {"serveAs": "css"}
        self.config = config_from_dict({"route-config": {"hash": route}, "bundles": bundles}, root=".")
        self.bundles = tuple(self.config.bundles)
        self.hash_lookups = 0
        self.bug = False  # set to make every walk by hash fail like a bug would
        self.variation_walks = 0
        self.generation = None

    def reload_if_changed(self) -> None:
        return None

    def variations_and_chains(self, names: Any) -> tuple[list[str], list[list[str]]]:
        wanted = set(names)
        matching = [v for v in FOLDERS if v in wanted]
        return matching + ["base"], [[FOLDERS[v]] for v in matching] + [[BASE]]

    def find_tree_for_variations(self, bundle: str, chains: list[list[str]]) -> Any:
        self.variation_walks += 1
        names = [n for n, f in FOLDERS.items() if [f] in chains]
        return self._tree(bundle, "h" + "-".join(["base", *names]))

    def find_tree_for_hash(self, bundle: str, hash_: str) -> Any:
        self.hash_lookups += 1
        if bundle == "walk":
            raise WalkError(bundle, "main.js", "no chain matches")
        if self.bug:
            raise RuntimeError("a bug")
        if hash_ == "trvrsl":
            raise HashError("TRVRSL", f"tree has more paths than hash {hash_}")
        if hash_ == "hashmiss":
            raise HashError("HASHMISS", f"{hash_} is not canonical")
        if not hash_.startswith("hbase") or not set(hash_[5:].split("-")) <= set(FOLDERS) | {""}:
            raise HashError("BADHASH", f"invalid hash: {hash_}")
        return self._tree(bundle, hash_)

    def server_variation_map(self, bundle: str, chains: list[list[str]]) -> dict[str, str]:
        return {"main.js": chains[0][0]}

    def _tree(self, bundle: str, hash_: str) -> Any:
        if bundle == "css":
            tree = make_tree("css", CSS_SPECS)
        elif bundle == "empty":
            tree = make_tree("empty", [])
        else:
            tree = make_tree(bundle, js_specs(hash_))
        tree.hash = hash_
        return tree


def downstream_app(environ: dict[str, Any], start_response: Any) -> Any:
    resolver = environ["mendel"]
    body = f"app {type(resolver).__name__} {resolver.bundle_url('main')}"
    return Response(body)(environ, start_response)


def main_tree(hash_: str = "hbase") -> Any:
    return FakeTrees().find_tree_for_hash("main", hash_)


def file_wrapper(handle: Any, size: int) -> Any:
    """Like a server's `wsgi.file_wrapper` (gunicorn sends the open file with sendfile): the
    file in blocks of `size`, closed when the response is."""
    return ClosingIterator(iter(lambda: handle.read(size), b""), handle.close)
