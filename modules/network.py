"""What every network the LightningModule trains offers it: its sizes, its prediction, its count of
nonzeros, and the hooks the module calls at set-up and when a checkpoint loads.

A network is chosen by the configuration (``model.net``: a class path with its init args; the
sweep picks it per method) and handed to ``SparseMLP``, which never asks which kind it holds.
The networks are AIHT's gated MLP (``modules/gated_mlp.py``), IMP's ReLU MLP
(``modules/relu_mlp.py``) and the signal of the Gaussian sensing task
(``modules/linear_sensing.py``). What AIHT needs beyond this is stated in
``modules/aiht_network.py``.
"""

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor, nn

from datamodules.task import TaskDataModule

SIZES = ("width", "input_dim", "output_dim", "num_layers")


class Network(nn.Module, ABC):
    """Base of every network: the sizes the sweep and the datamodule give it.

    Args:
        width: hidden units m (the grid's m, set per point by the sweep).
        input_dim: input features d (linked from the datamodule).
        output_dim: outputs k (linked from the datamodule); 1 is a scalar output.
        num_layers: hidden layers L (set per panel by the sweep).
        seed: the run's seed (set per point by the sweep).
    """

    #: A short name of the kind of network, for messages and ``SparseMLP.network``.
    name: ClassVar[str] = "network"
    #: Whether the trained network can be saved as sparse layers (``lightning_app/run/export.py``).
    exportable: ClassVar[bool] = True
    #: How the network holds its weights (AIHT's gated network may hold them compactly).
    storage: str = "dense"

    def __init__(
        self, width: int = 10, input_dim: int = 100, output_dim: int = 1, num_layers: int = 1, seed: int = 0
    ) -> None:
        super().__init__()
        for size, value in zip(SIZES, (width, input_dim, output_dim, num_layers), strict=True):
            if value < 1:
                raise ValueError(
                    f"model.net.{size} must be at least 1, got {value} (model.net.width is the grid's m)"
                )
        self.width, self.input_dim, self.output_dim = width, input_dim, output_dim
        self.num_layers, self.seed = num_layers, seed

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """The network on a batch of raw inputs."""

    @abstractmethod
    def nnz(self) -> int:
        """Nonzero weights of the whole network."""

    def predict(self, x: Tensor) -> Tensor:
        """The prediction in the labels' shape: n values for a scalar output, n × k otherwise."""
        return self(x)

    def evaluate(self, x: Tensor) -> Tensor:
        """What the task's metric compares with a validation batch's labels."""
        return self.predict(x)

    def prepare(self, task: TaskDataModule | None, device: torch.device) -> None:
        """Called by the module's ``setup`` with the fit's task (None for data without the task
        contract) and the device the fit runs on, before the module takes the fit's dtype."""

    def prepare_load(self, state: dict, prefix: str) -> None:
        """Called before a checkpoint's ``state`` loads (``prefix``: the network's keys there), so
        that tensors whose sizes change during a run can take the checkpoint's sizes."""
