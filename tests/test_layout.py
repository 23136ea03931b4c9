"""The project's imports point one way and form no cycle: lightning_app → callbacks → modules →
datamodules (each layer may use any layer below it, none above it)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["datamodules", "modules", "callbacks", "lightning_app"]  # lowest first


def project_modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, at any depth of its code (lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        out |= {n for n in names if n in known}
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, set(modules)) for name, path in modules.items()}


def test_the_walk_sees_the_projects_imports():
    graph = import_graph()
    assert "modules.sparse_mlp" in graph["lightning_app.cli"]
    assert "datamodules.task" in graph["modules.sparse_mlp"]
    assert "callbacks.aiht" in graph["lightning_app.build"]


def test_no_layer_imports_a_layer_above_it():
    wrong = []
    for name, targets in import_graph().items():
        layer = LAYERS.index(name.split(".")[0])
        wrong += [(name, t) for t in targets if LAYERS.index(t.split(".")[0]) > layer]
    assert wrong == []


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, str] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
