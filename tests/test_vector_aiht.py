"""AIHT with vector outputs (docs/algorithms.md: vector AIHT) through the real Lightning pipeline against
the plain re-implementation in tests/reference_vector.py, and its parts on their own."""

import json
import math

import numpy as np
import pytest
import torch
from pytorch_lightning import Trainer

from callbacks.aiht import AIHT
from callbacks.aiht.importance import ExactImportance, make_importance
from callbacks.aiht.selection import StreamingSelection
from callbacks.aiht.vector import initial_row, vector_step_size
from modules.vector_ops import gated_vector_product, unit_gradients, vector_loss
from tests.helpers import gated_model, resume_from, run_fit
from tests.reference_vector import ExactAccumulator, SketchAccumulator, spec_prediction, spec_vector_run
from tests.vector_helpers import OneHotData, tiny_vector_run

M, D, K = 4, 5, 3


def reference_for(rec, s, importance, convex, per_epoch, loss="mse", m=M, d=D, k=K):
    n_weights = m * d + m * k
    if importance == "exact":
        acc = ExactAccumulator(n_weights)
    else:
        acc = SketchAccumulator(n_weights, min(s, n_weights))
    return spec_vector_run(
        rec.batches, m, d, k, s, rec.gates[0], acc, convex, per_epoch, crossentropy=loss == "crossentropy"
    )


