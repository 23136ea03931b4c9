"""The compact full gradient (chunks of units, a running top s) keeps exactly what the selection
over the explicit sensing matrix keeps, ties across chunk boundaries included."""

import numpy as np
import pytest
import torch

from modules.compact_gradient import BYTES_PER_ENTRY, compact_candidates, support_gradient, units_per_chunk
from modules.gate_rows import RandomGateRows, SparseGateRows
from modules.gates import random_gates
from modules.top_s import RunningTopS
from tests.reference import dense_a


def reference_selection(x, r, w, gates, mu, s):
    """t = w − mu·A^T r over all m·d entries; the s largest |t|, larger index first on ties."""
    t = w.reshape(-1) - mu * (dense_a(x, gates).T @ r)
    order = sorted(range(t.numel()), key=lambda i: (-abs(float(t[i])), -i))
    kept = sorted(i for i in order[:s] if float(t[i]) != 0)
    return torch.tensor(kept, dtype=torch.long), t[kept]


def integer_problem(seed: int, n: int, d: int):
    """Small-integer inputs and residuals: every gradient entry is exact, so equal gate patterns
    give exactly equal entries, wherever their units fall."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, (n, d), generator=gen).double()
    r = torch.randint(-5, 6, (n,), generator=gen).double()
    return x, r


def sparse(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    index = w.reshape(-1).nonzero().squeeze(1)
    return index, w.reshape(-1)[index]


THREE_UNITS_MB = 3 * BYTES_PER_ENTRY * 2 / 2**20  # chunks of 3 units of d = 2


def test_chunk_size_follows_the_budget():
    assert units_per_chunk(2, THREE_UNITS_MB) == 3
    assert units_per_chunk(2, 1e-9) == 1
    assert units_per_chunk(100, 64.0) == 64 * 2**20 // (BYTES_PER_ENTRY * 100)


@pytest.mark.parametrize("memory_mb", [1e-9, THREE_UNITS_MB, 64.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_gates_ties_across_chunks(seed, memory_mb):
    """d = 2 and 5 examples: the 30 random gates fall into few patterns, so many entries of
    different units tie; tiny budgets put each unit (or a few) in its own chunk."""
    m, d, n, s = 30, 2, 5, 7
    x, r = integer_problem(seed, n, d)
    gates = torch.from_numpy(random_gates(m, d, seed))
    w = torch.zeros(m, d, dtype=torch.float64)
    w[3, 1], w[17, 0] = 0.25, -2.0  # a support: t = w − mu·g there
    mu = torch.tensor(0.125, dtype=torch.float64)
    index, values = sparse(w)
    kept, kept_t = compact_candidates(x, r, mu, index, values, m, RandomGateRows(m, d, seed), s, memory_mb)
    ref_kept, ref_t = reference_selection(x, r, w, gates, mu, s)
    t_all = (w.reshape(-1) - mu * (dense_a(x, gates).T @ r)).abs()
    assert int((t_all == t_all[ref_kept].min()).sum()) > 1  # the cut falls inside a tie
    assert kept.tolist() == ref_kept.tolist()
    assert torch.equal(kept_t, ref_t)  # exact: integer data, dyadic w and mu: every t is exact


@pytest.mark.parametrize("memory_mb", [1e-9, 64.0])
def test_gates_following_sparse_weights(memory_mb):
    """Gates = weights: only units with nonzeros take part; equal rows in units 1, 4 and 6 tie."""
    m, d, n, s = 8, 3, 6, 4
    x, r = integer_problem(5, n, d)
    w = torch.zeros(m, d, dtype=torch.float64)
    w[1, 0] = w[4, 0] = w[6, 0] = 1.5
    w[2] = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    mu = torch.tensor(0.5, dtype=torch.float64)
    index, values = sparse(w)
    gates = SparseGateRows(index, values, d)
    kept, kept_t = compact_candidates(x, r, mu, index, values, m, gates, s, memory_mb)
    ref_kept, ref_t = reference_selection(x, r, w, w, mu, s)
    assert kept.tolist() == ref_kept.tolist()
    assert torch.equal(kept_t, ref_t)  # exact: integer data, dyadic w and mu: every t is exact


def test_support_gradient_is_the_full_gradient_there():
    m, d, n, seed = 6, 4, 20, 3
    gen = torch.Generator().manual_seed(0)
    x, r = (
        torch.randn(n, d, generator=gen, dtype=torch.float64),
        torch.randn(n, generator=gen, dtype=torch.float64),
    )
    index = torch.tensor([1, 2, 9, 20, 23])
    full = dense_a(x, torch.from_numpy(random_gates(m, d, seed))).T @ r
    g = support_gradient(x, r, index, d, RandomGateRows(m, d, seed), 32.0)
    torch.testing.assert_close(g, full[index], rtol=1e-13, atol=1e-13)


def test_running_top_s_equals_one_selection_over_blocks_of_any_size():
    gen = np.random.default_rng(0)
    for _ in range(30):
        n, s = int(gen.integers(1, 400)), int(gen.integers(1, 40))
        t = torch.from_numpy(gen.integers(-3, 4, n).astype(np.float64))  # many ties and zeros
        order = np.argsort(np.abs(t.numpy()), kind="stable")
        k = min(s, int((t != 0).sum()))
        expected = np.sort(order[n - k :]) if k else np.zeros(0, int)
        top = RunningTopS(s, "cpu", torch.float64)
        bounds = np.sort(gen.choice(np.arange(1, n), size=min(n - 1, int(gen.integers(0, 8))), replace=False))
        for a, b in zip([0, *bounds], [*bounds, n], strict=True):
            top.offer(torch.arange(a, b), t[a:b])
        index, values = top.result()
        assert index.tolist() == expected.tolist()
        assert torch.equal(values, t[index])


def test_random_gate_rows_are_the_gates():
    gates = RandomGateRows(9, 4, 5)
    units = torch.tensor([0, 3, 8])
    assert np.array_equal(gates.rows(units, torch.float64, "cpu").numpy(), random_gates(9, 4, 5)[[0, 3, 8]])
