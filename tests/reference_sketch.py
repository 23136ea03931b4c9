"""A plain numpy transcription of vector AIHT's count sketch (the paper's), for the tests.

Python integers for the hashes, numpy's global legacy generator for the signs, ``np.add.at``
on a float32 table for the updates and ``np.median`` for the estimates, as docs/algorithms.md words them.
Independent of callbacks/aiht/count_sketch.py; slow, for small problems.
"""

import math

import numpy as np

A = [994443, 4113759, 9171025, 9024893]
B = [609478, 2949676, 2171464, 374849]
SIGN_BLOCK = 100000


def spec_hash(i, r: int):
    """Row r's hash of flat index i: (a·i + b) mod 2³², then MurmurHash3's finaliser in 32 bits.

    ``i`` is a Python int or a numpy uint64 array (every product below stays under 2⁶⁴)."""
    h = (A[r] * i + B[r]) % 2**32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) % 2**32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) % 2**32
    h ^= h >> 16
    return h


def spec_sign_table(block: int) -> np.ndarray:
    """Block B's sign table: seed numpy's generator with B, draw choice([-1, 1], size=(100000, 4))."""
    np.random.seed(block)
    return np.random.choice([-1, 1], size=(SIGN_BLOCK, 4))


class SpecSketch:
    """4 rows × int(s·max(1, ln(N/s))) float32 cells, zero at the start."""

    def __init__(self, num_entries: int, budget: int) -> None:
        self.width = int(budget * max(1, math.log(num_entries / budget)))
        self.table = np.zeros((4, self.width), dtype=np.float32)
        self.sign_tables: dict[int, np.ndarray] = {}

    def cell(self, i: int, r: int) -> int:
        return spec_hash(i, r) % self.width

    def sign(self, i: int, r: int) -> int:
        return int(self.signs(np.array([i]), r)[0])

    def cells(self, idx: np.ndarray, r: int) -> np.ndarray:
        return (spec_hash(idx.astype(np.uint64), r) % self.width).astype(np.int64)

    def signs(self, idx: np.ndarray, r: int) -> np.ndarray:
        out = np.zeros(len(idx), dtype=np.int64)
        for block in np.unique(idx // SIGN_BLOCK).tolist():
            if block not in self.sign_tables:
                self.sign_tables[block] = spec_sign_table(block)
            chosen = idx // SIGN_BLOCK == block
            out[chosen] = self.sign_tables[block][idx[chosen] % SIGN_BLOCK, r]
        return out

    def add(self, idx: list[int], deltas: np.ndarray) -> None:
        """Adds sign·delta into each row's cell, in index order, as ``np.add.at``."""
        idx = np.array(idx, dtype=np.int64)
        for r in range(4):
            np.add.at(self.table[r], self.cells(idx, r), self.signs(idx, r) * deltas)

    def estimates(self, idx: list[int]) -> np.ndarray:
        """The median over the 4 rows of sign·cell, in float64."""
        idx = np.array(idx, dtype=np.int64)
        rows = [self.signs(idx, r) * self.table[r, self.cells(idx, r)].astype(np.float64) for r in range(4)]
        return np.median(np.stack(rows), axis=0)

    def estimate(self, i: int) -> float:
        return float(self.estimates([i])[0])
