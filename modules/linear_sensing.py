"""The linear model of the Gaussian sensing task (SPEC §6 ``gaussian_sparse``): no network.

The weight is the length-N signal x, and y = A x with the datamodule's ``GaussianColumns`` A,
whose columns are generated on demand and never stored. Its training prediction has autograd,
whose backward leaves A^T (A x − y) in ``weight.grad``, so the scalar AIHT callback trains it as
it trains the dense gated network; there are no gates.
"""

import torch
from torch import Tensor, nn

from datamodules.gaussian_columns import GaussianColumns
from modules.dense_weights import DenseWeights
from modules.sensing_product import SensingProduct


class LinearSensing(DenseWeights):
    """x̂ (length N) and the products with the task's A (set in ``attach``)."""

    has_gates = False
    storage = "dense"

    def __init__(self, length: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(length, dtype=torch.float64))
        self.sensing: GaussianColumns | None = None

    def attach(self, sensing: GaussianColumns | None) -> None:
        """Takes the task's sensing matrix (from the datamodule's ``sensing``)."""
        if sensing is None:
            raise ValueError(
                "model.network 'linear' needs a datamodule with a sensing matrix `sensing` "
                "(datamodules.gaussian_sparse.GaussianSparseDataModule)"
            )
        if sensing.n_cols != self.weight.numel():
            length = self.weight.numel()
            raise ValueError(f"model.width={length} differs from the signal length {sensing.n_cols}")
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

    def estimate(self, x: Tensor) -> Tensor:
        """The signal's entries at the indices ``x`` (the validation batch)."""
        return self.weight.detach()[x]

    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        return self.sensing.columns(index)

    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        return self.sensing.matvec(index, values)

    def dense_weight(self) -> Tensor:
        return self.weight

    def follow_weights(self) -> None:
        """No gates to move."""
