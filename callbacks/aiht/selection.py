"""Vector AIHT's selection (docs/algorithms.md): which s weights stay, decided block by block by
accumulated importance.

The kept set starts as the old support. Each block (W1's row j, then W2's row j, j = 0 … m−1)
streams through in turn: its updates go into the importance accumulator, its new values into
the kept set (a kept entry takes its new value; an entry not kept joins if its new value is
nonzero), and if the set then holds more than s entries, the s with the largest
|importance estimate| stay (ties: the larger flat index stays). Memory: the set (at most s plus
one block), its hash locations and the accumulator; never a vector of all N weights.

The blocks of a chunk of units are hashed and staged together; only what depends on the order
(adding a block, merging it, trimming) runs block by block. Consecutive blocks whose updates are
all zero (units with closed gates) go in one step: the importances do not change while they
pass, and top-s by a fixed order, taken block after block, is top-s of the union.
"""

import itertools

import torch
from torch import Tensor


class StreamingSelection:
    """The kept set of one update, sorted by flat index: indices, values, importance locations.

    Args:
        importance: a count sketch or exact accumulator (``callbacks/aiht/importance.py``).
        budget: s, the most entries kept after each block.
        idx, values: the old support (flat indices, ascending) and its values.
    """

    def __init__(self, importance, budget: int, idx: Tensor, values: Tensor) -> None:
        self.importance, self.budget = importance, budget
        self.idx, self.values = idx, values
        self.loc = importance.locate(idx)

    def offer_blocks(
        self, starts: list[int], sizes: list[int], values: Tensor, deltas: Tensor, still: list[bool]
    ) -> None:
        """Blocks in stream order: block b is the flat indices starts[b] … starts[b] + sizes[b] − 1;
        ``values`` and ``deltas`` hold their new values and updates (−alpha·grad), block after
        block; ``still[b]`` says that block b's updates are all zero."""
        idx = block_indices(starts, sizes, values.device)
        loc = self.importance.locate(idx)
        staged = self.importance.stage(loc, deltas, sizes)
        nonzero = values != 0
        ends = list(itertools.accumulate(sizes))
        b = 0
        while b < len(sizes):
            first = ends[b] - sizes[b]
            run = b + 1
            while still[b] and run < len(sizes) and still[run]:
                run += 1
            if run - b > 1:  # still blocks: nothing to add, one merge
                chosen = slice(first, ends[run - 1])
                self._merge_run(idx[chosen], values[chosen], loc[:, chosen], nonzero[chosen])
            else:
                if not still[b]:
                    self.importance.add_staged(*staged[b])
                self._merge(starts[b], sizes[b], first, idx, values, loc, nonzero[first : ends[b]])
            if self.idx.numel() > self.budget:
                self._trim()
            b = run

    def _merge(self, start, size, first, idx, values, loc, nonzero) -> None:
        """Kept entries of the block take their new values; the block's other nonzeros join."""
        bounds = torch.tensor([start, start + size], device=idx.device)
        low, high = torch.searchsorted(self.idx, bounds).tolist()
        member = nonzero.clone()
        member[self.idx[low:high] - start] = True
        chosen = member.nonzero().squeeze(1) + first
        self.idx = torch.cat([self.idx[:low], idx[chosen], self.idx[high:]])
        self.values = torch.cat([self.values[:low], values[chosen], self.values[high:]])
        self.loc = torch.cat([self.loc[:, :low], loc[:, chosen], self.loc[:, high:]], dim=1)

    def _merge_run(self, idx: Tensor, values: Tensor, loc: Tensor, nonzero: Tensor) -> None:
        """``_merge`` for several blocks at once (any flat indices)."""
        order = torch.argsort(idx)
        idx, values, loc, nonzero = idx[order], values[order], loc[:, order], nonzero[order]
        position = torch.searchsorted(idx, self.idx).clamp_(max=idx.numel() - 1)
        inside = idx[position] == self.idx
        member = nonzero.clone()
        member[position[inside]] = True
        outside = ~inside
        merged = torch.cat([self.idx[outside], idx[member]])
        order = torch.argsort(merged)
        self.idx = merged[order]
        self.values = torch.cat([self.values[outside], values[member]])[order]
        self.loc = torch.cat([self.loc[:, outside], loc[:, member]], dim=1)[:, order]

    def _trim(self) -> None:
        """Keeps the s entries of largest |estimate|; on ties the larger flat index (set is sorted)."""
        magnitude = self.importance.estimate(self.loc).abs()
        ascending = torch.sort(magnitude, stable=True).indices
        keep = torch.zeros_like(magnitude, dtype=torch.bool)
        keep[ascending[-self.budget :]] = True
        self.idx, self.values, self.loc = self.idx[keep], self.values[keep], self.loc[:, keep]

    def result(self) -> tuple[Tensor, Tensor]:
        """The kept flat indices (ascending) and their values."""
        return self.idx, self.values


def block_indices(starts: list[int], sizes: list[int], device) -> Tensor:
    """The flat indices of consecutive blocks: start, start + 1, …, one block after another."""
    sizes_t = torch.tensor(sizes, device=device)
    offsets = torch.cumsum(sizes_t, 0) - sizes_t
    begin = torch.tensor(starts, device=device) - offsets
    return torch.arange(int(sizes_t.sum()), device=device) + torch.repeat_interleave(begin, sizes_t)
