"""The linear model of the Gaussian sensing task (``gaussian_sparse``, docs/algorithms.md): no network.

The weight is the length-N signal x, and y = A x with the datamodule's ``GaussianColumns`` A,
whose columns are generated on demand and never stored. Its training prediction has autograd,
whose backward leaves A^T (A x − y) in ``weight.grad``, so the scalar AIHT callback trains it as
it trains the dense gated network; there are no gates.
"""

from typing import Literal

import torch
from torch import Tensor, nn

from datamodules.cupy_draws import check_draws_name
from datamodules.gaussian_columns import GaussianColumns
from datamodules.task import TaskDataModule
from modules.aiht_network import AIHTNetwork, ScalarUpdate
from modules.dense_weights import DenseWeights
from modules.sensing_product import SensingProduct

CLASS_PATH = "modules.linear_sensing.LinearSensing"


class LinearSensing(DenseWeights, AIHTNetwork, ScalarUpdate):
    """x̂ (length N, the grid's m) and the products with the task's A (set in ``prepare``).

    Args:
        width, input_dim, output_dim, num_layers, seed: the sizes (``modules/network.py``);
            ``width`` is the signal length N. The model has no layers and a scalar output:
            ``input_dim`` is not used.
        draws: the generator the task's sensing columns come from (``numpy`` or ``cupy``; the
            datamodule draws them, and the sweep sets both from ``sweep.draws``). The signal
            itself draws nothing.
    """

    name = "linear"
    exportable = False

    def __init__(
        self,
        width: int = 10,
        input_dim: int = 1,
        output_dim: int = 1,
        num_layers: int = 1,
        seed: int = 0,
        draws: Literal["numpy", "cupy"] = "numpy",
    ) -> None:
        super().__init__(width, input_dim, output_dim, num_layers, seed)
        check_draws_name(draws, "model.net.draws")
        self.draws = draws
        if output_dim != 1 or num_layers != 1:
            raise ValueError(
                f"model.net {CLASS_PATH} (Gaussian sensing) has no layers and a scalar output: "
                f"got model.net.output_dim={output_dim}, model.net.num_layers={num_layers}"
            )
        self.weight = nn.Parameter(torch.zeros(width, dtype=torch.float64))
        self.sensing: GaussianColumns | None = None

    def prepare(self, task: TaskDataModule | None, device: torch.device) -> None:
        """Takes the task's sensing matrix (the datamodule's ``sensing``)."""
        sensing = task.sensing if task is not None else None
        if sensing is None:
            raise ValueError(
                f"model.net {CLASS_PATH} needs a datamodule with a sensing matrix `sensing` "
                "(datamodules.gaussian_sparse.GaussianSparseDataModule)"
            )
        if sensing.n_cols != self.weight.numel():
            length = self.weight.numel()
            raise ValueError(f"model.net.width={length} differs from the signal length {sensing.n_cols}")
        self.sensing = sensing

    @property
    def num_weights(self) -> int:
        return self.weight.numel()

    def train_prediction(self, x: Tensor) -> Tensor:
        """A w over every measurement (full batch only: ``x`` holds all measurement indices)."""
        if x.numel() != self.sensing.n_rows:
            raise ValueError("the linear network trains on full batches only (data.batch_size 0)")
        return SensingProduct.apply(self.weight, self.sensing)

    def forward(self, x: Tensor) -> Tensor:
        """(A w) at the measurement indices ``x``."""
        return SensingProduct.apply(self.weight, self.sensing)[x]

    def evaluate(self, x: Tensor) -> Tensor:
        """The signal's entries at the indices ``x`` (the validation batch holds x* there)."""
        return self.weight.detach()[x]

    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        return self.sensing.columns(index)

    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        return self.sensing.matvec(index, values)

    def dense_weight(self) -> Tensor:
        return self.weight

    def follow_weights(self) -> None:
        """No gates to move."""
