"""Which network a point trains, and with which settings.

IMP trains the plain ReLU MLP; AIHT trains the network its task names (``TaskDataModule.network``:
the gated MLP, or the signal of the Gaussian sensing task). The configuration's ``model.net``
holds the AIHT network's settings (``--model.net.storage compact``); a point's network takes
those its class accepts, with the point's width, seed and depth, the sweep's draws and, for the
gated MLP, the seed of its random gates. The input and output sizes come from the datamodule
(the links in ``lightning_app/cli.py``).
"""

import importlib
import inspect

from jsonargparse import Namespace

from datamodules.task import TaskDataModule
from lightning_app.plan.errors import NotAvailable
from lightning_app.plan.grid import GridPoint

GATED_MLP = "modules.gated_mlp.GatedMLP"
RELU_MLP = "modules.relu_mlp.ReluMLP"


def import_class(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def task_class(config: Namespace) -> type[TaskDataModule]:
    """The datamodule class a config names; it must meet the task contract."""
    data_class = import_class(config.data.class_path)
    if not (isinstance(data_class, type) and issubclass(data_class, TaskDataModule)):
        raise ValueError(
            f"data: {config.data.class_path} is not a task datamodule; subclass "
            "datamodules.task.TaskDataModule (or datamodules.array_datamodule.ArrayDataModule for "
            "data held as arrays) so that the sweep knows its task name and metric"
        )
    return data_class


def network_of(task: type[TaskDataModule], method: str) -> str:
    """The class path of the network ``method`` trains on ``task``: IMP's ReLU MLP, or the task's
    AIHT network."""
    if method == "imp":
        if task.network != GATED_MLP:
            raise NotAvailable(f"the task's model ({task.network}) is trained by AIHT only, as in the paper")
        return RELU_MLP
    return task.network


def gate_seed_of(task: type[TaskDataModule], batch_size: int, rule: str) -> int | None:
    """The seed of a point's random gates (None: the run's seed). With ``rule`` ``paper``,
    minibatch AIHT on a task whose ``paper_minibatch_gate_seed`` is set uses that seed, as the
    paper's code does (docs/algorithms.md: scalar AIHT); ``run`` always uses the run's seed."""
    if rule == "paper" and batch_size > 0:
        return task.paper_minibatch_gate_seed
    return None


def network_settings(config: Namespace, class_path: str) -> dict:
    """The settings of the config's ``model.net`` that the network ``class_path`` takes (the
    gated MLP's settings apply to the gated MLP only)."""
    net = config.model.get("net")
    given = net.get("init_args") if isinstance(net, Namespace) else None
    if not given:
        return {}
    accepted = inspect.signature(import_class(class_path)).parameters
    return {name: value for name, value in given.as_dict().items() if name in accepted}


def point_network(config: Namespace, point: GridPoint) -> Namespace:
    """``model.net`` of ``point`` under its panel's ``config``: the class its method trains, the
    config's settings for it, and the point's sizes (input and output: None until the link from
    the datamodule fills them in)."""
    task = task_class(config)
    class_path = network_of(task, point.method)
    accepted = inspect.signature(import_class(class_path)).parameters
    init_args = network_settings(config, class_path)
    init_args.update(
        width=point.m, input_dim=None, output_dim=None, num_layers=point.num_layers, seed=point.seed
    )
    if "draws" in accepted:
        init_args["draws"] = config.sweep.draws
    if "gate_seed" in accepted and init_args.get("gate_seed") is None:
        batch_size = config.data.init_args.get("batch_size", 0)
        init_args["gate_seed"] = gate_seed_of(task, batch_size, config.sweep.gate_seed)
    return Namespace(class_path=class_path, init_args=Namespace(**init_args))
