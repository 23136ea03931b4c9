"""IMP's dense reference (``IMP.dense_metric``): the metric of the dense network at the end of the
first round, before the first prune, equal to a plain dense training run written here, and
measured without drawing from torch's global generator."""

import math

import pytest
import torch
from pytorch_lightning import Callback, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint

from callbacks.imp import IMP
from datamodules.planted import PlantedMLPDataModule
from tests.helpers import QUIET, imp_run, relu_model, resume_from, run_fit


class FirstRoundBatches(Callback):
    """The batches of the first round, as training saw them."""

    def __init__(self, epochs_per_round: int) -> None:
        self.epochs_per_round = epochs_per_round
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch < self.epochs_per_round:
            self.batches.append((batch[0].clone(), batch[1].clone()))


def plain_dense_metric(batches, x, y, d: int, m: int, seed: int) -> float:
    """Dense ReLU MLP Linear(d→m), Linear(m→1) built after torch.manual_seed(seed), trained by
    Adam (lr 1e-3) on ``batches`` with the mean squared error; its PSNR on (x, y)."""
    torch.manual_seed(seed)
    first = torch.nn.Linear(d, m, bias=False)
    second = torch.nn.Linear(m, 1, bias=False)
    adam = torch.optim.Adam([*first.parameters(), *second.parameters()], lr=1e-3)
    for xb, yb in batches:
        adam.zero_grad()
        out = second(torch.relu(first(xb))).squeeze(-1)
        torch.nn.functional.mse_loss(out, yb).backward()
        adam.step()
    with torch.no_grad():
        pred = second(torch.relu(first(x))).squeeze(-1)
    mse = float((pred.double() - y.double()).square().mean())
    return 20 * math.log10(float(y.abs().max())) - 10 * math.log10(mse)


class AllBatches(Callback):
    """Every training batch of the fit, in order."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch[0].clone())


def imp_fit(batch_size: int, measure_dense: bool = True):
    """A three-round IMP fit of a tiny planted point; the dense measurement replaced by NaN
    (no pass over any loader) unless ``measure_dense``."""
    m, d, seed, epochs = 4, 6, 1, 3
    dm = PlantedMLPDataModule(
        width=m, sparsity=6, seed=seed, nmeasurements=64, input_dim=d, batch_size=batch_size
    )
    model = relu_model(width=m, input_dim=d, seed=seed)
    imp = IMP(targets=[10])
    imp.rng_states = []
    measure = imp._measure_dense

    def recorded(trainer, pl_module):
        before = torch.get_rng_state()
        value = measure(trainer, pl_module) if measure_dense else math.nan
        imp.rng_states.append((before, torch.get_rng_state()))
        return value

    imp._measure_dense = recorded
    seen, every = FirstRoundBatches(epochs), AllBatches()
    trainer = Trainer(
        callbacks=[seen, every, imp], max_epochs=epochs, precision="32-true", limit_val_batches=0, **QUIET
    )
    trainer.fit(model, datamodule=dm)
    return dm, imp, seen, every, (d, m, seed, epochs)


@pytest.mark.parametrize("batch_size", [0, 16], ids=["full_batch", "minibatches"])
def test_dense_reference_equals_a_plain_dense_run(batch_size):
    dm, imp, seen, every, (d, m, seed, epochs) = imp_fit(batch_size)
    assert len(seen.batches) == epochs * (1 if batch_size == 0 else 4)
    expected = plain_dense_metric(seen.batches, dm.x, dm.y, d, m, seed)
    assert imp.dense_metric == pytest.approx(expected, rel=1e-5)
    assert imp.dense_metric != imp.results[10]["metric"]  # measured before the first prune
    ((before, after),) = imp.rng_states
    assert torch.equal(before, after)  # it drew nothing from torch's global generator
    # it leaves torch's global generator as it was: every later batch and the result are those of
    # a fit without the dense measurement
    _, without, _, every_without, _ = imp_fit(batch_size, measure_dense=False)
    assert len(every.batches) > len(seen.batches) and len(every.batches) == len(every_without.batches)
    assert all(torch.equal(a, b) for a, b in zip(every.batches, every_without.batches, strict=True))
    assert imp.results[10]["metric"] == without.results[10]["metric"]


def test_imp_points_record_the_dense_reference(tmp_path):
    results = run_fit(
        [
            "fit",
            "--data",
            "datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=64",
            "--data.input_dim=4",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_checkpointing=false",
            "--sweep.method",
            "imp",
            "aiht",
            "--sweep.mlist",
            "3",
            "--sweep.slist",
            "4",
            "--sweep.seedlist",
            "0",
        ]
    )
    by_method = {r["method"]: r for r in results}
    assert math.isfinite(by_method["imp"]["dense_metric"])
    assert "dense_metric" not in by_method["aiht"]


def test_a_resumed_run_keeps_the_dense_reference_and_the_recorded_networks(tmp_path):
    whole = imp_run(m=4, d=6, s=10, epochs=3, targets=[10, 20])[3]
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    imp_run(
        m=4, d=6, s=10, epochs=3, targets=[10, 20], callbacks=[ckpt], enable_checkpointing=True, max_steps=5
    )
    resumed = imp_run(m=4, d=6, s=10, epochs=3, targets=[10, 20], **resume_from(tmp_path / "epoch=4.ckpt"))[3]
    assert resumed.dense_metric == whole.dense_metric
    assert sorted(resumed.networks) == sorted(whole.networks) == [10, 20]
    for s in (10, 20):
        for a, b in zip(resumed.networks[s], whole.networks[s], strict=True):
            assert a.is_sparse and torch.equal(a.to_dense(), b.to_dense())
