"""IMP (docs/algorithms.md: IMP) through the real Lightning pipeline: counts, rewinds, Adam resets, masks,
resume."""

import pytest
import torch
from pytorch_lightning import Callback, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.nn.utils import prune

from callbacks.imp import IMP
from callbacks.imp.schedule import prune_schedule
from datamodules.planted import PlantedMLPDataModule
from modules.relu_mlp import ReluMLP
from tests.helpers import gated_model, imp_run, resume_from
from tests.reference_imp import spec_imp


class RoundRecorder(Callback):
    """What each round starts from, and the network after every training step."""

    def __init__(self) -> None:
        self.starts: list[dict] = []
        self.steps: list[list[torch.Tensor]] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch % trainer.callbacks[0].epochs_per_round == 0:
            layers = pl_module.net.layers
            self.starts.append(
                {
                    "orig": [lay.weight_orig.detach().clone() for lay in layers],
                    "mask": [lay.weight_mask.clone() for lay in layers],
                    "adam_state": len(trainer.optimizers[0].state),
                }
            )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append([w.detach().clone() for w in pl_module.net.weights()])


def test_schedule_counts_follow_torch_rounding_of_the_papers_fraction():
    # 30 weights, 10% of the remaining each round, at least one; 5 -> 0.4999... rounds to 0 -> 1.
    expected = [27, 24, 22, 20, 18, 16, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert [r[0] for r in prune_schedule(30, [1], 0.1)] == expected
    # The paper hands torch 1 − (0.9·N)/N = 0.09999…98, so 15 remaining lose 1 weight, not round(1.5) = 2.
    assert prune_schedule(15, [14], 0.1) == [[14]]
    w = torch.nn.Linear(5, 3, bias=False)
    prune.global_unstructured([(w, "weight")], prune.L1Unstructured, amount=1 - (0.9 * 15) / 15)
    assert int(w.weight_mask.sum()) == 14


def test_schedule_special_cases():
    assert prune_schedule(100, [20, 50], 0) == [[50, 20]]  # train once, prune straight to each s
    assert prune_schedule(100, [500], 0.1) == [[90]]  # target above N: one round, pruned anyway
    rounds = prune_schedule(1000, [10, 40], 5)  # p = 5: four rounds reach the largest target
    assert len([r for r in rounds if r[0] >= 40]) == 4 and rounds[3][0] == 40
    for bad in (-0.5, 1, 2.5):
        with pytest.raises(ValueError, match="imp.prune_iters"):
            prune_schedule(100, [10], bad)


def test_initial_weights_are_torch_default_after_manual_seed():
    net = ReluMLP(input_dim=6, width=4, output_dim=1, num_layers=1, seed=3)
    torch.manual_seed(3)
    first, second = torch.nn.Linear(6, 4, bias=False), torch.nn.Linear(4, 1, bias=False)
    assert torch.equal(net.layers[0].weight, first.weight)
    assert torch.equal(net.layers[1].weight, second.weight)


def test_counts_and_metrics_equal_plain_reimplementation():
    trainer, model, dm, imp = imp_run(m=4, d=6, n=64, s=5, epochs=3)
    ref = spec_imp(dm.x, dm.y, m=4, seed=0, epochs=3, targets=[5])
    assert [h["nnz"] for h in imp.history] == ref["counts"]
    assert ref["counts"][-1] <= 5 < ref["counts"][-2]
    for lay, mask in zip(model.net.layers, ref["masks"], strict=True):
        assert torch.equal(lay.weight_mask, mask)
    assert imp.results[5]["metric"] == pytest.approx(ref["results"][5], rel=1e-5)
    assert trainer.current_epoch == 3 * len(ref["counts"])


def test_rewind_adam_reset_and_pruned_weights_stay_zero():
    rec = RoundRecorder()
    _, model, _, imp = imp_run(m=4, d=6, s=10, epochs=2, callbacks=[rec])
    init = rec.starts[0]["orig"]
    for start in rec.starts:
        assert start["adam_state"] == 0
        for orig, mask, first in zip(start["orig"], start["mask"], init, strict=True):
            assert torch.equal(orig * mask, first * mask)  # survivors back at their initial values
    counts = [int(sum(m.sum() for m in s["mask"])) for s in rec.starts]
    assert counts == [24 + 4] + [h["nnz"] for h in imp.history[:-1]]
    for step, weights in enumerate(rec.steps):
        round_ = step // 2
        for w, mask in zip(weights, rec.starts[round_]["mask"], strict=True):
            assert torch.all(w[mask == 0] == 0)
    assert not torch.equal(rec.steps[1][0], init[0])  # training moved the weights


def test_late_rewind_goes_back_to_the_weights_after_k_steps():
    rec = RoundRecorder()
    imp_run(m=4, d=6, s=20, epochs=3, callbacks=[rec], imp_kwargs={"rewind_steps": 2})
    after_two = rec.steps[1]
    for start in rec.starts[1:]:
        for orig, mask, target in zip(start["orig"], start["mask"], after_two, strict=True):
            assert torch.equal(orig * mask, target * mask)


@pytest.mark.parametrize("prune_iters", [0, 0.1, 5])
def test_prune_iters_reach_the_target(prune_iters):
    trainer, model, _, imp = imp_run(m=4, d=6, s=7, epochs=1, imp_kwargs={"prune_iters": prune_iters})
    assert model.nnz() <= 7
    assert imp.results[7]["nnz"] == model.nnz()
    if prune_iters == 0:
        assert model.nnz() == 7 and trainer.current_epoch == 1
    if prune_iters == 5:
        assert trainer.current_epoch == 4


def test_retrain_measures_after_one_more_round():
    trainer, model, dm, imp = imp_run(m=8, s=40, n=128, epochs=10, imp_kwargs={"retrain": True})
    ref = spec_imp(dm.x, dm.y, m=8, seed=0, epochs=10, targets=[40], retrain=True)
    assert trainer.current_epoch == 10 * (len(ref["counts"]) + 1)
    assert imp.results[40]["metric"] == pytest.approx(ref["results"][40], rel=1e-5)
    assert imp.results[40]["metric"] == pytest.approx(model.measure(dm.val_dataloader()))


def test_one_trajectory_serves_every_target():
    shared = imp_run(m=4, d=6, s=10, epochs=2, targets=[3, 10, 20])[3]
    for s in (3, 10, 20):
        alone = imp_run(m=4, d=6, s=10, epochs=2, targets=[s])[3]
        assert shared.results[s] == alone.results[s]


@pytest.mark.parametrize("stop_epoch", [4, 6])  # mid-round and at a round's end
def test_resume_from_checkpoint_equals_uninterrupted(tmp_path, stop_epoch):
    whole = imp_run(m=4, d=6, s=10, epochs=3)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    imp_run(m=4, d=6, s=10, epochs=3, callbacks=[ckpt], enable_checkpointing=True, max_steps=stop_epoch)
    resumed = imp_run(m=4, d=6, s=10, epochs=3, **resume_from(tmp_path / f"epoch={stop_epoch - 1}.ckpt"))
    for a, b in zip(whole[1].net.weights(), resumed[1].net.weights(), strict=True):
        assert torch.equal(a, b)
    assert resumed[3].results == whole[3].results
    assert resumed[3].history == whole[3].history


def test_bad_settings_name_the_setting():
    with pytest.raises(ValueError, match="imp.rewind_steps"):
        IMP(targets=[5], rewind_steps=-1)
    with pytest.raises(ValueError, match="model.net"):
        Trainer(max_epochs=1, callbacks=[IMP(targets=[5])], logger=False).fit(
            gated_model(width=4, input_dim=6),
            datamodule=PlantedMLPDataModule(width=4, nmeasurements=32, input_dim=6),
        )


class PoisonWeight(Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            with torch.no_grad():
                pl_module.net.layers[0].weight_orig[0, 0] = float("nan")


def test_non_finite_weights_stop_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="IMP diverged in round 1"):
        imp_run(m=4, d=6, s=10, epochs=2, callbacks=[PoisonWeight()])
