"""Full-batch scalar AIHT (docs/algorithms.md), unit by unit in numpy without ever forming A.

For the tests that need full-size points (A of Figure 1's m=100 point would be 50000 × 10000):
column j·d + i of A is D_j x_i, so A v = sum_j D_j X v_j and block j of A^T r is X^T (D_j r).
Each unit's gradient block is its own product, so units whose gates open on the same examples
get bitwise-equal entries, as in the paper's per-unit computation. No project code.
"""

import numpy as np

from tests.reference import spec_refine, spec_top_s


class UnitSensing:
    """A = [D_1 X, …, D_m X] for one batch and one set of gates (m × d), never formed."""

    def __init__(self, x: np.ndarray, gates: np.ndarray) -> None:
        self.x, self.d = x, x.shape[1]
        self.open = [(x @ h) > 0 for h in gates]  # D_j as a boolean mask over the examples

    def times(self, v: np.ndarray) -> np.ndarray:
        """A v for a unit-major v (m × d)."""
        out = np.zeros(self.x.shape[0])
        for j in np.flatnonzero(np.any(v != 0, axis=1)):
            out += np.where(self.open[j], self.x @ v[j], 0.0)
        return out

    def transpose_times(self, r: np.ndarray) -> np.ndarray:
        """A^T r as m × d."""
        return np.stack([self.x.T @ np.where(mask, r, 0.0) for mask in self.open])

    def columns(self, flat: list[int]) -> np.ndarray:
        """A[:, flat] (n × len(flat))."""
        cols = [np.where(self.open[i // self.d], self.x[:, i % self.d], 0.0) for i in flat]
        return np.stack(cols, axis=1) if cols else np.zeros((self.x.shape[0], 0))


def unit_update(sensing: UnitSensing, b: np.ndarray, w: np.ndarray, s: int, steps: int = 10) -> np.ndarray:
    """One scalar AIHT update (docs/algorithms.md); w is m × d."""
    r = sensing.times(w) - b
    g = sensing.transpose_times(r)
    if np.any(w != 0):
        g_s = np.where(w != 0, g, 0.0)
        a_g_s = sensing.times(g_s)
        mu = float((g_s**2).sum() / ((a_g_s**2).sum() + 1e-8))
    else:
        mu = 1e-14
    t = (w - mu * g).reshape(-1)
    kept = spec_top_s(t, s)
    values, _ = spec_refine(sensing.columns(kept), b, t[kept], mu, steps)
    out = np.zeros(w.size)
    out[kept] = values
    return out.reshape(w.shape)


def full_batch_psnr(x: np.ndarray, y: np.ndarray, gates: np.ndarray, s: int, epochs: int) -> float:
    """Sequential convex AIHT, one update an epoch: updates 0 and 1 use the random gates, then
    the gates are the weights after the previous update; PSNR of the plain ReLU MLP (h = w)."""
    w = np.zeros(gates.shape)
    for t in range(epochs):
        w = unit_update(UnitSensing(x, gates), y, w, min(s, w.size))
        if t >= 1:
            gates = w
    pred = np.maximum(x @ w.T, 0).sum(axis=1)
    return float(20 * np.log10(np.abs(y).max()) - 10 * np.log10(np.mean((pred - y) ** 2)))
