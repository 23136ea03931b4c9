"""The sensing matrix's columns on the current support, and the gate patterns of their units, kept
while the batch and the gates stay.

One full-batch AIHT update (docs/algorithms.md: scalar AIHT) needs A_S three times: the prediction A_S w_S,
the step size's A_S g_S and, for the entries the top-s keeps, the refinement's A_S~. Gathering columns
costs more than the products that use them, so they are gathered once per batch and state of
the gates, and only the columns of entries new to the support are added. They are held as the
rows of A_S^T (|S| × n), gathered from a contiguous copy of X^T, since row copies are cheap (the
copy of the planted inputs is made once per process: ``datamodules/draw_cache.py``), and zeroed
where the unit's gate is closed by a bit mask (``closed_to_zero``).

Each gathered unit's gate pattern 1[X h_j > 0] (open examples, one byte each) is held too,
so that the full gradient of the same batch and gates (``modules/gated_ops.py``) and columns
added later need no second product with the gates. Patterns of units not gathered are computed
on request only while all the held ones fit in the request's memory budget.

The gates are an m × d tensor (the dense network's) or, for a compact network, an object whose
``rows(units, dtype, device)`` gives the gates of some units (``modules/gate_rows.py``); such an
object stands for one state of the gates (a move of the gates makes a new one).
"""

import torch
from torch import Tensor

from datamodules.draw_cache import TENSORS


class SupportColumns:
    """A[:, S]^T for one batch x and one state of the gates; a new x or new gates start afresh."""

    def __init__(self) -> None:
        self._x: Tensor | None = None
        self._gates: Tensor | None = None
        self._versions = (-1, -1)
        self._xt: Tensor | None = None
        self._index: Tensor | None = None
        self._rows: Tensor | None = None
        self._units: Tensor | None = None  # units whose patterns are held, ascending
        self._open: Tensor | None = None  # len(_units) × n bool: 1[X h_j > 0]

    def holds_batch(self, x: Tensor) -> bool:
        """Whether ``x`` is the batch the columns were gathered from, unchanged (its columns under
        new gates are then worth gathering: the next training step of that batch reuses them)."""
        return _same(self._x, x) and self._versions[0] == x._version

    def rows(self, x: Tensor, gates, flat_index: Tensor) -> Tensor:
        """A[:, flat_index]^T (len(flat_index) × n) for the unit-major indices ``flat_index``
        (ascending), under ``gates`` (m × d, or rows on demand): row k is 1[X h_j > 0] ∘ X[:, i]
        for index j·d + i."""
        self._hold(x, gates)
        if self._index is not None and torch.equal(self._index, flat_index):
            return self._rows
        if self._index is None or self._index.numel() == 0 or flat_index.numel() == 0:
            out = self._gather(flat_index)
        else:
            pos = torch.searchsorted(self._index, flat_index).clamp_(max=self._index.numel() - 1)
            kept = self._index[pos] == flat_index
            out = self._rows.index_select(0, pos)  # rows of entries new to the support are replaced
            new = (~kept).nonzero().squeeze(1)
            out.index_copy_(0, new, self._gather(flat_index[new]))
        self._index, self._rows = flat_index, out
        return out

    def patterns(self, x: Tensor, gates, units: Tensor, memory_mb: float | None = None) -> Tensor | None:
        """1[X h_j > 0] (len(units) × n, bool) for the ascending ``units`` under ``gates``.

        With ``memory_mb``, None instead when patterns would have to be computed and all the held
        ones would then take more than ``memory_mb`` (the caller computes them in chunks).
        """
        self._hold(x, gates)
        return self._patterns(units, memory_mb)

    def _patterns(self, units: Tensor, memory_mb: float | None = None) -> Tensor | None:
        """``patterns`` under the held batch and gates."""
        held = self._units
        if held is not None and held.numel() > 0:
            pos = torch.searchsorted(held, units).clamp_(max=held.numel() - 1)
            have = held[pos] == units
            if bool(have.all()):
                return self._open if torch.equal(held, units) else self._open[pos]
            missing = units[~have]
        else:
            missing = units
        count = missing.numel() + (0 if held is None else held.numel())
        if memory_mb is not None and count * self._xt.shape[1] > memory_mb * 2**20:
            return None
        self._add_patterns(missing)
        pos = torch.searchsorted(self._units, units)
        return self._open if torch.equal(self._units, units) else self._open[pos]

    def _hold(self, x: Tensor, gates) -> None:
        """Keeps what is held if ``x`` and ``gates`` are the held ones, unchanged; else starts afresh."""
        gates_version = gates._version if isinstance(gates, Tensor) else 0
        if not self.holds_batch(x):
            self._x, self._xt, self._gates = x, TENSORS.transposed(x), None
        if self._gates is not gates or self._versions[1] != gates_version:
            self._gates, self._index, self._rows = gates, None, None
            self._units, self._open = None, None
        self._versions = (x._version, gates_version)

    def _add_patterns(self, units: Tensor) -> None:
        """Computes and holds the patterns of ``units`` (ascending, none held yet). A unit whose
        gate is zero is closed on every example and costs no product."""
        gates = self._gates
        if isinstance(gates, Tensor):
            unit_gates = gates[units]
        else:
            unit_gates = gates.rows(units, self._xt.dtype, self._xt.device)
        live = (unit_gates != 0).any(1).nonzero().squeeze(1)
        if live.numel() == units.numel():
            opened = (unit_gates @ self._xt) > 0
        else:
            opened = torch.zeros(units.numel(), self._xt.shape[1], dtype=torch.bool, device=self._xt.device)
            if live.numel() > 0:
                opened[live] = (unit_gates[live] @ self._xt) > 0
        if self._units is None or self._units.numel() == 0:
            self._units, self._open = units, opened
            return
        all_units, order = torch.sort(torch.cat([self._units, units]))
        self._units, self._open = all_units, torch.cat([self._open, opened])[order]

    def _gather(self, flat_index: Tensor) -> Tensor:
        d = self._xt.shape[0]
        units, feats = flat_index // d, flat_index % d
        unique_units, which = torch.unique(units, return_inverse=True)
        opened = self._patterns(unique_units)
        return closed_to_zero(self._xt[feats], opened, which)


