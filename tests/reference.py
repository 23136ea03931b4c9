"""A plain, slow re-implementation of SPEC §1, §2 and §6 for the tests: dense A, numpy's global
generator exactly as the SPEC words it, no shared code with the project."""

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


def dense_a(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """A = [D_1 X, …, D_m X] as an explicit n × m·d matrix."""
    return torch.cat([((x @ h) > 0).to(x.dtype)[:, None] * x for h in gates], dim=1)


def spec_update(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor, s: int, steps: int = 10) -> torch.Tensor:
    """One AIHT update of SPEC §2 on the explicit matrix a."""
    supp = w != 0
    r = a[:, supp] @ w[supp] - b
    if supp.any():
        g_s = a[:, supp].T @ r
        mu = float(g_s @ g_s / ((a[:, supp] @ g_s) @ (a[:, supp] @ g_s) + 1e-8))
    else:
        mu = 1e-14
    t = w - mu * (a.T @ r)
    order = sorted(range(t.numel()), key=lambda i: (-abs(float(t[i])), -i))  # ties: larger index first
    kept = sorted(i for i in order[:s] if float(t[i]) != 0)
    a_k = a[:, kept]
    w_tilde = t[kept].clone()
    cur = w_tilde.clone()

    def f(v):
        return float(((a_k @ v - b) ** 2).sum())

    f_cur = f(cur)
    for _ in range(steps):
        g = a_k.T @ (a_k @ cur - b)
        for _attempt in range(11):
            trial = cur - mu * g
            if f(trial) <= f_cur - 0.9 * mu * float(g @ g):
                cur, f_cur = trial, f(trial)
                break
            mu /= 2
        else:
            cur, f_cur = w_tilde.clone(), f(w_tilde)
    out = torch.zeros_like(w)
    out[kept] = cur
    return out
