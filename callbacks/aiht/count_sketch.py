"""The paper's count sketch (docs/algorithms.md: vector AIHT): every weight's accumulated updates in 4 ×
width cells.

Row r sends flat index i to cell h_r(i) mod width, h_r(i) = fmix32((a_r·i + b_r) mod 2³²) with
the paper's constants a_r, b_r and MurmurHash3's finaliser fmix32, and gives it the sign
σ_r(i) = column r, row (i mod 100000) of block i // 100000's sign table (numpy's legacy
generator seeded with the block number, ``choice([-1, 1], size=(100000, 4))``; CuPy's with
``signs="cupy"``, as the paper's GPU runs, docs/reproducing.md). Adding δ to
entry i adds σ_r(i)·δ to its cell in every row; the estimate of i is the median over the rows of
σ_r(i)·cell in float64 (the mean of the two middle values, as numpy's median).

Cells are float32, as the paper's. Each update σ·δ is added in float64 and the sum rounded to
float32, one update after another in the order given: exactly what numpy's ``add.at`` does on a
float32 table with float64 updates (with float32 updates the result is the float32 sum, since
float64 holds it exactly before the one rounding). Updates that meet in one cell go in rounds
(the t-th update of every cell in round t), each round a plain gather and scatter: no atomics,
so the table is bit-for-bit the same on the CPU and on CUDA.

Hashes are computed on index tensors; sign tables are drawn for the blocks actually touched and
kept on the sketch's device, 1 byte per index (the four signs as bits). Nothing of length N is
stored unless every block is touched.
"""

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from datamodules import cupy_draws

ROWS = 4
HASH_A = (994443, 4113759, 9171025, 9024893)
HASH_B = (609478, 2949676, 2171464, 374849)
SIGN_BLOCK = 100_000
MASK32 = 0xFFFFFFFF
FORMAT = "paper"  # tags state dicts: tables of this sketch, not of earlier hash functions


def sketch_width(budget: int, num_entries: int) -> int:
    """int(s · max(1, ln(N/s))): the count sketch's width for budget s over N entries."""
    return int(budget * max(1.0, math.log(num_entries / budget)))


def numpy_sign_block(block: int, device: torch.device | str = "cpu") -> Tensor:
    """Block B's signs, SIGN_BLOCK × ROWS values ±1: ``np.random.seed(B)`` then
    ``np.random.choice([-1, 1], size=(100000, 4))`` (numpy's legacy generator, as on the CPU)."""
    signs = np.random.RandomState(block).choice([-1, 1], size=(SIGN_BLOCK, ROWS))
    return torch.from_numpy(signs).to(device)


def cupy_sign_block(block: int, device: torch.device | str = "cpu") -> Tensor:
    """Block B's signs as the paper's GPU runs draw them: ``cp.random.seed(B)`` then
    ``cp.random.choice([-1, 1], size=(100000, 4))`` (``datamodules/cupy_draws.py``)."""
    return cupy_draws.sign_table(block, (SIGN_BLOCK, ROWS), torch.device(device), "model.net.draws")


SIGN_SOURCES: dict[str, Callable[[int, torch.device], Tensor]] = {
    "numpy": numpy_sign_block,
    "cupy": cupy_sign_block,
}


def _times_mod32(h: Tensor, constant: int) -> Tensor:
    """(h · constant) mod 2³² for h < 2³², in int64 without overflow: the constant in 16-bit halves."""
    low, high = constant & 0xFFFF, constant >> 16
    return (h * low + (((h * high) & 0xFFFF) << 16)) & MASK32


def fmix32(h: Tensor) -> Tensor:
    """MurmurHash3's 32-bit finaliser on values below 2³² held in int64."""
    h = h ^ (h >> 16)
    h = _times_mod32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _times_mod32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def paper_hashes(idx: Tensor) -> Tensor:
    """ROWS × len(idx) hashes fmix32((a_r·i + b_r) mod 2³²) of the flat indices ``idx`` (int64)."""
    a = torch.tensor(HASH_A, device=idx.device).unsqueeze(1)
    b = torch.tensor(HASH_B, device=idx.device).unsqueeze(1)
    return fmix32((a * (idx & MASK32) + b) & MASK32)  # a < 2²⁴: the product stays below 2⁵⁶