def closed_to_zero(rows: Tensor, patterns: Tensor, which: Tensor) -> Tensor:
    """``rows.masked_fill_(~patterns[which], 0.0)`` bit for bit (row k takes pattern ``which[k]``),
    at two to three times its speed on a CPU: the rows' bits are ANDed with all ones where open
    and all zeros (+0.0) where closed. torch's masked_fill and where take the elements one at a
    time, and a block of s columns of n examples is hundreds of MB. Consecutive rows of one
    pattern (the features of one unit) share one row of the mask."""
    bits = INTEGER_OF_WIDTH.get(rows.dtype)
    if bits is None or rows.device.type != "cpu":
        return rows.masked_fill_(~patterns[which], 0.0)
    groups, counts = torch.unique_consecutive(which, return_counts=True)
    if 4 * groups.numel() > which.numel():  # mostly a pattern per row: one mask for all rows
        rows.view(bits).bitwise_and_(patterns[which].to(bits).neg_())
        return rows
    masks = patterns[groups].to(bits).neg_()
    for block, mask in zip(rows.view(bits).split(counts.tolist()), masks, strict=True):
        block.bitwise_and_(mask)
    return rows


INTEGER_OF_WIDTH = {torch.float64: torch.int64, torch.float32: torch.int32}


def _same(held: Tensor | None, x: Tensor) -> bool:
    """Whether x is the held batch, or a view of exactly its memory (a loader's full-batch slice);
    holding the batch keeps its memory from being reused by another one."""
    return held is not None and (
        held is x
        or (held.data_ptr() == x.data_ptr() and held.shape == x.shape and held.stride() == x.stride())
    )
