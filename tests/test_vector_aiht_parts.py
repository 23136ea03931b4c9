"""The parts of AIHT with vector outputs on their own: the step-size rule, the start values, the
gradients against autograd, and the streaming selection of the kept weights."""

import numpy as np
import pytest
import torch

from callbacks.aiht.importance import ExactImportance, make_importance
from callbacks.aiht.selection import StreamingSelection
from callbacks.aiht.vector import initial_row, vector_step_size
from modules.vector_ops import gated_vector_product, unit_gradients, vector_loss
from tests.reference_vector import spec_prediction


def test_step_size_rules():
    assert vector_step_size(200, 20, False) == 0.005
    assert vector_step_size(20, 20, False) == 2.0  # 6 · 20^0.536 = 29.9
    assert vector_step_size(29, 20, False) == 2.0 and vector_step_size(30, 20, False) == 0.005
    assert vector_step_size(20, 20, True) == 0.001


def test_start_values_are_numpys_seeded_uniform_draws():
    np.random.seed(7)
    expected = [np.random.uniform(-0.1, 0.1) for _ in range(4)]
    assert initial_row(7, 4, 0.1).tolist() == expected
    reused = np.random.RandomState(123)
    reused.normal(size=5)  # a generator in any state: re-seeding resets it
    assert initial_row(7, 4, 0.1, reused).tolist() == expected


def dense_model(x, w1, w2, gates):
    """Y_hat with autograd through W1 and W2, the gates constant."""
    masks = ((x @ gates.T) > 0).to(x.dtype)  # n × m
    return (masks * (x @ w1.T)) @ w2


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("loss", ["mse", "crossentropy"])
def test_gradients_match_autograd(loss, sequential):
    torch.manual_seed(0)
    n, m, d, k = 50, 6, 4, 3
    x = torch.randn(n, d, dtype=torch.float64)
    b = torch.nn.functional.one_hot(torch.randint(0, k, (n,)), k).double()
    gates = torch.randn(m, d, dtype=torch.float64)
    gates[2] = 0  # a closed unit
    w1 = torch.randn(m, d, dtype=torch.float64)
    w2 = torch.randn(m, k, dtype=torch.float64)
    w1[4] = 0  # a unit that predicts nothing, but whose W1 gradient is not zero (if open)
    if sequential:  # h = w1
        w1[2] = 0
        gates = w1.clone()
    pred = gated_vector_product(x, w1, w2, gates)
    torch.testing.assert_close(pred, spec_prediction(x, w1, w2, gates))
    leaf = pred.clone().requires_grad_()
    vector_loss(leaf, b, loss).backward()
    expected_r = ((torch.softmax(pred, 1) if loss == "crossentropy" else pred) - b) / n
    torch.testing.assert_close(leaf.grad, expected_r)

    p1, p2 = w1.clone().requires_grad_(), w2.clone().requires_grad_()
    vector_loss(dense_model(x, p1, p2, gates), b, loss).backward()
    g1, g2 = unit_gradients(x, leaf.grad, w1, w2, gates)
    torch.testing.assert_close(g1, p1.grad)
    torch.testing.assert_close(g2, p2.grad)
    assert g1[2].abs().sum() == 0 and g2[2].abs().sum() == 0
    assert (g1[4].abs().sum() > 0) == (not sequential) and g2[4].abs().sum() == 0
    assert g1[0].abs().sum() > 0 and g2[0].abs().sum() > 0


def test_selection_streams_blocks_in_order_by_importance():
    """A hand-checked stream (exact importance, s = 2): an old entry of a later block is evicted
    on its old importance, rejoins when its block comes, and stays; a global top-s by final
    importance would have kept entry 1 instead."""
    importance = ExactImportance(6)
    importance.table[:] = torch.tensor([0.0, 0.0, 0.0, 5.0, 0.1, 0.0])
    selection = StreamingSelection(importance, 2, torch.tensor([3, 4]), torch.tensor([7.0, 8.0]))
    ones = torch.ones(3, dtype=torch.float64)
    selection.offer_blocks([0], [3], ones * 2, torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64), [False])
    assert selection.idx.tolist() == [0, 3]  # 4 (0.1) and 1 (2) lose to 3's old importance 5
    new = torch.tensor([6.0, 9.0, 0.0], dtype=torch.float64)
    selection.offer_blocks([3], [3], new, torch.tensor([-4.9, 1.4, 0.0], dtype=torch.float64), [False])
    idx, values = selection.result()
    assert idx.tolist() == [0, 4] and values.tolist() == [2.0, 9.0]
    assert importance.table.tolist() == pytest.approx([3, 2, 1, 0.1, 1.5, 0])


def test_selection_ties_keep_the_larger_index():
    importance = ExactImportance(8)
    selection = StreamingSelection(importance, 2, torch.tensor([], dtype=torch.long), torch.tensor([]))
    zeros = torch.zeros(4, dtype=torch.float64)
    selection.offer_blocks([2], [4], torch.tensor([1.0, 0.0, 3.0, 2.0], dtype=torch.float64), zeros, [True])
    assert selection.result()[0].tolist() == [4, 5]  # all importances 0; index 3's value is zero


@pytest.mark.parametrize("kind", ["exact", "sketch"])
def test_still_blocks_in_one_step_equal_block_by_block(kind):
    """Blocks without updates (dead units) are merged in one step; the result is the same as
    offering them one at a time."""
    generator = torch.Generator().manual_seed(5)
    n_weights, budget = 300, 12
    old = torch.randperm(n_weights, generator=generator)[:budget].sort().values
    starts = [40, 7, 90, 200, 13, 150, 260]
    sizes = [5, 3, 5, 5, 3, 5, 5]
    values = torch.randn(sum(sizes), generator=generator, dtype=torch.float64)
    values[torch.rand(values.numel(), generator=generator) < 0.3] = 0
    deltas = torch.zeros_like(values)
    deltas[:5] = torch.randn(5, generator=generator, dtype=torch.float64)  # the first block moves
    still = [False] + [True] * 6
    results = []
    for one_by_one in (False, True):
        importance = make_importance(kind, n_weights, budget, "cpu", torch.float64)
        table = torch.randn(importance.table.shape, generator=torch.Generator().manual_seed(6))
        importance.table.copy_(table)
        old_values = torch.randn(budget, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
        selection = StreamingSelection(importance, budget, old.clone(), old_values)
        if one_by_one:
            first = 0
            for start, size, quiet in zip(starts, sizes, still, strict=True):
                chosen = slice(first, first + size)
                selection.offer_blocks([start], [size], values[chosen], deltas[chosen], [quiet])
                first += size
        else:
            selection.offer_blocks(starts, sizes, values, deltas, still)
        results.append(selection.result())
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    assert results[0][0].numel() == budget
    assert not torch.equal(results[0][0], old)  # the blocks changed the kept set
