"""The count sketch of SPEC §3: every weight's accumulated updates in rows × width cells.

Row r sends flat index x to cell h_r(x) with sign σ_r(x) ∈ {±1}; adding δ to entry x adds
σ_r(x)·δ to cell h_r(x) of every row, and the estimate of x is the median over rows of
σ_r(x)·cell (the mean of the two middle values for an even number of rows, as numpy's median).
h_r and σ_r are Carter–Wegman hashes ((a·x + b) mod p) with p = 2^31 − 1 and fixed-seed
constants, computed on index tensors: nothing of length N is ever stored, the table is the
sketch's whole memory, and it lives on whatever device the indices come from.

Adding is deterministic on every device: updates that meet in one cell are summed in the order
they were given (no atomics), so the table is bit-for-bit the same on the CPU and on CUDA.
"""

import math

import numpy as np
import torch
from torch import Tensor

PRIME = 2**31 - 1
HASH_SEED = 20250923
ROWS = 4


def sketch_width(budget: int, num_entries: int) -> int:
    """int(s · max(1, ln(N/s))): SPEC §3's width for budget s over N entries."""
    return int(budget * max(1.0, math.log(num_entries / budget)))


class CountSketch:
    """A rows × width count sketch over flat indices 0 … num_entries − 1.

    ``locate(idx)`` gives each index's (cell, sign) per row, packed as cell·2 + [sign < 0] in a
    rows × len(idx) int64 tensor; ``add`` and ``estimate`` take such locations, so a caller that
    keeps entries around can hash them once.
    """

    def __init__(
        self,
        num_entries: int,
        width: int,
        rows: int = ROWS,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
        seed: int = HASH_SEED,
    ) -> None:
        if not 0 < num_entries < PRIME:
            raise ValueError(f"the count sketch hashes indices below 2^31 - 1; got {num_entries} entries")
        if width < 1 or rows < 1:
            raise ValueError(f"the count sketch needs width and rows of at least 1, got {width}, {rows}")
        self.num_entries, self.width, self.rows, self.seed = num_entries, width, rows, seed
        draws = np.random.RandomState(seed).randint(1, PRIME, size=(4, rows)).astype(np.int64)
        consts = torch.from_numpy(draws).to(device).unsqueeze(-1)  # (4, rows, 1)
        self._cell_a, self._cell_b, self._sign_a, self._sign_b = consts
        self._row_start = (torch.arange(rows, device=device) * width).unsqueeze(1)
        self.table = torch.zeros(rows, width, dtype=dtype, device=device)

    @property
    def device(self) -> torch.device:
        return self.table.device

    def locate(self, idx: Tensor) -> Tensor:
        """rows × len(idx) codes cell·2 + [sign < 0] of the flat indices ``idx`` (int64)."""
        cell = (self._cell_a * idx + self._cell_b) % PRIME % self.width
        negative = (self._sign_a * idx + self._sign_b) % PRIME & 1
        return cell * 2 + negative

    def _signed(self, loc: Tensor, values: Tensor) -> Tensor:
        return torch.where((loc & 1).bool(), -values, values)

    def add(self, loc: Tensor, deltas: Tensor) -> None:
        """Adds ``deltas`` (one per located index) to the sketch."""
        for adds in self.stage(loc, deltas, [loc.shape[1]]):
            self.add_staged(*adds)

    def stage(self, loc: Tensor, deltas: Tensor, sizes: list[int]) -> list[tuple[Tensor, Tensor]]:
        """Splits located updates into consecutive blocks of ``sizes`` and, per block, sums the
        updates that meet in one cell (in the order given): a list of (cells, sums), each block's
        cells distinct, for ``add_staged`` one block at a time."""
        cells = self.rows * self.width
        sizes_t = torch.tensor(sizes, device=loc.device)
        block = torch.repeat_interleave(torch.arange(len(sizes), device=loc.device), sizes_t)
        keys = ((loc >> 1) + self._row_start + block * cells).reshape(-1)
        contributions = self._signed(loc, deltas.to(self.table.dtype).expand_as(loc)).reshape(-1)
        keys, sums = sum_equal_keys(keys, contributions)
        bounds = torch.searchsorted(keys, torch.arange(len(sizes) + 1, device=loc.device) * cells).tolist()
        local = keys % cells
        return [(local[a:b], sums[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def add_staged(self, cells: Tensor, sums: Tensor) -> None:
        """Adds one staged block (distinct cells of the flattened table)."""
        self.table.view(-1)[cells] += sums

    def estimate(self, loc: Tensor) -> Tensor:
        """The median over rows of sign · cell for each located index."""
        values = self._signed(loc, self.table.gather(1, loc >> 1))
        ordered = values.sort(dim=0).values
        half = self.rows // 2
        if self.rows % 2:
            return ordered[half]
        return (ordered[half - 1] + ordered[half]) / 2

    def nbytes(self) -> int:
        return self.table.numel() * self.table.element_size()

    def state_dict(self) -> dict:
        return {"table": self.table.clone(), "seed": self.seed, "num_entries": self.num_entries}

    def load_state_dict(self, state: dict) -> None:
        if tuple(state["table"].shape) != tuple(self.table.shape) or state["seed"] != self.seed:
            raise ValueError(
                f"count sketch state of shape {tuple(state['table'].shape)} (seed {state['seed']}) does "
                f"not fit this sketch ({self.rows} × {self.width}, seed {self.seed})"
            )
        self.table.copy_(state["table"])


def sum_equal_keys(keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct keys (ascending) and, for each, the sum of its values in the order given.

    Deterministic on every device, without atomics: the entries are sorted by key (stably); the
    t-th entry of every group of equal keys is added in round t, and within a round all groups
    differ, so each round is a plain gather and scatter.
    """
    keys, order = torch.sort(keys, stable=True)
    values = values[order]
    starts = torch.ones_like(keys, dtype=torch.bool)
    starts[1:] = keys[1:] != keys[:-1]
    if bool(starts.all()):
        return keys, values
    group = torch.cumsum(starts, 0) - 1
    position = torch.arange(keys.numel(), device=keys.device)
    rank = position - torch.where(starts, position, 0).cummax(0).values
    sums = torch.zeros(int(group[-1]) + 1, dtype=values.dtype, device=values.device)
    for t in range(int(rank.max()) + 1):
        chosen = rank == t
        sums[group[chosen]] += values[chosen]
    return keys[starts], sums
