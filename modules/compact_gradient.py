"""Scalar AIHT's step 2 (docs/algorithms.md) for a compact network: the full gradient g = A^T r in chunks
of units, and the s largest entries of t = w − mu·g, without any array of all m·d entries.

For a chunk of units: their gates (regenerated from the seed where they are random, taken from
the sparse weights where gates follow the weights, so units without nonzeros cost nothing
there), the chunk's gradient block X^T (1[X h_j > 0] ∘ r) (``modules.gated_ops.gated_gradient``),
t on the chunk, and a running top s (``modules.top_s.RunningTopS``) that keeps exactly what the
selection over all m·d entries keeps, ties included. Memory: one chunk, sized by a budget.
"""

from collections.abc import Iterator

import torch
from torch import Tensor

from modules.gate_rows import RandomGateRows, SparseGateRows
from modules.gated_ops import gated_gradient
from modules.sparse_rows import dense_rows, flat_indices, units_of
from modules.top_s import RunningTopS

# A chunk's own arrays (gates, the gradient and its work copies, weights, t, |t|, flat indices)
# are about 8 float64 per entry; sizing them at a quarter of the budget keeps the allocator's
# leftovers from one chunk to the next small (measured: a pass over 60,000 units with n = 5000
# and 32 MB holds about 90 MB more than the process did, against 170-250 MB at full size).
BYTES_PER_ENTRY = 4 * 8 * 8


def units_per_chunk(dim: int, memory_mb: float) -> int:
    """How many units a chunk holds: its own arrays take about a quarter of ``memory_mb``, the
    gate patterns of ``gated_gradient`` (examples in chunks) at most ``memory_mb``."""
    return max(1, int(memory_mb * 2**20) // (BYTES_PER_ENTRY * max(1, dim)))


def gradient_chunks(
    gates: RandomGateRows | SparseGateRows, width: int, weight_units: Tensor, size: int, device
) -> Iterator[Tensor]:
    """The units whose gradient rows or weights can be nonzero, ascending, ``size`` at a time: all
    ``width`` units under random gates; else the units with a nonzero gate or weight."""
    if isinstance(gates, RandomGateRows):
        for start in range(0, width, size):
            yield torch.arange(start, min(width, start + size), device=device)
        return
    active = torch.unique(torch.cat([gates.units().to(device), weight_units]))
    yield from active.split(size)


def support_gradient(
    x: Tensor, r: Tensor, index: Tensor, dim: int, gates: RandomGateRows | SparseGateRows, memory_mb: float
) -> Tensor:
    """g at the flat indices ``index`` (ascending), from the gradient rows of their units only."""
    if index.numel() == 0:
        return x.new_zeros(0)
    units = units_of(index, dim)
    block = gated_gradient(x, r, gates.rows(units, x.dtype, x.device), memory_mb)
    row = torch.searchsorted(units, torch.div(index, dim, rounding_mode="floor"))
    return block[row, index % dim]


@torch.no_grad()
def compact_candidates(
    x: Tensor,
    r: Tensor,
    step_size: Tensor,
    index: Tensor,
    values: Tensor,
    width: int,
    gates: RandomGateRows | SparseGateRows,
    budget: int,
    memory_mb: float,
) -> tuple[Tensor, Tensor]:
    """The kept flat indices (ascending) and values of t = w − mu·g's top ``budget`` entries.

    ``index``/``values``: w as its nonzeros (width × dim, dim = x's columns); ``r``: the residual
    A w − b of the batch ``x``; ``step_size``: mu.
    """
    dim = x.shape[1]
    size = units_per_chunk(dim, memory_mb)
    top = RunningTopS(budget, x.device, x.dtype)
    for units in gradient_chunks(gates, width, units_of(index, dim), size, x.device):
        g = gated_gradient(x, r, gates.rows(units, x.dtype, x.device), memory_mb)
        t = dense_rows(index, values, dim, units) - step_size * g
        top.offer(flat_indices(units, dim), t.view(-1))
    return top.result()
