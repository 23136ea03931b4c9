"""The network is given to the LightningModule by the configuration, what AIHT needs of it is
stated once (``modules/aiht_network.py``), and the callbacks change it only through that: they
never set an attribute of the LightningModule."""

import ast
from pathlib import Path

import pytest
import torch
from pytorch_lightning import Trainer

from callbacks.aiht import AIHT
from datamodules.planted import PlantedMLPDataModule
from lightning_app.cli import SweepCLI
from lightning_app.plan.errors import SettingsError
from modules.aiht_network import AIHTNetwork, ScalarUpdate
from modules.gated_mlp import GatedMLP
from modules.relu_mlp import ReluMLP
from tests.helpers import QUIET, relu_model

ROOT = Path(__file__).resolve().parent.parent
MODULE = "pl_module"


def _root_name(node: ast.expr) -> str | None:
    """The name an attribute or item target hangs off (``pl_module`` for ``pl_module.a.b[0]``)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    else:
        return []
    flat = []
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Tuple | ast.List):
            targets.extend(target.elts)
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
        else:
            flat.append(target)
    return flat


def module_writes(source: str) -> list[str]:
    """The statements of ``source`` that set an attribute of ``pl_module`` (or of anything it
    holds), in line order: assignments, augmented assignments, ``del``, ``setattr``, ``delattr``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets = _targets(node) + (node.targets if isinstance(node, ast.Delete) else [])
        if any(not isinstance(t, ast.Name) and _root_name(t) == MODULE for t in targets):
            found.append(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("setattr", "delattr") and node.args and _root_name(node.args[0]) == MODULE:
                found.append(node)
    return [f"line {node.lineno}: {ast.unparse(node)}" for node in sorted(found, key=lambda n: n.lineno)]


def test_the_check_sees_every_kind_of_write():
    source = """
pl_module.convex = True
pl_module.residual, other = None, 1
pl_module.net.layer_start_epoch += 1
pl_module.net.weight[0] = 2.0
x: int = 0
pl_module.step: float = 1.0
setattr(pl_module, "convex", True)
delattr(pl_module.net, "gates")
del pl_module.residual
net.convex = True
pl_module.net.set_convex(True)
value = pl_module.residual
"""
    assert [line.split(":")[0] for line in module_writes(source)] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
    ]


def test_no_callback_sets_an_attribute_of_the_module():
    files = sorted((ROOT / "callbacks").rglob("*.py"))
    assert len(files) > 10
    writes = {str(path.relative_to(ROOT)): module_writes(path.read_text()) for path in files}
    assert {path: found for path, found in writes.items() if found} == {}


class WithoutAssign(AIHTNetwork, ScalarUpdate):
    """An AIHT network that forgets to say how to write its weights."""

    num_weights = 1

    def forward(self, x):
        return x

    def nnz(self) -> int:
        return 0

    def follow_weights(self) -> None:
        pass

    def train_prediction(self, x):
        return x

    def support(self):
        return torch.zeros(0), torch.zeros(0)

    def support_gradient(self, x, r, index):
        return index

    def sensing_columns(self, x, index):
        return x

    def sensing_product(self, x, index, values):
        return values

    def candidates(self, x, r, step_size, budget):
        return x, x


def test_a_network_without_a_method_aiht_needs_is_refused_when_it_is_built():
    with pytest.raises(TypeError, match="assign"):
        WithoutAssign(width=2, input_dim=3)


def test_aiht_refuses_a_network_it_cannot_train_before_any_update():
    trainer = Trainer(callbacks=[AIHT(sparsity=2)], max_epochs=1, **QUIET)
    with pytest.raises(TypeError, match="model.net is ReluMLP; use modules.gated_mlp.GatedMLP"):
        trainer.fit(relu_model(width=3, input_dim=4), datamodule=PlantedMLPDataModule(width=3, input_dim=4))


PLANTED = [
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=40",
    "--data.input_dim=4",
    "--data.output_dim=2",
    "--trainer.max_epochs=1",
    "--sweep.method",
    "aiht",
    "imp",
    "--sweep.mlist=3",
    "--sweep.slist=5",
]


def point_models(*extra: str) -> dict:
    plan = SweepCLI([*PLANTED, *extra]).plan
    return {point.method: plan.objects(point).model for point in plan.points}


def check_gated_settings_reach_aiht_only(models: dict) -> None:
    aiht, imp = models["aiht"], models["imp"]
    assert isinstance(aiht.net, GatedMLP) and isinstance(imp.net, ReluMLP)
    assert aiht.storage == "compact" and aiht.net.gradient_memory_mb == 8
    assert (
        (aiht.width, aiht.input_dim, aiht.output_dim)
        == (imp.width, imp.input_dim, imp.output_dim)
        == (3, 4, 2)
    )


def test_the_gated_networks_settings_from_the_command_line_reach_the_aiht_points():
    check_gated_settings_reach_aiht_only(
        point_models("--model.net.storage", "compact", "--model.net.gradient_memory_mb=8")
    )


def test_the_gated_networks_settings_from_a_config_file_reach_the_aiht_points(tmp_path):
    config = tmp_path / "net.yaml"
    config.write_text("model:\n  net:\n    init_args:\n      storage: compact\n      gradient_memory_mb: 8\n")
    check_gated_settings_reach_aiht_only(point_models(f"--config={config}"))


def test_a_class_for_the_network_is_refused_since_the_sweep_chooses_it():
    with pytest.raises(
        SettingsError, match="model.net=modules.relu_mlp.ReluMLP: the sweep sets each point's"
    ):
        SweepCLI([*PLANTED, "--model.net=modules.relu_mlp.ReluMLP"])
