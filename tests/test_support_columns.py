"""The support's columns and gate patterns held per batch and state of the gates
(``modules/support_columns.py``), and the evaluation that reuses them, against the gated model's A."""

import pytest
import torch

from modules import dense_gated
from modules.dense_gated import DenseGated
from modules.gated_ops import gated_product
from modules.support_columns import SupportColumns, closed_to_zero
from tests.reference import dense_a


def problem(n: int = 200, d: int = 6, m: int = 5, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator, dtype=torch.float64)
    gates = torch.randn(m, d, generator=generator, dtype=torch.float64)
    return x, gates


def test_patterns_are_the_open_examples_of_each_unit():
    x, gates = problem()
    gates[2] = 0.0  # a zero gate: closed on every example
    columns = SupportColumns()
    for units in ([1, 3], [0, 1, 2, 3, 4], [4], [0, 2]):
        index = torch.tensor(units)
        expected = torch.stack([(x @ gates[j]) > 0 for j in units])
        assert torch.equal(columns.patterns(x, gates, index), expected)
    assert not bool(columns.patterns(x, gates, torch.tensor([2])).any())


def test_patterns_beyond_the_budget_are_left_to_the_caller():
    x, gates = problem(n=1000)
    columns = SupportColumns()
    columns.rows(x, gates, torch.tensor([0, 7]))  # holds unit 0's and unit 1's patterns
    budget_mb = 2.5 * 1000 / 2**20  # room for two units' patterns, not five
    assert columns.patterns(x, gates, torch.tensor([0, 1]), budget_mb) is not None
    assert columns.patterns(x, gates, torch.arange(5), budget_mb) is None
    assert torch.equal(columns.patterns(x, gates, torch.arange(5)), (x @ gates.T).T > 0)


def test_moved_gates_or_a_new_batch_drop_the_held_patterns():
    x, gates = problem()
    columns = SupportColumns()
    columns.patterns(x, gates, torch.arange(5))
    gates.neg_()
    assert torch.equal(columns.patterns(x, gates, torch.arange(5)), (x @ gates.T).T > 0)
    assert columns.holds_batch(x)
    other = x.clone()
    assert not columns.holds_batch(other)
    torch.testing.assert_close(  # exact: every entry is one of X's own values or 0
        columns.rows(other, gates, torch.tensor([3, 20])), dense_a(other, gates)[:, [3, 20]].T, rtol=0, atol=0
    )


def test_evaluating_the_held_batch_equals_the_relu_network(monkeypatch):
    """Sequential mode with h = w: the prediction through the held columns is sum_j relu(x·w_j),
    and in convex mode A w under the random gates; a batch not held, or gates other than the
    ones evaluation needs, are computed directly."""
    direct = []
    monkeypatch.setattr(dense_gated, "gated_product", lambda *args: direct.append(1) or gated_product(*args))
    x, gates = problem(n=300, d=6, m=5)
    net = DenseGated(5, 6, 1, gate_seed=0, memory_mb=32.0)
    with torch.no_grad():
        net.weight.copy_(gates * (torch.rand(5, 6, generator=torch.Generator().manual_seed(3)) > 0.4))
        net.weight[1] = 0.0
    w = net.weight.detach()
    relu_net = (x @ w.T).clamp_min(0).sum(1)
    random_gates = net.gates.clone()
    convex_net = dense_a(x, random_gates) @ w.reshape(-1)

    net.train_prediction(x)  # holds x under the random gates
    torch.testing.assert_close(net(x, convex=True), convex_net, rtol=1e-12, atol=1e-12)
    assert len(direct) == 0
    torch.testing.assert_close(net(x, convex=False), relu_net, rtol=1e-12, atol=1e-12)  # gates ≠ w
    assert len(direct) == 1
    net.follow_weights()
    torch.testing.assert_close(net(x, convex=False), relu_net, rtol=1e-12, atol=1e-12)
    assert len(direct) == 1 and net.columns.holds_batch(x)
    torch.testing.assert_close(net(x.clone(), convex=False), relu_net, rtol=1e-12, atol=1e-12)
    assert len(direct) == 2


@pytest.mark.parametrize("dtype, bits", [(torch.float64, torch.int64), (torch.float32, torch.int32)])
@pytest.mark.parametrize("units, rows", [(1, 9), (3, 40), (40, 50)])  # shared masks; one per row
def test_closing_rows_is_masked_fill_bit_for_bit(dtype, bits, units, rows):
    generator = torch.Generator().manual_seed(units)
    block = torch.randn(rows, 70, dtype=dtype, generator=generator)
    block[0, :3] = -0.0
    block[-1, :4] = torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0], dtype=dtype)
    patterns = torch.rand(units, 70, generator=generator) > 0.5
    which = torch.randint(0, units, (rows,), generator=generator)
    for order in (which.sort().values, which):  # each unit's rows together, or not
        expected = block.clone().masked_fill_(~patterns[order], 0.0)
        got = closed_to_zero(block.clone(), patterns, order)
        assert torch.equal(got.view(bits), expected.view(bits))  # signs of zero and NaNs included
