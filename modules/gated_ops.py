"""Products with the sensing matrix A = [D_1 X, …, D_m X] of SPEC §1, never forming A.

D_j = diag(1[X h_j > 0]). A weight matrix W (m × d, row j = unit j) stands for the
unit-major vector w, so A w = sum_j D_j X w_j and (A^T r)_j = X^T D_j r.
"""

import torch
from torch import Tensor

from modules.support_columns import SupportColumns


def nonzero_rows(mat: Tensor) -> Tensor:
    """Indices of the rows of ``mat`` that hold at least one nonzero."""
    return (mat != 0).any(dim=1).nonzero().squeeze(1)


def chunk_rows(num_units: int, element_size: int, memory_mb: float) -> int:
    """How many examples' gate patterns over ``num_units`` units fit in ``memory_mb``."""
    return max(1, int(memory_mb * 2**20) // max(1, num_units * element_size))


def gated_product(x: Tensor, weight: Tensor, gates: Tensor | None) -> Tensor:
    """A w for the weights ``weight`` (m × d) under ``gates`` (m × d); gates None means h = w.

    Only units with nonzero weights cost anything, so this is cheap for sparse w.
    """
    units = nonzero_rows(weight)
    if units.numel() == 0:
        return x.new_zeros(x.shape[0])
    if gates is None:
        return (x @ weight[units].T).clamp_min_(0).sum(1)
    k = units.numel()
    both = x @ torch.cat([weight[units], gates[units]]).T  # one product for values and patterns
    return both[:, :k].mul_(both[:, k:] > 0).sum(1)


def gated_gradient(x: Tensor, r: Tensor, gates: Tensor, memory_mb: float = 32.0) -> Tensor:
    """A^T r as an m × d matrix: row j is X^T (1[X h_j > 0] ∘ r).

    Units with zero gates are closed on every example, so their rows are zero and skipped.
    The examples go in chunks so that at most ``memory_mb`` of gate patterns exist at once;
    small chunks also keep the masking pass in cache, which makes the whole thing about as
    fast as the two bare products.
    """
    grad = torch.zeros_like(gates)
    units = nonzero_rows(gates)
    if units.numel() == 0:
        return grad
    open_gates = gates[units]
    block = torch.zeros_like(open_gates)
    step = chunk_rows(units.numel(), x.element_size(), memory_mb)
    for start in range(0, x.shape[0], step):
        xs = x[start : start + step]
        pattern = xs @ open_gates.T
        pattern.gt_(0).mul_(r[start : start + step].unsqueeze(1))
        block.addmm_(pattern.T, xs)
    grad[units] = block
    return grad


class GatedProduct(torch.autograd.Function):
    """y = A w with the gates held constant; its backward is the full gradient A^T (dL/dy).

    The forward uses the support's columns (``support_rows``: A[:, support]^T, from
    ``SupportColumns``); the backward costs the two n·d·m products (gate patterns, then masked
    residual times X), in chunks of examples.
    """

    @staticmethod
    def forward(
        ctx, x: Tensor, weight: Tensor, gates: Tensor, memory_mb: float, support_rows: Tensor, support: Tensor
    ) -> Tensor:
        ctx.save_for_backward(x, gates)
        ctx.memory_mb = memory_mb
        if support.numel() == 0:
            return x.new_zeros(x.shape[0])
        return weight.reshape(-1)[support] @ support_rows

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, gates = ctx.saved_tensors
        return None, gated_gradient(x, grad_out, gates, ctx.memory_mb), None, None, None, None


def gated_prediction(
    x: Tensor, weight: Tensor, gates: Tensor, columns: SupportColumns, memory_mb: float
) -> Tensor:
    """A w through ``GatedProduct``, the support's columns taken from (and left in) ``columns``."""
    support = weight.detach().reshape(-1).nonzero().squeeze(1)
    rows = columns.rows(x, gates, support)
    return GatedProduct.apply(x, weight, gates, memory_mb, rows, support)
