"""The gaussian_sparse task: recover a sparse vector x* from y = A x*, A Gaussian.

With seed q, drawn as the paper's code draws them on a CPU: x* has s ones at
``np.random.seed(q)`` then ``np.random.choice(N, s, replace=False)``, N = the grid's m; A is
nmeasurements × N with N(0, 1) entries, one seed per column (``datamodules.gaussian_columns``);
y = A x*, noiseless. With ``draws: cupy`` the same calls go to CuPy's generator on the GPU, as the
paper's GPU runs made them. A budget s above N is capped at N (x* all ones), as AIHT caps its
budget.

The model's network is ``modules.linear_sensing.LinearSensing``: its weight is x itself. A training
batch is (the measurement indices, y), always the full set: the task is full batch only. The
validation batch is (the signal's indices, x*), from which the model measures ‖x̂ − x*‖ / ‖x*‖.
"""

from typing import Literal

import numpy as np
import torch

from datamodules import cupy_draws
from datamodules.cupy_draws import check_draws_name
from datamodules.gaussian_columns import GaussianColumns
from datamodules.task import TaskDataModule
from datamodules.tensor_batches import TensorBatches


def draw_support(n: int, s: int, seed: int, draws: str = "numpy", device=None) -> torch.Tensor:
    """The positions of x*'s ones, ascending (int64, on the host)."""
    if draws == "cupy":
        drawn = cupy_draws.gaussian_support(n, min(s, n), seed, torch.device(device or "cpu"), "data.draws")
        return drawn.sort().values
    return torch.from_numpy(np.sort(np.random.RandomState(seed).choice(n, min(s, n), replace=False)))


class GaussianSparseDataModule(TaskDataModule):
    """The Gaussian sensing task. ``width``, ``sparsity`` and ``seed`` are set per grid point.

    Args:
        width: the signal length N (the grid's m, the paper's ``--mlist``).
        sparsity: the nonzeros s of x* (the grid's s).
        seed: the run's seed q (0 or more).
        nmeasurements: rows of A (the paper's ``--nmeasurements``, default 50000 as there).
        batch_size: must be 0 (full batch), as in the paper.
        block_size: columns of A per block of a streamed product (nmeasurements × block_size
            values): memory only, A is the same whatever it is.
        sensing_memory_mb: A is drawn once and kept when it fits in this many MiB (float64);
            otherwise every product draws its columns again, a block at a time. Memory and
            speed only.
        draws: the generator of x*'s support and A's columns: ``numpy`` (numpy's legacy
            generator, as the paper's code on a CPU) or ``cupy`` (CuPy's, as its GPU runs; needs
            CuPy and a CUDA GPU). A sweep sets it from ``sweep.draws``.
    """

    task_name = "gaussian_sparse"
    metric_name = "rel_error"
    data_depends_on_sparsity = True  # x* has s nonzeros
    network = "modules.linear_sensing.LinearSensing"
    # The paper's calls for x*'s support and A's columns (before: torch blocks seeded per block).
    identity_settings = {"sensing_draws": "paper"}

    def __init__(
        self,
        width: int = 1000,
        sparsity: int = 10,
        seed: int = 0,
        nmeasurements: int = 50000,
        batch_size: int = 0,
        block_size: int = 256,
        sensing_memory_mb: float = 256.0,
        draws: Literal["numpy", "cupy"] = "numpy",
    ) -> None:
        super().__init__()
        check_draws_name(draws, "data.draws")
        for name, value in (
            ("width", width),
            ("sparsity", sparsity),
            ("nmeasurements", nmeasurements),
            ("block_size", block_size),
        ):
            if value < 1:
                raise ValueError(f"data.{name} must be at least 1, got {value}")
        if seed < 0:
            raise ValueError(f"the seed must be 0 or more, got {seed}")
        if sensing_memory_mb < 0:
            raise ValueError(f"data.sensing_memory_mb must be 0 or more, got {sensing_memory_mb}")
        if batch_size != 0:
            raise ValueError(
                f"data.batch_size must be 0 (full batch) for gaussian_sparse, got {batch_size}: "
                "AIHT on this task takes full-batch steps only, as in the paper"
            )
        self.width, self.sparsity, self.seed = width, sparsity, seed
        self.nmeasurements, self.batch_size, self.block_size = nmeasurements, batch_size, block_size
        self.draws, self.sensing_memory_mb = draws, sensing_memory_mb
        self.support: torch.Tensor | None = None
        self.signal: torch.Tensor | None = None
        self.y: torch.Tensor | None = None

    @property
    def num_features(self) -> int:
        """The linear model has no inputs; 1 keeps the model's ``input_dim`` link valid."""
        return 1

    def setup(self, stage: str) -> None:
        if self.y is not None:
            return
        device, dtype = self.placement()
        support = draw_support(self.width, self.sparsity, self.seed, self.draws, device)
        # y in float64; CuPy's columns are drawn on the GPU, so y is computed there.
        exact = GaussianColumns(
            self.nmeasurements,
            self.width,
            self.seed,
            self.block_size,
            device=device if self.draws == "cupy" else "cpu",
            draws=self.draws,
            keep_mb=self.sensing_memory_mb,
        )
        y = exact.matvec(support, torch.ones(support.numel(), dtype=torch.float64))
        signal = torch.zeros(self.width, dtype=torch.float64)
        signal[support] = 1.0
        self.sensing = exact.to(device=device, dtype=dtype)
        self.support = support.to(device)
        self.signal = signal.to(device=device, dtype=dtype)
        self.y = y.to(device=device, dtype=dtype)
        self.max_label = float(y.abs().max())

    def train_dataloader(self) -> TensorBatches:
        rows = torch.arange(self.nmeasurements, device=self.y.device)
        return TensorBatches(rows, self.y, batch_size=0)

    def val_dataloader(self) -> TensorBatches:
        entries = torch.arange(self.width, device=self.signal.device)
        return TensorBatches(entries, self.signal, batch_size=0)
