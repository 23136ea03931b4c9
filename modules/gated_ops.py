"""Products with the sensing matrix A = [D_1 X, …, D_m X] (docs/algorithms.md, the model), never forming A.

D_j = diag(1[X h_j > 0]). A weight matrix W (m × d, row j = unit j) stands for the
unit-major vector w, so A w = sum_j D_j X w_j and (A^T r)_j = X^T D_j r.

Units whose gates open on the same examples get bitwise-equal gradient rows, as the paper's
per-unit computation gives them, so that the top-s selection's tie rule (docs/reproducing.md), not the
order in which a matrix product happened to sum them, decides which of them is kept.
"""

import math

import torch
from torch import Tensor

from modules.support_columns import SupportColumns

ROW_HASH_STEP = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64: steps the row hash's multipliers


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


def word_bits(dtype: torch.dtype) -> int:
    """How many gate bits one float word of ``dtype`` holds as an exact integer: a sum of distinct
    powers 2^0 … 2^(bits−1) is exact in any order (53 for float64, 24 for float32)."""
    return round(-math.log2(torch.finfo(dtype).eps)) + 1


def gated_gradient(
    x: Tensor, r: Tensor, gates: Tensor, memory_mb: float = 32.0, columns: SupportColumns | None = None
) -> Tensor:
    """A^T r as an m × d matrix: row j is X^T (1[X h_j > 0] ∘ r).

    Units whose masked residuals 1[X h_j > 0] ∘ r are equal (gates open on the same examples,
    up to examples where r = 0) get bitwise-equal rows, as a per-unit computation gives them:
    a matrix product may sum rows that fall in different tiles in different orders, so each
    such group takes the row computed for its first unit. Units with zero gates are closed on
    every example; their rows are zero and skipped.

    With ``columns`` (the ``SupportColumns`` of this batch and these gates) the gate patterns it
    holds, or can hold within ``memory_mb``, are used instead of a product with the gates.
    """
    grad = torch.zeros_like(gates)
    units = nonzero_rows(gates)
    if units.numel() == 0:
        return grad
    opened = None if columns is None else columns.patterns(x, gates, units, memory_mb)
    if opened is None:
        block, patterns = _rows_and_patterns(x, r, gates[units], memory_mb)
    else:
        block, patterns = _rows_from_patterns(x, r, opened, memory_mb)
    first = first_equal_row(patterns)
    grad[units] = block if torch.equal(first, torch.arange(units.numel(), device=x.device)) else block[first]
    return grad