class CountSketch:
    """The paper's count sketch over flat indices 0 … num_entries − 1, on ``device``.

    ``locate(idx)`` gives each index's (cell, sign) per row, packed as cell·2 + [sign < 0] in a
    ROWS × len(idx) int64 tensor; ``add`` and ``estimate`` take such locations, so a caller that
    keeps entries around hashes them once. ``signs`` names the source of the sign tables in
    ``SIGN_SOURCES``.
    """

    def __init__(
        self, num_entries: int, width: int, device: torch.device | str = "cpu", signs: str = "numpy"
    ) -> None:
        if num_entries < 1 or width < 1:
            raise ValueError(
                f"the count sketch needs entries and width of at least 1, got {num_entries}, {width}"
            )
        if signs not in SIGN_SOURCES:
            raise ValueError(f"count sketch signs must be one of {', '.join(SIGN_SOURCES)}, got {signs!r}")
        self.num_entries, self.width, self.rows, self.signs = num_entries, width, ROWS, signs
        self.table = torch.zeros(ROWS, width, dtype=torch.float32, device=device)
        self._row_start = (torch.arange(ROWS, device=device) * width).unsqueeze(1)
        self._sign_bits: dict[int, Tensor] = {}  # block → one uint8 per index, bit r: row r's sign < 0

    @property
    def device(self) -> torch.device:
        return self.table.device

    def _block_bits(self, block: int) -> Tensor:
        if block not in self._sign_bits:
            negative = SIGN_SOURCES[self.signs](block, self.device) < 0
            weights = torch.tensor([1 << r for r in range(ROWS)], device=self.device)
            self._sign_bits[block] = (negative * weights).sum(1).to(torch.uint8)
        return self._sign_bits[block]

    def negative(self, idx: Tensor) -> Tensor:
        """ROWS × len(idx): 1 where row r's sign of the index is −1, else 0 (int64)."""
        block, offset = idx // SIGN_BLOCK, idx % SIGN_BLOCK
        blocks = torch.unique(block).tolist()
        if len(blocks) == 1:
            bits = self._block_bits(blocks[0])[offset]
        else:
            bits = torch.zeros_like(idx, dtype=torch.uint8)
            for b in blocks:
                chosen = block == b
                bits[chosen] = self._block_bits(b)[offset[chosen]]
        shifts = torch.arange(ROWS, device=idx.device).unsqueeze(1)
        return (bits.long().unsqueeze(0) >> shifts) & 1

    def locate(self, idx: Tensor) -> Tensor:
        """ROWS × len(idx) codes cell·2 + [sign < 0] of the flat indices ``idx`` (int64)."""
        return paper_hashes(idx) % self.width * 2 + self.negative(idx)

    def _signed(self, loc: Tensor, values: Tensor) -> Tensor:
        return torch.where((loc & 1).bool(), -values, values)

    def add(self, loc: Tensor, deltas: Tensor) -> None:
        """Adds ``deltas`` (one per located index), in the order given."""
        for staged in self.stage(loc, deltas, [loc.shape[1]]):
            self.add_staged(*staged)

    def stage(self, loc: Tensor, deltas: Tensor, sizes: list[int]) -> list[tuple[Tensor, Tensor, list[int]]]:
        """Splits located updates into consecutive blocks of ``sizes`` and orders each block in
        rounds: per block (cells of the flattened table, signed updates in float64, the bounds of
        its rounds), for ``add_staged`` one block at a time. Within a round the cells differ;
        an update's round is the number of earlier updates of its block to the same cell."""
        cells = ROWS * self.width
        device = loc.device
        sizes_t = torch.tensor(sizes, device=device)
        block = torch.repeat_interleave(torch.arange(len(sizes), device=device), sizes_t).expand_as(loc)
        local = ((loc >> 1) + self._row_start).reshape(-1)
        keys = local + block.reshape(-1) * cells
        signed = self._signed(loc, deltas.to(torch.float64).expand_as(loc)).reshape(-1)
        keys, order = torch.sort(keys, stable=True)  # stable: equal keys keep the given order
        starts = torch.ones_like(keys, dtype=torch.bool)
        starts[1:] = keys[1:] != keys[:-1]
        position = torch.arange(keys.numel(), device=device)
        rank = position - torch.where(starts, position, 0).cummax(0).values
        rounds = int(rank.max()) + 1 if keys.numel() else 1
        # Sort by (block, round, cell): each block's rounds one after another.
        composite = (keys // cells * rounds + rank) * cells + keys % cells
        composite, regroup = torch.sort(composite)
        order = order[regroup]
        marks = torch.arange(len(sizes) * rounds + 1, device=device) * cells
        bounds = torch.searchsorted(composite, marks).view(-1).tolist()
        local, signed = local[order], signed[order]
        staged = []
        for b in range(len(sizes)):
            edges = bounds[b * rounds : (b + 1) * rounds + 1]
            first, last = edges[0], edges[-1]
            edges = sorted(set(e - first for e in edges))
            staged.append((local[first:last], signed[first:last], edges))
        return staged

    def add_staged(self, cells: Tensor, updates: Tensor, edges: list[int]) -> None:
        """Adds one staged block, round after round: cell ← float32(float64(cell) + update)."""
        flat = self.table.view(-1)
        for a, b in zip(edges[:-1], edges[1:], strict=False):
            chosen = cells[a:b]
            flat[chosen] = (flat[chosen].to(torch.float64) + updates[a:b]).to(torch.float32)

    def estimate(self, loc: Tensor) -> Tensor:
        """The median over rows of sign · cell (float64) for each located index."""
        values = self._signed(loc, self.table.gather(1, loc >> 1).to(torch.float64))
        ordered = values.sort(dim=0).values
        half = ROWS // 2
        return (ordered[half - 1] + ordered[half]) / 2

    def nbytes(self) -> int:
        """The table and the sign tables drawn so far."""
        signs = sum(bits.numel() * bits.element_size() for bits in self._sign_bits.values())
        return self.table.numel() * self.table.element_size() + signs

    def state_dict(self) -> dict:
        """The table (sign tables are drawn again on demand)."""
        return {
            "table": self.table.clone(),
            "num_entries": self.num_entries,
            "format": FORMAT,
            "signs": self.signs,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("format") != FORMAT or state.get("signs") != self.signs:
            raise ValueError(
                f"this count sketch state was written by another sketch (format {state.get('format')!r}, "
                f"signs {state.get('signs')!r}); this one is the paper's sketch with {self.signs} signs"
            )
        if tuple(state["table"].shape) != tuple(self.table.shape):
            raise ValueError(
                f"count sketch state of shape {tuple(state['table'].shape)} does not fit this sketch "
                f"({ROWS} × {self.width})"
            )
        self.table.copy_(state["table"])
