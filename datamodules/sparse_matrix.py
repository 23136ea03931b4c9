"""A matrix held as its nonzeros, for ground truths whose dense form would not fit (a planted
layer of a very wide network)."""

from typing import NamedTuple

import numpy as np


class SparseMatrix(NamedTuple):
    """A matrix held as its nonzeros: entry (rows[i], cols[i]) is values[i], ascending row-major."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    def toarray(self) -> np.ndarray:
        """The dense matrix (small matrices only: it has rows × cols entries)."""
        out = np.zeros(self.shape)
        out[self.rows, self.cols] = self.values
        return out
