"""A plain, slow re-implementation of vector-output AIHT (docs/algorithms.md) for the tests.

Dense per-unit matrices D_j X and P_j, numpy's global generator exactly as docs/algorithms.md words the
start values, a Python dict for the kept set, every block processed (none skipped). The
importance is pluggable: ``ExactAccumulator`` (a dense numpy vector) or ``SketchAccumulator``
around the tests' own numpy transcription of the paper's count sketch (tests/reference_sketch.py).
"""

import math

import numpy as np
import torch

from tests.reference_sketch import SpecSketch


class ExactAccumulator:
    def __init__(self, num_entries: int) -> None:
        self.total = np.zeros(num_entries)

    def add(self, idx: list[int], deltas: torch.Tensor) -> None:
        for i, delta in zip(idx, deltas.tolist(), strict=True):
            self.total[i] += delta

    def estimates(self, idx: list[int]) -> np.ndarray:
        return self.total[idx]


class SketchAccumulator:
    def __init__(self, num_entries: int, budget: int) -> None:
        self.sketch = SpecSketch(num_entries, budget)

    def add(self, idx: list[int], deltas: torch.Tensor) -> None:
        self.sketch.add(idx, deltas.numpy())

    def estimates(self, idx: list[int]) -> np.ndarray:
        return self.sketch.estimates(idx)


def spec_prediction(x, w1, w2, gates):
    y = torch.zeros(x.shape[0], w2.shape[1], dtype=x.dtype)
    for j in range(w1.shape[0]):
        d_j = ((x @ gates[j]) > 0).to(x.dtype)
        y += torch.outer((d_j[:, None] * x) @ w1[j], w2[j])
    return y


def spec_start_values(j: int, size: int, bound: float) -> torch.Tensor:
    np.random.seed(j)
    return torch.tensor([np.random.uniform(-bound, bound) for _ in range(size)], dtype=torch.float64)


def restarted(row: torch.Tensor, start_rows: str) -> bool:
    """The paper's test, ``max(row) == 0``, or (``all_zero``) every entry zero."""
    if start_rows == "max_zero":
        return float(row.max()) == 0.0
    return all(v == 0 for v in row.tolist())


def spec_vector_update(
    x, b, w1, w2, gates, s, importance, initialise, crossentropy=False, start_rows="max_zero"
):
    """One vector AIHT update (docs/algorithms.md); returns the new (W1, W2)."""
    n, d = x.shape
    m, k = w2.shape
    s = min(s, m * d + m * k)
    y = spec_prediction(x, w1, w2, gates)
    r = ((torch.softmax(y, 1) if crossentropy else y) - b) / n
    if crossentropy:
        alpha = 0.001
    else:
        alpha = 2.0 if s < 6 * m**0.536 else 0.005
    flat = torch.cat([w1.reshape(-1), w2.reshape(-1)])
    kept = {i: float(flat[i]) for i in flat.nonzero().squeeze(1).tolist()}
    for j in range(m):
        u1, u2 = w1[j].clone(), w2[j].clone()
        if initialise and restarted(u1, start_rows):
            u1 = spec_start_values(j, d, 1 / math.sqrt(d * m))
        if initialise and restarted(u2, start_rows):
            u2 = spec_start_values(j, k, 1 / math.sqrt(m * k))
        a_j = ((x @ gates[j]) > 0).to(x.dtype)[:, None] * x
        p_j = a_j.T @ r
        g1, g2 = p_j @ u2, p_j.T @ u1
        for offset, old, grad in ((j * d, u1, g1), (m * d + j * k, u2, g2)):
            new = old - alpha * grad
            idx = list(range(offset, offset + old.numel()))
            importance.add(idx, -alpha * grad)
            for i, value in zip(idx, new.tolist(), strict=True):
                if i in kept or value != 0:
                    kept[i] = value
            if len(kept) > s:
                entries = list(kept)
                magnitudes = np.abs(importance.estimates(entries)).tolist()
                ranked = sorted(zip(magnitudes, entries, strict=True), reverse=True)  # ties: larger index
                kept = {i: kept[i] for _, i in ranked[:s]}
    out = torch.zeros_like(flat)
    for i, value in kept.items():
        out[i] = value
    return out[: m * d].view(m, d), out[m * d :].view(m, k)


def spec_vector_run(
    batches, m, d, k, s, seed_gates, importance, convex, per_epoch, crossentropy=False, start_rows="max_zero"
):
    """Vector AIHT (docs/algorithms.md) over a run's batches (as the pipeline saw them): the iterates after
    each update."""
    gates = seed_gates.clone()
    w1 = torch.zeros(m, d, dtype=torch.float64)
    w2 = torch.zeros(m, k, dtype=torch.float64)
    out = []
    for t, (x, b) in enumerate(batches):
        epoch, position = divmod(t, per_epoch)
        initialise = position == 0 and (epoch == 0 or per_epoch > 1)
        w1, w2 = spec_vector_update(x, b, w1, w2, gates, s, importance, initialise, crossentropy, start_rows)
        out.append((w1, w2))
        if not convex and epoch >= 1:
            gates = w1.clone()
    return out
