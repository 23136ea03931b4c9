"""The project's imports point one way and form no cycle: lightning_app → callbacks → modules →
datamodules (each layer may use any layer below it, none above it); inside lightning_app, its
packages too: cli → launch → report → {store, run} → plan → files (store and run do not use each
other)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["datamodules", "modules", "callbacks", "lightning_app"]  # lowest first
APP_RANKS = {
    "files": 0,
    "plan": 1,
    "store": 2,
    "run": 2,
    "report": 3,
    "launch": 4,
    "cli": 5,
}  # lightning_app's packages


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
    assert "callbacks.aiht" in graph["lightning_app.run.build"]


def app_package(module: str) -> str:
    """The package of lightning_app a module of it belongs to (``cli`` for lightning_app.cli)."""
    return module.split(".")[1] if module.count(".") else "cli"


def against_the_direction(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The imports that point up a layer, or inside lightning_app up or across its packages."""
    wrong = []
    for name, targets in graph.items():
        layer = LAYERS.index(name.split(".")[0])
        for target in targets:
            if LAYERS.index(target.split(".")[0]) > layer:
                wrong.append((name, target))
            elif name.startswith("lightning_app.") and target.startswith("lightning_app."):
                here, there = app_package(name), app_package(target)
                if here != there and APP_RANKS[there] >= APP_RANKS[here]:
                    wrong.append((name, target))
    return wrong


def test_no_layer_imports_a_layer_above_it():
    assert against_the_direction(import_graph()) == []


def test_every_package_of_the_application_has_a_rank():
    assert {app_package(name) for name in import_graph() if name.startswith("lightning_app.")} == set(
        APP_RANKS
    )


def test_the_check_sees_imports_against_the_direction():
    wrong = {
        "modules.gates": {"callbacks.aiht.callback"},  # up a layer
        "lightning_app.plan.grid": {"lightning_app.run.build"},  # up inside the application
        "lightning_app.store.finished": {"lightning_app.run.outcomes"},  # across: store and run are peers
    }
    right = {
        "lightning_app.launch.jobs": {
            "lightning_app.store.claims",
            "lightning_app.plan.grid",
            "modules.gates",
        }
    }
    assert sorted(against_the_direction({**wrong, **right})) == sorted(
        (name, target) for name, targets in wrong.items() for target in targets
    )


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
