"""The task contract: what every task datamodule offers the model, the callbacks and the sweep.

A task is a ``TaskDataModule``. Its class says what kind of task it is (``task_name``,
``metric_name``, which network AIHT trains on it, whether its data depends on the budget s); an
instance, once ``setup`` has run, says what the model needs to know about the data
(``num_features``, ``output_dim``, ``max_label``) and, where the task has them, its ground
truth (``planted_weights``) and its sensing operator (``sensing``). Callers read these
attributes directly: every task has all of them.

The shared pieces of the tasks live here too: the batch-size check, and where (device) and in
which dtype the data's tensors are held during a fit.
"""

from typing import ClassVar

import numpy as np
import torch
from pytorch_lightning import LightningDataModule

from datamodules.gaussian_columns import GaussianColumns
from datamodules.precision import trainer_dtype
from datamodules.sparse_matrix import SparseMatrix


class SkipPoint(Exception):
    """The point cannot be run meaningfully (e.g. all labels are zero); record it as skipped."""


def check_batch_size(batch_size: int) -> None:
    if batch_size < 0:
        raise ValueError(f"data.batch_size must be 0 (full batch) or positive, got {batch_size}")


class TaskDataModule(LightningDataModule):
    """Base of every task (docs/algorithms.md: the tasks).

    Class attributes (the sweep reads them before any data exists):
        task_name: the task's name in results and tables (``mlp_planted``, ``mnist``, …).
        metric_name: the reported metric (``psnr``, ``accuracy``, ``rel_error``).
        network: the class path of the network AIHT trains on this task (the sweep's choice of
            ``model.net`` for AIHT): the gated MLP, or ``modules.linear_sensing.LinearSensing``
            for a task without a network (Gaussian sensing), which IMP cannot train. IMP trains
            ``modules.relu_mlp.ReluMLP`` on the tasks whose AIHT network is the gated MLP.
        data_depends_on_sparsity: whether the data changes with s (then IMP runs once per s).
        paper_minibatch_gate_seed: the seed the paper's code draws the random gates with when
            training minibatch AIHT on this task, or None where it passes the run's seed.
        imp_shuffles_full_batch: whether the paper's full-batch IMP training loader shuffles its
            one batch (the INR tasks; docs/algorithms.md: IMP).
        imp_measures_on_training_loader: whether the paper's IMP measures on the training loader
            (planted) rather than an unshuffled evaluation loader.
        identity_settings: what the task computes beyond its init args, for a point's identity
            (``lightning_app/plan/identity.py``): how its data is drawn, where that has changed.

    Instance attributes (valid after ``setup``):
        input_dim: features before the optional bias feature; ``num_features`` adds it.
        output_dim: outputs k (1: scalar output).
        max_label: max |label|, for PSNR.
        planted_weights: the planted network's weight matrices as their nonzeros
            (``SparseMatrix``, rows × cols as the task draws them (docs/algorithms.md)), where the task has
            one.
        sensing: the task's sensing matrix A, where the task is a linear sensing problem.
    """

    task_name: ClassVar[str] = "custom"
    metric_name: ClassVar[str] = "metric"
    network: ClassVar[str] = "modules.gated_mlp.GatedMLP"
    data_depends_on_sparsity: ClassVar[bool] = False
    paper_minibatch_gate_seed: ClassVar[int | None] = None
    imp_shuffles_full_batch: ClassVar[bool] = False
    imp_measures_on_training_loader: ClassVar[bool] = False
    identity_settings: ClassVar[dict[str, str]] = {}

    input_dim: int = 0
    output_dim: int = 1
    bias: bool = False
    max_label: float = 1.0
    planted_weights: list[SparseMatrix] | None = None
    sensing: GaussianColumns | None = None

    @classmethod
    def metric_for(cls, init_args) -> str:
        """The metric an instance built with ``init_args`` (a mapping of its settings) reports: the
        class's ``metric_name``, unless a setting of the task chooses it (the own-data task's
        ``task``); the sweep records it before any instance exists."""
        return cls.metric_name

    @property
    def num_features(self) -> int:
        """Input features the model sees: input_dim, plus one with ``bias``."""
        return self.input_dim + int(self.bias)

    def placement(self) -> tuple[torch.device, torch.dtype]:
        """Where the data's tensors live during a fit and their dtype: the trainer's device and
        the dtype its precision asks for (the CPU and float64 outside a fit)."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        return device, trainer_dtype(trainer)

    def as_tensor(self, array: np.ndarray) -> torch.Tensor:
        """``array`` on the data's device, in its dtype (copied where it is read-only: shared)."""
        device, dtype = self.placement()
        if not array.flags.writeable:
            array = np.array(array)  # numpy's copy: several times faster than torch.tensor's
        return torch.from_numpy(np.ascontiguousarray(array)).to(device=device, dtype=dtype)
