"""The package's import graph: no cycles, and imports run one way between the layers that each
subpackage's docstring names. Every `import` and `from ... import` counts, also under
`TYPE_CHECKING` and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mendel_py"

# Low -> high; a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    "errors": 0, "_runtime": 0,
    "config": 1,
    "core": 2,
    "packing": 3, "deploy": 3, "experiments": 3, "compiler": 3,
    "serving": 4, "qa": 4, "ssr": 4,
    "dev": 5, "integrations": 5, "django": 5, "asgi": 5,
    "cli": 6,
}
# Top-level facades and shims (`mendel_py.trees`, `mendel_py._moved`, ...) sit above everything.
TOP = 7

# The upward edges the docstrings allow.
KNOWN_EDGES: set[tuple[str, str]] = {
    # `flask mendel` mounts the CLI from inside a function, so importing the extension stays light.
    ("mendel_py.integrations.flask", "mendel_py.cli"),
    ("mendel_py.integrations.flask", "mendel_py.cli.main"),
    # so does `manage.py mendel` (Django's command module)
    ("mendel_py.django.management.commands.mendel", "mendel_py.cli"),
    ("mendel_py.django.management.commands.mendel", "mendel_py.cli.main"),
}


def _modules() -> dict[str, Path]:
    found = {}
    # (a C extension is a module of its own, known by its stub: `core/_speedups.pyi`)
    for path in sorted([*PACKAGE.rglob("*.py"), *(stub for stub in PACKAGE.rglob("*.pyi")
                                                   if not stub.with_suffix(".py").exists())]):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The module of `name`, which may be a module or a name inside one."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                names = [f"{origin}.{alias.name}" for alias in node.names]
            for imported in names:
                target = _target(imported, modules)
                if target is not None and target != name:
                    graph[name].add(target)
    for source, target in KNOWN_EDGES:
        graph.get(source, set()).discard(target)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP
    return LAYERS.get(parts[1], TOP)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles() -> None:
    assert find_cycles(import_graph()) == []


def test_layers_import_downward() -> None:
    upward = sorted(
        (source, target)
        for source, targets in import_graph().items()
        for target in targets
        if _layer(target) > _layer(source)
    )
    assert upward == []


def test_servers_never_import_the_store_writer() -> None:
    """Only the deploy step (`mendel build`, `reload`, `generations`) writes the generation store:
    nothing a server imports reaches `deploy.publish`."""
    graph = import_graph()
    seen: set[str] = set()
    stack = ["mendel_py.serving.wsgi", "mendel_py.integrations.flask", "mendel_py.core.trees"]
    while stack:
        module = stack.pop()
        if module not in seen:
            seen.add(module)
            stack.extend(graph[module])
    assert "mendel_py.deploy.publish" not in seen
