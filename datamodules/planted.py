"""The mlp_planted task (docs/algorithms.md): data labelled by a random sparse ReLU network, drawn as the
paper draws it.

With seed q: numpy's legacy generator seeded q+1 draws each planted layer (positions with
``choice(P, c, replace=False)`` into the row-major rows × cols matrix, then ``normal(size=c)``
as float32); seeded q+2 it draws X; torch seeded q+3 orders the minibatches. Train and
validation data are the same set.
"""

import numpy as np
import torch

from datamodules.draw_cache import TENSORS, DrawCache
from datamodules.sparse_matrix import SparseMatrix
from datamodules.task import SkipPoint, TaskDataModule, check_batch_size
from datamodules.tensor_batches import TensorBatches


def planted_layer_shapes(
    num_layers: int, input_dim: int, width: int, output_dim: int
) -> list[tuple[int, int]]:
    """(rows, cols) of each planted weight matrix; a scalar output is fused (no output layer)."""
    shapes = [(input_dim, width)] + [(width, width)] * (num_layers - 1)
    if output_dim > 1:
        shapes.append((width, output_dim))
    return shapes


def draw_planted_weights(
    num_layers: int, input_dim: int, width: int, output_dim: int, sparsity: int, seed: int
) -> list[SparseMatrix]:
    """The planted weight matrices, as their nonzeros (float64 holding float32 values), as
    docs/algorithms.md draws them.

    ``choice(P, c, replace=False)`` permutes all P positions (8·P bytes for a moment): the one
    step of the data whose memory grows with the layer's size.
    """
    rng = np.random.RandomState(seed + 1)
    shapes = planted_layer_shapes(num_layers, input_dim, width, output_dim)
    weights = []
    for rows, cols in shapes:
        size = rows * cols
        count = min(size, int(sparsity / len(shapes)))
        positions = rng.choice(size, count, replace=False)
        values = rng.normal(size=count).astype(np.float32).astype(np.float64)
        order = np.argsort(positions)
        positions, values = positions[order], values[order]
        weights.append(SparseMatrix(positions // cols, positions % cols, values, (rows, cols)))
    return weights


def draw_inputs(n: int, input_dim: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed + 2).normal(size=(n, input_dim)).astype(np.float32)


#: X of the points run in this process, drawn once per (n, d, seed) and dtype
#: (``datamodules/draw_cache.py``).
INPUTS = DrawCache()


def planted_inputs(n: int, input_dim: int, seed: int, dtype: np.dtype = np.float32) -> np.ndarray:
    """``draw_inputs(n, input_dim, seed)`` in ``dtype`` (float32 or float64: the same values),
    drawn once per process: a read-only array shared by every caller."""
    dtype = np.dtype(dtype)
    return INPUTS.get(
        (n, input_dim, seed, dtype.name), lambda: draw_inputs(n, input_dim, seed).astype(dtype, copy=False)
    )


def apply_planted(weights: list[SparseMatrix], x: np.ndarray, output_dim: int) -> np.ndarray:
    """The planted network's outputs as float32: relu after every hidden layer, fused sum if scalar.

    Only units with nonzero weights are computed (the others are relu(0) = 0), so the cost
    follows the nonzeros, not the width.
    """
    h, ids = np.asarray(x, dtype=np.float64), np.arange(x.shape[1])  # h's columns: the units ``ids``
    for i, w in enumerate(weights):
        row_pos = np.searchsorted(ids, w.rows).clip(max=max(len(ids) - 1, 0))
        live = (ids[row_pos] == w.rows) if len(ids) else np.zeros(len(w.rows), bool)
        out_ids, col_pos = np.unique(w.cols[live], return_inverse=True)
        block = np.zeros((len(ids), len(out_ids)))
        block[row_pos[live], col_pos] = w.values[live]
        h, ids = h @ block, out_ids
        if i < len(weights) - 1 or output_dim == 1:
            h = np.maximum(h, 0)
    if output_dim == 1:
        return h.sum(-1).astype(np.float32)
    out = np.zeros((x.shape[0], output_dim))
    out[:, ids] = h
    return out.astype(np.float32)


class PlantedMLPDataModule(TaskDataModule):
    """The planted-MLP task. ``width``, ``sparsity`` and ``seed`` are set per grid point.

    Args:
        width: hidden width m of the planted network (the grid's m).
        sparsity: total planted nonzeros s, split evenly over its layers (the grid's s).
        seed: the run's seed q.
        num_layers: planted hidden layers.
        nmeasurements: examples n.
        input_dim: input dimension (before the optional bias feature).
        output_dim: outputs k; 1 means the scalar, fused network.
        bias: append a constant-1 input feature.
        batch_size: 0 for full batch, else the minibatch size.
    """

    task_name = "mlp_planted"
    metric_name = "psnr"
    # The paper's minibatch AIHT draws this task's random gates with seed 0 whatever the run's
    # seed (docs/algorithms.md: scalar AIHT); None would mean the run's seed, as on the classification tasks.
    paper_minibatch_gate_seed = 0
    data_depends_on_sparsity = True  # the planted network has s nonzeros: IMP runs once per s
    # The paper's IMP loaders (docs/algorithms.md: IMP): full batch unshuffled; measured on the training
    # loader itself.
    imp_shuffles_full_batch = False
    imp_measures_on_training_loader = True

    def __init__(
        self,
        width: int = 10,
        sparsity: int = 10,
        seed: int = 0,
        num_layers: int = 1,
        nmeasurements: int = 50000,
        input_dim: int = 100,
        output_dim: int = 1,
        bias: bool = False,
        batch_size: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("width", width),
            ("sparsity", sparsity),
            ("num_layers", num_layers),
            ("nmeasurements", nmeasurements),
            ("input_dim", input_dim),
            ("output_dim", output_dim),
        ):
            if value < 1:
                raise ValueError(f"data.{name} must be at least 1, got {value}")
        check_batch_size(batch_size)
        self.width, self.sparsity, self.seed = width, sparsity, seed
        self.num_layers, self.nmeasurements = num_layers, nmeasurements
        self.input_dim, self.output_dim = input_dim, output_dim
        self.bias, self.batch_size = bias, batch_size
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None

    def setup(self, stage: str) -> None:
        if self.x is not None:
            return
        if self.num_layers > 1 and self.width**2 < int(self.sparsity / self.num_layers):
            raise SkipPoint(
                f"m²={self.width**2} < s/L={int(self.sparsity / self.num_layers)}: the hidden layers "
                "would be more than dense (the paper skips such points): recorded with metric 0"
            )
        weights = draw_planted_weights(
            self.num_layers, self.input_dim, self.width, self.output_dim, self.sparsity, self.seed
        )
        # float64 X (the same values as float32's) where the fit is in float64: no conversion per point
        dtype = np.float64 if self.placement()[1] == torch.float64 else np.float32
        x = planted_inputs(self.nmeasurements, self.input_dim, self.seed, dtype)
        y = apply_planted(weights, x, self.output_dim)
        self.planted_weights = weights
        self.max_label = float(np.abs(y).max())
        if self.max_label == 0:
            raise SkipPoint("all planted labels are zero: recorded with metric 0, as the paper does")
        if self.bias:
            self.x = self.as_tensor(np.concatenate([x, np.ones((x.shape[0], 1), x.dtype)], axis=1))
        else:
            key = (self.nmeasurements, self.input_dim, self.seed, *self.placement())
            self.x = TENSORS.get(key, lambda: self.as_tensor(x))
        self.y = self.as_tensor(y)

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x, self.y, self.batch_size, shuffle=True, seed=self.seed + 3, skip_epochs=1)

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x, self.y, self.batch_size, shuffle=False)
