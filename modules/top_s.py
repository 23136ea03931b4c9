"""AIHT's selection (docs/algorithms.md, scalar AIHT step 2; tie rule: docs/reproducing.md): the s entries
largest in magnitude, zeros never kept, and among equal magnitudes the larger flat index first.

``top_s_nonzero`` selects from one vector. ``RunningTopS`` selects from a stream of blocks of
candidates (value, flat index), keeping at most s of them between blocks; since the rule is a
total order on (|value|, index), the s kept after the last block are exactly those that the
selection over all blocks at once keeps, wherever the blocks' boundaries fall, ties included.
"""

import torch
from torch import Tensor


def top_s_nonzero(t: Tensor, s: int) -> Tensor:
    """Indices (ascending) of the s entries of t largest in magnitude, zeros never kept.

    Exact ties at the cut are common (units whose gates open on the same examples have equal
    gradient entries) and decide a run's outcome, so they follow one rule on every device: the
    larger flat index wins, as ``np.argsort(abs(t), kind="stable")[-s:]`` would choose.
    """
    magnitude = t.abs()
    k = min(s, int(torch.count_nonzero(magnitude)))
    if k == 0:
        return torch.zeros(0, dtype=torch.long, device=t.device)
    cut = torch.topk(magnitude, k, sorted=False).values.min()
    keep = magnitude > cut
    tied = (magnitude == cut).nonzero().squeeze(1)
    keep[tied[tied.numel() - (k - int(keep.sum())) :]] = True
    return keep.nonzero().squeeze(1)


class RunningTopS:
    """The top s of all candidates offered so far, by |value| then flat index.

    Args:
        budget: s.
        device, dtype: of the held candidates.
    """

    def __init__(self, budget: int, device: torch.device | str, dtype: torch.dtype) -> None:
        self.budget = budget
        self.index = torch.zeros(0, dtype=torch.long, device=device)
        self.values = torch.zeros(0, dtype=dtype, device=device)

    def offer(self, index: Tensor, values: Tensor) -> None:
        """Candidates ``values`` at the flat indices ``index`` (distinct, not offered before)."""
        chosen = top_s_nonzero(values, self.budget)  # a block's entries outside its own top s never win
        index, values = torch.cat([self.index, index[chosen]]), torch.cat([self.values, values[chosen]])
        order = torch.argsort(index)
        index, values = index[order], values[order]
        kept = top_s_nonzero(values, self.budget)  # ascending positions are ascending flat indices
        self.index, self.values = index[kept], values[kept]

    def result(self) -> tuple[Tensor, Tensor]:
        """The kept flat indices (ascending) and their values."""
        return self.index, self.values