def _rows_from_patterns(x: Tensor, r: Tensor, opened: Tensor, memory_mb: float) -> tuple[Tensor, Tensor]:
    """X^T (1[X h_j > 0] ∘ r) for each row of the gate patterns ``opened`` (1[X h_j > 0], units ×
    n), and the support of 1[X h_j > 0] ∘ r as int64 words (8 examples a word, one byte each).

    The masked residuals go in chunks of examples, at most ``memory_mb`` at once; a closed
    example's entry is ±0, which adds nothing to the product.
    """
    units, n = opened.shape
    block = x.new_zeros(units, x.shape[1])
    support = torch.zeros(units, -(-n // 8) * 8, dtype=torch.bool, device=x.device)
    step = chunk_rows(units, x.element_size(), memory_mb)
    for start in range(0, n, step):
        masked = opened[:, start : start + step].to(x.dtype).mul_(r[start : start + step])
        block.addmm_(masked, x[start : start + step])
        torch.ne(masked, 0, out=support[:, start : start + masked.shape[1]])
    return block, support.view(torch.int64)


def _rows_and_patterns(x: Tensor, r: Tensor, gates: Tensor, memory_mb: float) -> tuple[Tensor, Tensor]:
    """X^T (1[X h_j > 0] ∘ r) for each row h_j of ``gates``, and that vector's support as bits:
    row j of the int64 patterns holds word w = sum of 2^b over the examples k = w·bits + b where
    unit j is open and r_k ≠ 0 (``bits`` from ``word_bits``).

    The examples go in chunks so that at most ``memory_mb`` of gate patterns exist at once
    (small chunks also keep the pass in cache). r is multiplied into X, not into the patterns,
    which saves a pass over them; a product with powers of two packs them into words exactly.
    """
    n, units = x.shape[0], gates.shape[0]
    bits = word_bits(x.dtype)
    place = 2.0 ** torch.arange(bits, dtype=x.dtype, device=x.device)
    weights = place.repeat(-(-n // bits))[:n] * (r != 0)
    patterns = torch.empty(-(-n // bits), units, dtype=torch.int64, device=x.device)  # word-major
    block = x.new_zeros(units, x.shape[1])
    step = max(1, chunk_rows(units, x.element_size(), memory_mb) // bits) * bits
    scaled = x.new_empty(min(step, n), x.shape[1])
    for start in range(0, n, step):
        xs = x[start : start + step]
        pattern = (xs @ gates.T).gt_(0)
        block.addmm_(pattern.T, torch.mul(xs, r[start : start + step, None], out=scaled[: xs.shape[0]]))
        words = _pack(pattern, weights[start : start + step], bits)
        patterns[start // bits : start // bits + words.shape[0]] = words
    return block, patterns.T


def _pack(pattern: Tensor, weights: Tensor, bits: int) -> Tensor:
    """Sums of ``weights`` over each run of ``bits`` rows of ``pattern`` (0/1), the last run
    possibly shorter: one row per run."""
    rows, units = pattern.shape
    full = rows // bits * bits
    runs = pattern[:full].view(full // bits, bits, units)
    words = (weights[:full].view(full // bits, 1, bits) @ runs).squeeze(1)
    if rows > full:
        words = torch.cat([words, (weights[full:] @ pattern[full:]).unsqueeze(0)])
    return words


def first_equal_row(rows: Tensor) -> Tensor:
    """For each row of the int64 matrix ``rows``, the index of the first row equal to it.

    Rows are grouped by a hash (integer arithmetic, wrapping, so it does not depend on the
    order of the sums); rows put with another are compared with it exactly, and on a
    collision all rows are sorted instead.
    """
    multipliers = torch.arange(rows.shape[1], dtype=torch.int64, device=rows.device)
    multipliers = multipliers.mul_(ROW_HASH_STEP).add_(ROW_HASH_STEP).bitwise_or_(1)
    _, group = torch.unique((rows * multipliers).sum(1), return_inverse=True)
    first = _first_of_group(group)
    merged = (first != torch.arange(first.numel(), device=first.device)).nonzero().squeeze(1)
    if not torch.equal(rows[merged], rows[first[merged]]):
        _, group = torch.unique(rows, dim=0, return_inverse=True)
        first = _first_of_group(group)
    return first


def _first_of_group(group: Tensor) -> Tensor:
    """For each entry, the first index whose group number is the same."""
    index = torch.arange(group.numel(), device=group.device)
    first = torch.full_like(index, group.numel()).scatter_reduce_(0, group, index, "amin")
    return first[group]


class GatedProduct(torch.autograd.Function):
    """y = A w with the gates held constant; its backward is the full gradient A^T (dL/dy).

    The forward uses the support's columns, gathered into (or found in) ``columns``, the
    ``SupportColumns`` of this network; the backward, the gate patterns ``columns`` holds for
    the batch and gates (when they fit in ``memory_mb``, else two n·d·m products in chunks of
    examples) and one product of the masked residuals with X.
    """

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        weight: Tensor,
        gates: Tensor,
        memory_mb: float,
        columns: SupportColumns,
        support: Tensor,
    ) -> Tensor:
        ctx.save_for_backward(x, gates)
        ctx.memory_mb, ctx.columns = memory_mb, columns
        rows = columns.rows(x, gates, support)
        if support.numel() == 0:
            return x.new_zeros(x.shape[0])
        return weight.reshape(-1)[support] @ rows

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, gates = ctx.saved_tensors
        grad = gated_gradient(x, grad_out, gates, ctx.memory_mb, ctx.columns)
        return None, grad, None, None, None, None


def gated_prediction(
    x: Tensor, weight: Tensor, gates: Tensor, columns: SupportColumns, memory_mb: float
) -> Tensor:
    """A w through ``GatedProduct``, the support's columns taken from (and left in) ``columns``."""
    support = weight.detach().reshape(-1).nonzero().squeeze(1)
    return GatedProduct.apply(x, weight, gates, memory_mb, columns, support)
