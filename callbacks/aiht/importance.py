"""Where the vector-output selection (docs/algorithms.md: vector AIHT) gets each weight's importance from.

The default is the paper's count sketch (``callbacks/aiht/count_sketch.py``): 4·s·log(N/s) cells,
plus one byte per index of each block of 100000 indices whose signs were needed. ``exact`` is
a dense N-vector of accumulated updates, for checks and comparisons only (8 bytes per weight in
float64, against at most 1 for the sketch's sign tables). Both take the same calls:
``locate(idx)`` → locations, ``add(locations, deltas)``, ``estimate(locations)``, and for streams
of blocks ``stage(locations, deltas, sizes)`` then ``add_staged(*stage[b])`` block by block (each
block's updates added in the order given).
"""

import torch
from torch import Tensor

from callbacks.aiht.count_sketch import CountSketch, sketch_width

IMPORTANCE_KINDS = ("sketch", "exact")


class ExactImportance:
    """Every entry's accumulated updates, exactly: a dense vector of length N."""

    def __init__(self, num_entries: int, device: torch.device | str = "cpu", dtype=torch.float64) -> None:
        self.num_entries = num_entries
        self.table = torch.zeros(num_entries, dtype=dtype, device=device)

    def locate(self, idx: Tensor) -> Tensor:
        return idx.unsqueeze(0)

    def add(self, loc: Tensor, deltas: Tensor) -> None:
        self.table.index_put_((loc[0],), deltas.to(self.table.dtype), accumulate=True)

    def stage(self, loc: Tensor, deltas: Tensor, sizes: list[int]) -> list[tuple[Tensor, Tensor]]:
        """Blocks of distinct indices: (indices, updates) per block, for ``add_staged``."""
        return list(zip(loc[0].split(sizes), deltas.to(self.table.dtype).split(sizes), strict=True))

    def add_staged(self, idx: Tensor, deltas: Tensor) -> None:
        self.table[idx] += deltas

    def estimate(self, loc: Tensor) -> Tensor:
        return self.table[loc[0]]

    def nbytes(self) -> int:
        return self.table.numel() * self.table.element_size()

    def state_dict(self) -> dict:
        return {"table": self.table.clone(), "num_entries": self.num_entries}

    def load_state_dict(self, state: dict) -> None:
        if state["table"].shape != self.table.shape:
            raise ValueError("exact importance state does not fit this problem's number of weights")
        self.table.copy_(state["table"])


def make_importance(kind: str, num_entries: int, budget: int, device, dtype, signs: str = "numpy"):
    """The importance accumulator ``kind`` for N = ``num_entries`` weights and budget s (``dtype``:
    the exact accumulator's; ``signs``: the generator of the sketch's signs, ``numpy`` or ``cupy``)."""
    if kind == "sketch":  # float32 cells whatever the run's precision, as the paper's sketch
        return CountSketch(num_entries, sketch_width(budget, num_entries), device=device, signs=signs)
    if kind == "exact":
        return ExactImportance(num_entries, device=device, dtype=dtype)
    raise ValueError(f"aiht.importance must be one of {', '.join(IMPORTANCE_KINDS)}, got {kind!r}")
