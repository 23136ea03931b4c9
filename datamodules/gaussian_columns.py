"""The Gaussian sensing matrix of SPEC §6 ``gaussian_sparse``, generated on demand, never stored.

A is n_rows × n_cols with independent N(0, 1) entries (unscaled, as in the paper's code). Its
columns come in blocks of ``block_size``: block b (columns b·B … b·B + B − 1, the last block
possibly shorter) is one draw of ``torch.randn(width, n_rows)`` from a CPU generator seeded
with the 64-bit state that ``numpy.random.SeedSequence((seed, b))`` gives, row k of the draw
being column b·B + k of A (each column is n_rows consecutive draws). So A is a fixed function of
(n_rows, n_cols, seed, block_size) and of nothing else: not of the device, not of the order
in which columns are asked for. Blocks are drawn in float64 and then cast, so a float32 run
sees the rounding of the same matrix.

Every product streams over the blocks it needs, so at most one block (n_rows × block_size
values) plus the result exists at a time.

The paper's code seeds its generator once per column, with CuPy's generator on a GPU (SPEC §8).
With ``draws="cupy"`` A is that matrix: column j is ``cp.random.seed(j + offset)`` then
``cp.random.normal(size=n_rows)``, offset = ``cp.random.seed(seed)`` then
``cp.random.randint(low=0, high=n_cols).item()`` (``datamodules/cupy_draws.py``; a CUDA GPU and
CuPy needed). The blocks then only bound the memory of a product.
"""

import numpy as np
import torch
from torch import Tensor

from datamodules import cupy_draws


def block_seed(seed: int, block: int) -> int:
    """The generator seed of column block ``block`` for the run's ``seed``."""
    return int(np.random.SeedSequence((seed, block)).generate_state(1, np.uint64)[0])


class GaussianColumns:
    """The matrix A, as columns drawn from the seed when a product needs them.

    Args:
        n_rows: measurements (rows of A).
        n_cols: signal length N (columns of A).
        seed: the run's seed (0 or more).
        block_size: columns per generated block; part of A's definition, and the memory bound
            of every product (n_rows × block_size values).
        dtype, device: of the tensors the products return.
        draws: ``numpy`` (the blocks above) or ``cupy`` (the paper's GPU columns).
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
    ) -> None:
        cupy_draws.check_draws_name(draws, "data.draws")
        for name, value in (("n_rows", n_rows), ("n_cols", n_cols), ("block_size", block_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if seed < 0:
            raise ValueError(f"the seed must be 0 or more, got {seed}")
        self.n_rows, self.n_cols, self.seed, self.block_size = n_rows, n_cols, seed, block_size
        self.dtype, self.device, self.draws = dtype, torch.device(device), draws
        self._offset: int | None = None  # CuPy's column seed offset, drawn when first needed

    @property
    def num_blocks(self) -> int:
        return -(-self.n_cols // self.block_size)

    def block_range(self, block: int) -> tuple[int, int]:
        """The first column of ``block`` and one past its last."""
        start = block * self.block_size
        return start, min(start + self.block_size, self.n_cols)

    def _draw(self, block: int) -> Tensor:
        """The block's columns as the rows of a width × n_rows matrix (A's block, transposed)."""
        if not 0 <= block < self.num_blocks:
            raise IndexError(f"block {block} out of range (A has {self.num_blocks} blocks)")
        start, stop = self.block_range(block)
        if self.draws == "cupy":
            if self._offset is None:
                self._offset = cupy_draws.gaussian_offset(self.seed, self.n_cols, self.device, "data.draws")
            values = cupy_draws.gaussian_columns(
                start, stop, self.n_rows, self._offset, self.device, "data.draws"
            )
            return values.to(dtype=self.dtype)
        generator = torch.Generator().manual_seed(block_seed(self.seed, block))
        values = torch.randn(stop - start, self.n_rows, generator=generator, dtype=torch.float64)
        return values.to(device=self.device, dtype=self.dtype)

    def block(self, block: int) -> Tensor:
        """Columns ``block_range(block)`` of A, as an n_rows × width matrix."""
        return self._draw(block).T

    def columns(self, idx: Tensor) -> Tensor:
        """The columns ``idx`` of A, in that order, as an n_rows × len(idx) matrix.

        Only the blocks that hold one of them are drawn, one at a time.
        """
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1).cpu()
        if idx.numel() and not (0 <= int(idx.min()) and int(idx.max()) < self.n_cols):
            raise IndexError(f"column indices must lie in [0, {self.n_cols}), got {idx.tolist()}")
        out = torch.empty(idx.numel(), self.n_rows, dtype=self.dtype, device=self.device)
        blocks = idx // self.block_size
        for b in torch.unique(blocks).tolist():
            where = (blocks == b).nonzero().squeeze(1)
            local = idx[where] - b * self.block_size
            out[where.to(self.device)] = self._draw(b)[local.to(self.device)]
        return out.T.contiguous()

    def matvec(self, idx: Tensor, values: Tensor) -> Tensor:
        """A x for the sparse x with ``values`` at the columns ``idx`` (length n_rows)."""
        if idx.numel() == 0:
            return torch.zeros(self.n_rows, dtype=self.dtype, device=self.device)
        return self.columns(idx) @ values.to(device=self.device, dtype=self.dtype)

    def matvec_T(self, r: Tensor) -> Tensor:
        """A^T r (length n_cols), streamed over the blocks."""
        r = r.to(device=self.device, dtype=self.dtype)
        out = torch.empty(self.n_cols, dtype=self.dtype, device=self.device)
        for b in range(self.num_blocks):
            start, stop = self.block_range(b)
            out[start:stop] = self._draw(b) @ r
        return out

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> "GaussianColumns":
        """The same matrix, with products on ``device`` in ``dtype``."""
        moved = GaussianColumns(
            self.n_rows,
            self.n_cols,
            self.seed,
            self.block_size,
            dtype=dtype or self.dtype,
            device=device or self.device,
            draws=self.draws,
        )
        moved._offset = self._offset
        return moved
