"""A plain, slow re-implementation of the model, scalar AIHT and the tasks (docs/algorithms.md) for the
tests: dense A, numpy's global generator exactly as docs/algorithms.md words it, no shared code with the
project."""

import numpy as np
import torch


def spec_gates(m: int, d: int, seed: int) -> np.ndarray:
    offset = 0
    if seed != 0:
        np.random.seed(seed)
        offset = np.random.randint(0, m * d)
    rows = []
    for j in range(m):
        np.random.seed(j + offset)
        rows.append(np.random.normal(size=d))
    return np.stack(rows)


def spec_planted(m: int, s: int, q: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hidden layer, scalar output: (planted d×m weights, X, labels)."""
    np.random.seed(q + 1)
    c = min(d * m, int(s / 1))
    pos = np.random.choice(d * m, c, replace=False)
    vals = np.random.normal(size=c).astype(np.float32)
    w = np.zeros(d * m)
    w[pos] = vals
    w = w.reshape(d, m)
    np.random.seed(q + 2)
    x = np.random.normal(size=(n, d)).astype(np.float32)
    y = np.maximum(x @ w, 0).sum(-1).astype(np.float32)
    return w, x, y


def spec_planted_layers(
    m: int, s: int, q: int, n: int, d: int, num_layers: int
) -> tuple[np.ndarray, np.ndarray]:
    """num_layers hidden layers of width m, scalar output (fused sum): (X, labels)."""
    np.random.seed(q + 1)
    shapes = [(d, m)] + [(m, m)] * (num_layers - 1)
    layers = []
    for rows, cols in shapes:
        c = min(rows * cols, int(s / num_layers))
        pos = np.random.choice(rows * cols, c, replace=False)
        vals = np.random.normal(size=c).astype(np.float32)
        w = np.zeros(rows * cols)
        w[pos] = vals
        layers.append(w.reshape(rows, cols))
    np.random.seed(q + 2)
    x = np.random.normal(size=(n, d)).astype(np.float32)
    h = x
    for w in layers:
        h = np.maximum(h @ w, 0)
    return x, h.sum(-1).astype(np.float32)


def dense_a(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """A = [D_1 X, …, D_m X] as an explicit n × m·d matrix."""
    return torch.cat([((x @ h) > 0).to(x.dtype)[:, None] * x for h in gates], dim=1)


def spec_top_s(t, s: int) -> list[int]:
    """The kept flat indices, ascending: the s largest |t|, ties to the larger index (what
    np.argsort(|t|, kind="stable")[-s:] keeps), zeros never kept."""
    magnitude = np.abs(np.asarray(t, dtype=np.float64))
    k = min(s, int(np.count_nonzero(magnitude)))
    return sorted(int(i) for i in np.argsort(magnitude, kind="stable")[magnitude.size - k :])


def spec_refine(a_k, b, w_tilde, mu: float, steps: int, trace: list | None = None):
    """Scalar AIHT's step 3 (docs/algorithms.md) on f(v) = ||a_k v - b||², numpy arrays or torch tensors
    alike; returns (v, mu). ``trace`` collects "accept" or "give up" for each inner step."""

    def f(v):
        return float(((a_k @ v - b) ** 2).sum())

    cur, f_cur = w_tilde, f(w_tilde)
    for _ in range(steps):
        g = a_k.T @ (a_k @ cur - b)
        for _attempt in range(11):
            trial = cur - mu * g
            if f(trial) <= f_cur - 0.9 * mu * float(g @ g):
                cur, f_cur = trial, f(trial)
                if trace is not None:
                    trace.append("accept")
                break
            mu /= 2
        else:
            cur, f_cur = w_tilde, f(w_tilde)
            if trace is not None:
                trace.append("give up")
    return cur, mu


def spec_update(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor, s: int, steps: int = 10) -> torch.Tensor:
    """One scalar AIHT update (docs/algorithms.md) on the explicit matrix a."""
    supp = w != 0
    r = a[:, supp] @ w[supp] - b
    if supp.any():
        g_s = a[:, supp].T @ r
        mu = float(g_s @ g_s / ((a[:, supp] @ g_s) @ (a[:, supp] @ g_s) + 1e-8))
    else:
        mu = 1e-14
    t = w - mu * (a.T @ r)
    kept = spec_top_s(t.detach().cpu().numpy(), s)
    cur, _ = spec_refine(a[:, kept], b, t[kept].clone(), mu, steps)
    out = torch.zeros_like(w)
    out[kept] = cur
    return out