def assert_iterates_equal(rec, expected):
    assert len(rec.weights) == len(expected)
    for (w1, w2), (r1, r2) in zip(rec.weights, expected, strict=True):
        assert torch.equal(w1 != 0, r1 != 0) and torch.equal(w2 != 0, r2 != 0)
        torch.testing.assert_close(w1, r1, rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(w2, r2, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("importance", ["exact", "sketch"])
@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_iterates_equal_plain_reimplementation(importance, convex, batch_size):
    s = 12  # below 6·m^0.536: step size 2, so the weights move a lot
    epochs, per_epoch = (5, 1) if batch_size == 0 else (3, 4)
    _, _, _, _, rec = tiny_vector_run(
        m=M, s=s, d=D, k=K, epochs=epochs, batch_size=batch_size, convex=convex, importance=importance
    )
    expected = reference_for(rec, s, importance, convex, per_epoch)
    assert_iterates_equal(rec, expected)
    first, last = rec.weights[0], rec.weights[-1]
    assert not torch.equal(first[0], last[0])  # the run is not stuck at its start values


def test_iterates_equal_with_base_step_and_crossentropy():
    for s, loss in ((20, "mse"), (14, "crossentropy")):
        _, model, _, aiht, rec = tiny_vector_run(m=M, s=s, d=D, k=K, epochs=2, batch_size=16, loss=loss)
        assert aiht.step_size == (0.005 if loss == "mse" else 0.001)
        assert_iterates_equal(rec, reference_for(rec, s, "sketch", False, 4, loss))


def test_iterates_equal_with_dead_units_revived_each_epoch():
    """Many units, few weights: each epoch's first batch gives the dead units start values, which
    stream through the selection without updates (their gates are closed)."""
    m, s = 12, 6
    _, _, _, _, rec = tiny_vector_run(m=m, s=s, d=D, k=K, epochs=3, batch_size=16)
    dead = [int(((w1 != 0).any(1) | (w2 != 0).any(1)).logical_not().sum()) for w1, w2 in rec.weights]
    assert min(dead[3:]) >= 6
    assert_iterates_equal(rec, reference_for(rec, s, "sketch", False, 4, m=m))


@pytest.mark.slow
def test_iterates_equal_past_the_first_sign_block():
    """N = 101·(1000 + 3) > 100000: unit 100's W1 row and all of W2 take their sketch signs from
    the second block of 100000 indices."""
    m, s, d, k = 101, 40, 1000, 3
    _, _, _, _, rec = tiny_vector_run(m=m, s=s, n=64, d=d, k=k, epochs=2)
    assert_iterates_equal(rec, reference_for(rec, s, "sketch", False, 1, m=m, d=d, k=k))
    w1, _ = rec.weights[-1]
    assert w1[100].any()  # a kept entry at a flat index past 100000


def test_sketch_and_exact_importance_choose_differently():
    """The importance decides the support: the two kinds part ways on this problem."""
    supports = []
    for importance in ("exact", "sketch"):
        _, _, _, _, rec = tiny_vector_run(m=M, s=12, d=D, k=K, epochs=1, importance=importance)
        supports.append(torch.cat([w.reshape(-1) for w in rec.weights[0]]) != 0)
    assert not torch.equal(*supports)


@pytest.mark.parametrize("batch_size", [0, 16])
@pytest.mark.parametrize("s", [3, 12, 200])
def test_nnz_within_budget_after_every_update(batch_size, s):
    _, model, _, aiht, rec = tiny_vector_run(s=s, epochs=3, batch_size=batch_size)
    budget = min(s, M * D + M * K)
    assert aiht.budget(model) == budget
    counts = [int((w1 != 0).sum() + (w2 != 0).sum()) for w1, w2 in rec.weights]
    assert all(1 <= c <= budget for c in counts)
    assert counts[0] == budget  # the first update fills the budget from the start values
    assert model.nnz() == counts[-1]


def test_sequential_gates_follow_w1_from_second_update():
    _, _, _, _, rec = tiny_vector_run(epochs=4)
    assert torch.equal(rec.gates[1], rec.gates[0])  # after update 0: still the random gates
    for t in range(1, 4):
        assert torch.equal(rec.gates[t + 1], rec.weights[t][0])


def test_minibatch_gates_follow_w1_from_second_batch_of_second_epoch():
    _, _, _, _, rec = tiny_vector_run(epochs=2, batch_size=16)
    for t in range(4):  # epoch 0 and the first batch of epoch 1 use the random gates
        assert torch.equal(rec.gates[t + 1], rec.gates[0])
    for t in range(4, 8):  # from the second batch of epoch 1: the weights after the previous update
        assert torch.equal(rec.gates[t + 1], rec.weights[t][0])


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


class CapturingAIHT(AIHT):
    """Records what each update starts from: the residual, the batch, the weights and gates."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        before = [t.detach().clone() for t in (pl_module.weight, pl_module.output_weight, pl_module.gates)]
        self.seen.append((pl_module.residual.clone(), *self._batch, *before))
        super().on_before_optimizer_step(trainer, pl_module, optimizer)


def test_training_step_leaves_the_residual_before_the_update():
    """The module's R is autograd's dLoss/dY_hat at the weights before the update: (softmax − B)/n."""
    dm = OneHotData(64, D, K, batch_size=16)
    model = gated_model(width=M, input_dim=D, output_dim=K, loss="crossentropy")
    aiht = CapturingAIHT(sparsity=12)
    trainer = Trainer(
        max_epochs=2, precision="64-true", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[aiht],
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    assert len(aiht.seen) == 8
    for r, x, b, w1, w2, gates in aiht.seen:
        expected = (torch.softmax(spec_prediction(x, w1, w2, gates), 1) - b) / x.shape[0]
        torch.testing.assert_close(r, expected)
    assert model.residual is None  # consumed by the update


def test_resume_from_checkpoint_ends_equal(tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    _, full, _, full_aiht, _ = tiny_vector_run(
        epochs=3, batch_size=16, callbacks=[ckpt], enable_checkpointing=True
    )
    middle = tmp_path / "epoch=0.ckpt"
    state = torch.load(middle, weights_only=False)["callbacks"]
    (aiht_state,) = [v for key, v in state.items() if key.startswith("AIHT")]
    assert aiht_state["vector"]["table"].abs().sum() > 0  # the sketch travels in the checkpoint
    _, model, _, aiht, _ = tiny_vector_run(epochs=3, batch_size=16, **resume_from(middle))
    assert aiht.updates == full_aiht.updates == 12
    assert torch.equal(model.weight, full.weight)
    assert torch.equal(model.output_weight, full.output_weight)
    assert torch.equal(aiht.vector.importance.table, full_aiht.vector.importance.table)


def test_cli_links_output_dim_and_records_the_point(tmp_path):
    run_fit(
        [
            "fit",
            "--data",
            "datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=200",
            "--data.input_dim=6",
            "--data.output_dim=3",
            "--data.batch_size=50",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--sweep.mlist",
            "4",
            "--sweep.slist",
            "10",
            "--sweep.seedlist",
            "0",
        ]
    )
    result = json.loads((tmp_path / "mlp_planted/aiht/hidden1/m4_s10_seed0/result.json").read_text())
    assert result["status"] == "done", result.get("error")
    assert result["s_effective"] == 10 and 1 <= result["nnz"] <= 10
    assert result["updates"] == 8 and math.isfinite(result["metric"])


def test_crossentropy_needs_vector_outputs():
    with pytest.raises(ValueError, match="model.loss"):
        gated_model(width=2, input_dim=3, loss="crossentropy")
    with pytest.raises(ValueError, match="model.loss"):
        gated_model(width=2, input_dim=3, output_dim=3, loss="hinge")


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


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("importance", ["exact", "sketch"])
def test_cuda_iterates_equal_plain_reimplementation(importance):
    trainer, model, _, _, rec = tiny_vector_run(
        s=12, epochs=3, batch_size=16, importance=importance, accelerator="gpu", devices=1
    )
    assert trainer.strategy.root_device.type == "cuda"  # Lightning moves the model back after fit
    assert_iterates_equal(rec, reference_for(rec, 12, importance, False, 4))
