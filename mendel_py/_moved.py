"""Module paths of 0.1 that moved into subpackages in 0.2, importable for one more release.

`import mendel_py.walk` (and `from mendel_py.walk import ...`, `mock.patch("mendel_py.walk.x")`)
still works: a finder on `sys.meta_path` answers for the old name with the module at its new
path, so both names are one module object, and warns with a `DeprecationWarning` naming the new
path. CHANGES.md lists the moves. The paths the README names (`mendel_py.trees`, `.wsgi`,
`.flask`, `.prefork`, `.hashcodec`, `.assign`, `.exposures`, and the packages `config`,
`experiments`, `qa`, `dev`, `cli`) are not in this table: they stay public.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "mendel_py.allocator": "mendel_py._runtime.allocator",
    "mendel_py.analysis": "mendel_py.cli.analysis",
    "mendel_py.atomic": "mendel_py._runtime.atomic",
    "mendel_py.body": "mendel_py.packing.body",
    "mendel_py.bundles": "mendel_py.serving.bundles",
    "mendel_py.cache": "mendel_py.core.cache",
    "mendel_py.cachedir": "mendel_py._runtime.cachedir",
    "mendel_py.cli_support": "mendel_py.cli.support",
    "mendel_py.compiler.command": "mendel_py.cli.build",
    "mendel_py.compression": "mendel_py.packing.compression",
    "mendel_py.dev_command": "mendel_py.cli.dev",
    "mendel_py.experiments_cli": "mendel_py.cli.experiments",
    "mendel_py.faults": "mendel_py._runtime.faults",
    "mendel_py.generations": "mendel_py.core.generations",
    "mendel_py.generations_cli": "mendel_py.cli.generations",
    "mendel_py.manifest": "mendel_py.core.manifest",
    "mendel_py.manifest_cache": "mendel_py.core.manifest_cache",
    "mendel_py.memory": "mendel_py.serving.memory",
    "mendel_py.metrics": "mendel_py.serving.metrics",
    "mendel_py.original": "mendel_py.core.original",
    "mendel_py.packer": "mendel_py.packing.packer",
    "mendel_py.process": "mendel_py._runtime.process",
    "mendel_py.qa_page": "mendel_py.qa.page",
    "mendel_py.recompress": "mendel_py.serving.recompress",
    "mendel_py.reloader": "mendel_py.deploy.reloader",
    "mendel_py.request": "mendel_py.serving.request",
    "mendel_py.route": "mendel_py.serving.route",
    "mendel_py.simulation": "mendel_py.experiments.simulation",
    "mendel_py.sourcemap": "mendel_py.packing.sourcemap",
    "mendel_py.sourcemap_cli": "mendel_py.cli.sourcemap",
    "mendel_py.store": "mendel_py.serving.store",
    "mendel_py.store_cli": "mendel_py.cli.store",
    "mendel_py.tags": "mendel_py.serving.html",
    "mendel_py.templates": "mendel_py.integrations.jinja",
    "mendel_py.variation_matrix": "mendel_py.qa.matrix",
    "mendel_py.walk": "mendel_py.core.walk",
}

REMOVAL = "0.3"


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path in `MOVED` and loads it as the module at the new path."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path will be removed in mendel_py {REMOVAL}",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        self._spec = module.__spec__  # the import system overwrites __spec__; exec_module restores it
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
