"""The sensing matrix's columns on the current support, kept while the batch and the gates stay.

One full-batch AIHT update (SPEC §2) needs A_S three times: the prediction A_S w_S, the step
size's A_S g_S and, for the entries the top-s keeps, the refinement's A_S~. Gathering columns
costs more than the products that use them, so they are gathered once per batch and state of
the gates, and only the columns of entries new to the support are added. They are held as the
rows of A_S^T (|S| × n), gathered from a contiguous copy of X^T, since row copies are cheap.

The gates are an m × d tensor (the dense network's) or, for a compact network, an object whose
``rows(units, dtype, device)`` gives the gates of some units (``modules/gate_rows.py``); such an
object stands for one state of the gates (a move of the gates makes a new one).
"""

import torch
from torch import Tensor


class SupportColumns:
    """A[:, S]^T for one batch x and one state of the gates; a new x or new gates start afresh."""

    def __init__(self) -> None:
        self._x: Tensor | None = None
        self._gates: Tensor | None = None
        self._versions = (-1, -1)
        self._xt: Tensor | None = None
        self._index: Tensor | None = None
        self._rows: Tensor | None = None

    def rows(self, x: Tensor, gates, flat_index: Tensor) -> Tensor:
        """A[:, flat_index]^T (len(flat_index) × n) for the unit-major indices ``flat_index``
        (ascending), under ``gates`` (m × d, or rows on demand): row k is 1[X h_j > 0] ∘ X[:, i]
        for index j·d + i."""
        gates_version = gates._version if isinstance(gates, Tensor) else 0
        if not _same(self._x, x) or self._versions[0] != x._version:
            self._x, self._xt, self._gates = x, x.T.contiguous(), None
        if self._gates is not gates or self._versions[1] != gates_version:
            self._gates, self._index, self._rows = gates, None, None
        self._versions = (x._version, gates_version)
        if self._index is not None and torch.equal(self._index, flat_index):
            return self._rows
        if self._index is None or self._index.numel() == 0 or flat_index.numel() == 0:
            out = self._gather(gates, flat_index)
        else:
            pos = torch.searchsorted(self._index, flat_index).clamp_(max=self._index.numel() - 1)
            kept = self._index[pos] == flat_index
            out = self._rows.index_select(0, pos)  # rows of entries new to the support are replaced
            new = (~kept).nonzero().squeeze(1)
            out.index_copy_(0, new, self._gather(gates, flat_index[new]))
        self._index, self._rows = flat_index, out
        return out

    def _gather(self, gates, flat_index: Tensor) -> Tensor:
        d = self._xt.shape[0]
        units, feats = flat_index // d, flat_index % d
        unique_units, which = torch.unique(units, return_inverse=True)
        if isinstance(gates, Tensor):
            unit_gates = gates[unique_units]
        else:
            unit_gates = gates.rows(unique_units, self._xt.dtype, self._xt.device)
        closed = (unit_gates @ self._xt) <= 0
        return self._xt[feats].masked_fill_(closed[which], 0.0)


def _same(held: Tensor | None, x: Tensor) -> bool:
    """Whether x is the held batch, or a view of exactly its memory (a loader's full-batch slice);
    holding the batch keeps its memory from being reused by another one."""
    return held is not None and (
        held is x
        or (held.data_ptr() == x.data_ptr() and held.shape == x.shape and held.stride() == x.stride())
    )
