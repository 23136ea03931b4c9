"""The Gaussian sensing matrix of the ``gaussian_sparse`` task, drawn column by column as the
paper's code draws it.

A is n_rows × n_cols with independent N(0, 1) entries (unscaled, as in the paper's code). Each
column has its own seed: offset = ``np.random.seed(seed)`` then ``np.random.randint(0, n_cols)``
(for every seed, 0 too), and column j is the n_rows draws of ``np.random.normal`` right after
``np.random.seed(j + offset)``: numpy's legacy generator, as the paper's code makes these calls
on a CPU. One ``RandomState`` reseeded per column gives the same numbers as a fresh one, many
times faster. With ``draws="cupy"`` the same calls go to CuPy's generator on the GPU
(``datamodules/cupy_draws.py``), as the paper's GPU runs made them. Either way A is a fixed
function of (n_rows, n_cols, seed, draws) and of nothing else: not of the device, of the order in
which columns are asked for, or of the memory settings below. Columns are drawn in float64 and
then cast, so a float32 run sees the rounding of the same matrix.

Memory: when all of A (float64) fits in ``keep_mb`` it is drawn once, when first needed, and kept
(the paper's grid, 200 × 10000, is 16 MB). Otherwise every product streams over blocks of
``block_size`` columns, each drawn once per pass, so at most one block (n_rows × block_size
values) plus the result exists at a time; a few columns (the support's) are drawn on their own.
"""

import numpy as np
import torch
from torch import Tensor

from datamodules import cupy_draws


def column_offset(seed: int, n_cols: int) -> int:
    """The columns' seed offset: ``np.random.seed(seed)`` then ``np.random.randint(0, n_cols)``."""
    return int(np.random.RandomState(seed).randint(0, n_cols))


def numpy_columns(columns: list[int], n_rows: int, offset: int) -> np.ndarray:
    """Columns ``columns`` of A as the rows of a float64 array: ``seed(j + offset)`` then
    ``normal(size=n_rows)`` for each column j."""
    generator = np.random.RandomState()
    out = np.empty((len(columns), n_rows))
    for row, j in enumerate(columns):
        generator.seed(j + offset)
        out[row] = generator.normal(size=n_rows)
    return out


class GaussianColumns:
    """The matrix A, drawn from the seed when a product needs it.

    Args:
        n_rows: measurements (rows of A).
        n_cols: signal length N (columns of A).
        seed: the run's seed (0 or more).
        block_size: columns per block of a streamed product (n_rows × block_size values).
        dtype, device: of the tensors the products return.
        draws: ``numpy`` (numpy's legacy generator) or ``cupy`` (CuPy's, on a CUDA GPU).
        keep_mb: A is drawn once and kept when its float64 values fit in this many MiB.
    """

    def __init__(
        self,
        n_rows: int,
        n_cols: int,
        seed: int,
        block_size: int = 256,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        draws: str = "numpy",
        keep_mb: float = 256.0,
    ) -> None:
        cupy_draws.check_draws_name(draws, "data.draws")
        for name, value in (("n_rows", n_rows), ("n_cols", n_cols), ("block_size", block_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if seed < 0:
            raise ValueError(f"the seed must be 0 or more, got {seed}")
        self.n_rows, self.n_cols, self.seed, self.block_size = n_rows, n_cols, seed, block_size
        self.dtype, self.device, self.draws = dtype, torch.device(device), draws
        self.keep = n_rows * n_cols * 8 <= keep_mb * 2**20
        self.keep_mb = keep_mb
        self._offset: int | None = None  # drawn when first needed
        self._kept: Tensor | None = None  # A^T (n_cols × n_rows), when ``keep``

    @property
    def offset(self) -> int:
        if self._offset is None:
            if self.draws == "cupy":
                self._offset = cupy_draws.gaussian_offset(self.seed, self.n_cols, self.device, "data.draws")
            else:
                self._offset = column_offset(self.seed, self.n_cols)
        return self._offset

    @property
    def num_blocks(self) -> int:
        return -(-self.n_cols // self.block_size)

    def block_range(self, block: int) -> tuple[int, int]:
        """The first column of ``block`` and one past its last."""
        start = block * self.block_size
        return start, min(start + self.block_size, self.n_cols)

    def _draw(self, columns: list[int]) -> Tensor:
        """Columns ``columns`` as the rows of a len(columns) × n_rows matrix (A's columns, transposed)."""
        if self._kept is not None:
            return self._kept[torch.tensor(columns, dtype=torch.long, device=self._kept.device)]
        if self.draws == "cupy":
            values = cupy_draws.gaussian_columns(columns, self.n_rows, self.offset, self.device, "data.draws")
        else:
            values = torch.from_numpy(numpy_columns(columns, self.n_rows, self.offset))
        return values.to(device=self.device, dtype=self.dtype)

    def transposed(self) -> Tensor | None:
        """All of A^T (n_cols × n_rows) when it is kept, drawn the first time; None otherwise."""
        if self.keep and self._kept is None:
            self._kept = self._draw(list(range(self.n_cols)))
        return self._kept

    def block(self, block: int) -> Tensor:
        """Columns ``block_range(block)`` of A, as an n_rows × width matrix."""
        if not 0 <= block < self.num_blocks:
            raise IndexError(f"block {block} out of range (A has {self.num_blocks} blocks)")
        start, stop = self.block_range(block)
        kept = self.transposed()
        return (kept[start:stop] if kept is not None else self._draw(list(range(start, stop)))).T

    def columns(self, idx: Tensor) -> Tensor:
        """The columns ``idx`` of A, in that order, as an n_rows × len(idx) matrix (only those
        columns are drawn, each once)."""
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        if idx.numel() and not (0 <= int(idx.min()) and int(idx.max()) < self.n_cols):
            raise IndexError(f"column indices must lie in [0, {self.n_cols}), got {idx.tolist()}")
        kept = self.transposed()
        if kept is not None:
            return kept[idx.to(kept.device)].T.contiguous()
        unique, position = torch.unique(idx.cpu(), return_inverse=True)
        drawn = self._draw(unique.tolist())
        return drawn[position.to(drawn.device)].T.contiguous()

    def matvec(self, idx: Tensor, values: Tensor) -> Tensor:
        """A x for the sparse x with ``values`` at the columns ``idx`` (length n_rows)."""
        if idx.numel() == 0:
            return torch.zeros(self.n_rows, dtype=self.dtype, device=self.device)
        return self.columns(idx) @ values.to(device=self.device, dtype=self.dtype)

    def matvec_T(self, r: Tensor) -> Tensor:
        """A^T r (length n_cols): one product with the kept A, or streamed over the blocks."""
        r = r.to(device=self.device, dtype=self.dtype)
        kept = self.transposed()
        if kept is not None:
            return kept @ r
        out = torch.empty(self.n_cols, dtype=self.dtype, device=self.device)
        for b in range(self.num_blocks):
            start, stop = self.block_range(b)
            out[start:stop] = self._draw(list(range(start, stop))) @ r
        return out

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> "GaussianColumns":
        """The same matrix, with products on ``device`` in ``dtype`` (a kept A is moved, not drawn
        again)."""
        moved = GaussianColumns(
            self.n_rows,
            self.n_cols,
            self.seed,
            self.block_size,
            dtype=dtype or self.dtype,
            device=device or self.device,
            draws=self.draws,
            keep_mb=self.keep_mb,
        )
        moved._offset = self._offset
        if self._kept is not None and self._kept.dtype == torch.float64:  # a cast from the drawn values
            moved._kept = self._kept.to(device=moved.device, dtype=moved.dtype)
        return moved
