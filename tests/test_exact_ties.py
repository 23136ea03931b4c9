"""Exact ties (issue 13, item 4): units whose gates open on the same examples get bitwise-equal
gradient entries wherever they sit in a matrix product's tiles, as the paper's per-unit
computation gives them, so that the paper code's tie rule decides which is kept."""

import numpy as np
import pytest
import torch

import modules.dense_weights
from modules.gated_ops import ROW_HASH_STEP, first_equal_row, gated_gradient
from modules.support_columns import SupportColumns
from modules.top_s import top_s_nonzero
from tests.helpers import tiny_run

SIZES = [(50, 3, 9), (333, 17, 13), (1000, 17, 101), (2000, 100, 29), (700, 100, 101), (4001, 5, 500)]


def plain_a(x: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """A = [D_1 X, …, D_m X] formed explicitly (docs/algorithms.md: the model)."""
    return torch.cat([((x @ h) > 0).to(x.dtype)[:, None] * x for h in gates], dim=1)


def plain_unit_gradient(x: torch.Tensor, r: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """The same, one unit at a time as the paper computes it: X^T (1[X h_j > 0] ∘ r), so that
    units with one gate pattern get the same computation on the same numbers."""
    return torch.stack([x.T @ (((x @ h) > 0).to(x.dtype) * r) for h in gates])


def tied_problem(n: int, d: int, m: int, dtype: torch.dtype, seed: int = 0):
    """Random data with pairs of units at both ends of the unit range whose gate patterns agree:
    the same gate, a gate times 2, single-input gates of different sizes, and gates whose
    patterns differ only on examples where r = 0. Returns x, r, gates and the pairs."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)
    r = torch.randn(n, generator=generator, dtype=torch.float64).to(dtype)
    gates = torch.randn(m, d, generator=generator, dtype=torch.float64).to(dtype)
    gates[m - 1] = gates[0]
    gates[m // 2] = 2 * gates[1]
    gates[2], gates[m - 2] = 0.0, 0.0
    gates[2, d - 1], gates[m - 2, d - 1] = 0.3, 1.7
    differ = ((x @ gates[3]) > 0) != ((x @ gates[m - 3]) > 0)
    r[differ] = 0.0
    pairs = [(0, m - 1), (1, m // 2), (2, m - 2), (3, m - 3)]
    return x, r, gates, pairs


def held_patterns(x: torch.Tensor, gates: torch.Tensor, held: bool) -> SupportColumns | None:
    """With ``held``, a ``SupportColumns`` holding the batch, the gates and some units' patterns,
    as after a training step's forward (the gradient then takes its patterns from there)."""
    if not held:
        return None
    columns = SupportColumns()
    columns.rows(x, gates, torch.arange(0, gates.numel(), 3))
    return columns


@pytest.mark.parametrize("held", [False, True])
@pytest.mark.parametrize("memory_mb", [32.0, 0.01])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("n", "d", "m"), SIZES)
def test_units_with_one_gate_pattern_get_bitwise_equal_rows(n, d, m, dtype, memory_mb, held):
    x, r, gates, pairs = tied_problem(n, d, m, dtype)
    grad = gated_gradient(x, r, gates, memory_mb, held_patterns(x, gates, held))
    for a, b in pairs:
        assert torch.equal(grad[a], grad[b]), (a, b)
        assert (grad[a] != 0).all()


@pytest.mark.parametrize("held", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("n", "d", "m"), SIZES)
def test_gradient_equals_dense_a_transpose_r(n, d, m, dtype, held, memory_mb=0.05):
    x, r, gates, _ = tied_problem(n, d, m, dtype, seed=1)
    gates[m // 3] = 0.0  # a closed unit
    grad = gated_gradient(x, r, gates, memory_mb, held_patterns(x, gates, held))
    a, r64 = plain_a(x.double(), gates.double()), r.double()
    expected = (a.T @ r64).view(m, d)
    # a sum of n rounded products errs by at most about n·eps·sum|terms| (here with a margin of 2)
    bound = 2 * n * torch.finfo(dtype).eps * (a.abs().T @ r64.abs()).view(m, d)
    assert ((grad.double() - expected).abs() <= bound).all()
    assert torch.equal(grad[m // 3], torch.zeros(d, dtype=dtype))


CUT_CASES = [(1000, 17, 101, torch.float64), (4001, 5, 500, torch.float32)]


@pytest.mark.parametrize(("n", "d", "m", "dtype"), CUT_CASES)
def test_tied_pair_at_the_cut_keeps_the_larger_index(n, d, m, dtype):
    """First update (w = 0, t = −mu·g) with the cut inside a pair's tie, for every pair and input:
    the entry kept is the one docs/reproducing.md names, np.argsort(|t|, kind="stable")[-s:] on the per-unit
    gradient, i.e. the larger unit's."""
    x, r, gates, pairs = tied_problem(n, d, m, dtype)
    t = -1e-14 * gated_gradient(x, r, gates).view(-1)
    plain = (-1e-14 * plain_unit_gradient(x, r, gates).view(-1)).abs().numpy()
    order = np.argsort(plain, kind="stable")
    for low, high in pairs:
        for i in range(d):
            s = int((plain > plain[low * d + i]).sum()) + 1
            expected = np.sort(order[-s:])
            assert high * d + i in expected and low * d + i not in expected
            assert top_s_nonzero(t, s).tolist() == expected.tolist(), (low, high, i)


@pytest.mark.slow
def test_planted_point_ties_every_pattern_group(monkeypatch):
    """The point where a tile boundary once broke a tie at the cut (issue 13: m=500, s=100, seed 1,
    update 7, unit 498): at every update, zero weights of units whose gates open on the same
    examples have bitwise-equal candidates |t| = mu·|g| for each input."""
    seen = []
    choose = modules.dense_weights.top_s_nonzero

    def record(t: torch.Tensor, s: int) -> torch.Tensor:
        seen.append(t.clone())
        return choose(t, s)

    monkeypatch.setattr(modules.dense_weights, "top_s_nonzero", record)
    m, d = 500, 100
    *_, rec = tiny_run(m=m, s=100, n=50000, d=d, seed=1, epochs=8)
    groups_checked = 0
    for k, t in enumerate(seen):
        x = rec.batches[k][0]
        before = rec.weights[k - 1] if k else torch.zeros(m, d, dtype=x.dtype)
        patterns = ((x @ rec.gates[k].T) > 0).T
        _, group = torch.unique(patterns, dim=0, return_inverse=True)
        magnitude = t.abs().view(m, d)
        for g in group.unique():
            units = (group == g).nonzero().squeeze(1)
            if units.numel() < 2 or not patterns[units[0]].any():
                continue
            groups_checked += 1
            for i in range(d):
                free = units[before[units, i] == 0]
                if free.numel() > 1:
                    assert (magnitude[free, i] == magnitude[free[0], i]).all(), (k, i, free.tolist())
    assert groups_checked > 0


def plain_first_equal(rows: torch.Tensor) -> list[int]:
    return [next(j for j in range(i + 1) if torch.equal(rows[j], rows[i])) for i in range(rows.shape[0])]


def test_first_equal_row_groups_exactly():
    generator = torch.Generator().manual_seed(2)
    distinct = torch.randint(0, 2**53, (7, 40), generator=generator)
    distinct[3, :-1] = distinct[2, :-1]  # differs from row 2 in its last word only
    rows = distinct[torch.randint(0, 7, (60,), generator=generator)]
    assert first_equal_row(rows).tolist() == plain_first_equal(rows)


def test_first_equal_row_survives_a_hash_collision():
    """Two different rows built to have the same hash sum: the exact check must split them."""
    wrap = 2**64

    def multiplier(w: int) -> int:
        value = ((w * ROW_HASH_STEP + ROW_HASH_STEP) % wrap) | 1
        return value - wrap if value >= 2**63 else value

    m0, m1 = multiplier(0), multiplier(1)
    rows = torch.tensor([[0, 0], [m1, -m0], [0, 0], [m1, -m0]])
    assert (m1 * m0 + -m0 * m1) % wrap == (0 * m0 + 0 * m1) % wrap  # one hash sum for both
    assert first_equal_row(rows).tolist() == [0, 1, 0, 1]
