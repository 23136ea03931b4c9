"""The gates of a compact network, row by row, without an m × d gate matrix.

Random gates (docs/algorithms.md: the model) are a function of (seed, unit), so any block of units is
regenerated when it is needed. Gates that follow the weights (sequential convex mode) are a copy of the
weights' (index, value) pairs: a unit without nonzeros has a zero gate and is closed for good.
"""

import numpy as np
import torch
from torch import Tensor

from datamodules import cupy_draws
from modules.gates import gate_seed_offset
from modules.sparse_rows import dense_rows, units_of

SETTING = "model.net.draws"


class RandomGateRows:
    """Unit j's gate: the ``input_dim`` normals numpy's legacy generator gives after seeding it
    with j + offset (offset from the gate seed, as ``modules.gates.random_gates``), or with
    ``draws`` cupy CuPy's (docs/reproducing.md, ``datamodules/cupy_draws.py``); with ``columns`` (ascending
    input indices), only those entries of each gate."""

    def __init__(
        self, width: int, input_dim: int, seed: int, columns: Tensor | None = None, draws: str = "numpy"
    ) -> None:
        self.width, self.input_dim, self.seed, self.draws = width, input_dim, seed, draws
        self.offset = None if draws == "cupy" else gate_seed_offset(seed, width * input_dim)
        self.columns = None if columns is None else columns.cpu().numpy()
        self._generator = np.random.RandomState()

    def rows(self, units: Tensor, dtype: torch.dtype, device: torch.device | str) -> Tensor:
        """The gates of ``units`` (len(units) × input_dim, or × len(columns))."""
        if self.draws == "cupy":
            return self._cupy_rows(units, torch.device(device)).to(dtype=dtype)
        width = self.input_dim if self.columns is None else len(self.columns)
        out = np.empty((units.numel(), width))
        for row, j in enumerate(units.tolist()):
            self._generator.seed(j + self.offset)
            gate = self._generator.normal(size=self.input_dim)
            out[row] = gate if self.columns is None else gate[self.columns]
        return torch.from_numpy(out).to(device=device, dtype=dtype)

    def _cupy_rows(self, units: Tensor, device: torch.device) -> Tensor:
        if self.offset is None:
            self.offset = cupy_draws.gate_offset(self.seed, self.width * self.input_dim, device, SETTING)
        rows = cupy_draws.gate_rows(units.tolist(), self.input_dim, self.offset, device, SETTING)
        return rows if self.columns is None else rows[:, torch.from_numpy(self.columns).to(rows.device)]


class SparseGateRows:
    """Gates copied from weights held as (index, value) pairs; zero rows for the other units."""

    def __init__(self, index: Tensor, values: Tensor, input_dim: int) -> None:
        self.index, self.values, self.input_dim = index, values, input_dim

    def units(self) -> Tensor:
        """The units whose gates are nonzero (the only ones ever open)."""
        return units_of(self.index, self.input_dim)

    def rows(self, units: Tensor, dtype: torch.dtype, device: torch.device | str) -> Tensor:
        return dense_rows(self.index, self.values, self.input_dim, units).to(device=device, dtype=dtype)
