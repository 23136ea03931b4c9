"""Two-hidden-layer minibatch AIHT against scalar AIHT and deeper networks (docs/algorithms.md) done the
paper's way: per layer, torch's global generator reseeded, a plain DataLoader(shuffle=True) built afresh
and one batch taken before training; the random gates drawn with the gate seed (seed 0 for the paper's planted
minibatch runs, whatever the run's seed)."""

import numpy as np
import pytest
import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from callbacks.aiht import AIHT, LayerByLayer
from datamodules.planted import PlantedMLPDataModule
from tests.helpers import QUIET, Recorder, gated_model, resume_from
from tests.reference import dense_a, spec_gates, spec_planted_layers, spec_update

N, D, M, S, BATCH, EPOCHS, LAYERS, SEED = 200, 10, 6, 20, 50, 3, 2, 1
PER_EPOCH = N // BATCH


def paper_run(gate_seed: int) -> tuple[list, list, float]:
    """(batches, iterates, final PSNR) of the paper's layer-by-layer minibatch AIHT."""
    x_np, y_np = spec_planted_layers(M, S, SEED, N, D, LAYERS)
    x, y = torch.from_numpy(x_np).double(), torch.from_numpy(y_np).double()
    features, batches, iterates = x, [], []
    for _layer in range(LAYERS):
        torch.manual_seed(SEED + 3)
        loader = DataLoader(TensorDataset(features, y), batch_size=BATCH, shuffle=True)
        next(iter(loader))
        inputs = features.shape[1]
        gates = torch.from_numpy(spec_gates(M, inputs, gate_seed))
        w = torch.zeros(M * inputs, dtype=torch.float64)
        for epoch in range(EPOCHS):
            for xb, b in loader:
                batches.append((xb, b))
                w = spec_update(dense_a(xb, gates), b, w, S // LAYERS)
                iterates.append(w.view(M, inputs))
                if epoch >= 1:
                    gates = w.view(M, inputs).clone()
        features = torch.relu(features @ w.view(M, inputs).T)
    mse = float((features.sum(1) - y).square().mean())
    return batches, iterates, 20 * np.log10(float(y.abs().max())) - 10 * np.log10(mse)


def project_run(gate_seed: int | None, callbacks=(), ckpt_path=None, **trainer_kwargs):
    dm = PlantedMLPDataModule(
        width=M, sparsity=S, seed=SEED, nmeasurements=N, input_dim=D, batch_size=BATCH, num_layers=LAYERS
    )
    model = gated_model(width=M, input_dim=D, seed=SEED, num_layers=LAYERS, gate_seed=gate_seed)
    rec = Recorder()
    kwargs = dict(max_epochs=EPOCHS, precision="64-true", **QUIET)
    kwargs.update(trainer_kwargs)
    trainer = Trainer(callbacks=[LayerByLayer(), AIHT(sparsity=S), rec, *callbacks], **kwargs)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return trainer, model, rec


@pytest.mark.parametrize("gate_seed", [0, None])  # the paper's planted minibatch runs; the run's seed
def test_two_layers_equal_the_papers_per_layer_loaders(gate_seed):
    trainer, model, rec = project_run(gate_seed)
    batches, iterates, psnr = paper_run(SEED if gate_seed is None else gate_seed)
    assert len(rec.batches) == len(batches) == LAYERS * EPOCHS * PER_EPOCH
    for (ours_x, ours_b), (x, b) in zip(rec.batches, batches, strict=True):
        # labels computed two ways (the units with nonzeros; the dense reference): to float32 rounding
        torch.testing.assert_close(ours_b, b, rtol=1e-6, atol=1e-12)
        torch.testing.assert_close(ours_x, x, rtol=1e-12, atol=1e-12)
    for ours, ref in zip(rec.weights, iterates, strict=True):
        assert torch.equal(ours != 0, ref != 0)
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)
    assert int((rec.weights[-1] != 0).sum()) == S // LAYERS
    assert float(trainer.callback_metrics["val/psnr"]) == pytest.approx(psnr, abs=1e-9)


def test_gate_seed_draws_both_layers_gates():
    _, model, rec = project_run(gate_seed=0)
    assert torch.equal(rec.gates[0], torch.from_numpy(spec_gates(M, D, 0)))
    assert not torch.equal(rec.gates[0], torch.from_numpy(spec_gates(M, D, SEED)))
    first_of_layer_two = EPOCHS * PER_EPOCH + 1  # gates seen by layer 2's first update
    assert torch.equal(rec.gates[first_of_layer_two], torch.from_numpy(spec_gates(M, M, 0)))


def test_layer_two_sees_layer_ones_orders():
    """Layer 2's batches are the features of layer 1's batches, in the same order (the paper's
    reseeded loader), not the orders that follow layer 1's."""
    _, model, rec = project_run(gate_seed=0)
    first = model.frozen.matrix(0).to_dense()
    per_layer = EPOCHS * PER_EPOCH
    for (x1, b1), (x2, b2) in zip(rec.batches[:per_layer], rec.batches[per_layer:], strict=True):
        assert torch.equal(b1, b2)
        torch.testing.assert_close(x2, torch.relu(x1 @ first.T), rtol=1e-12, atol=1e-12)


# Lightning warns that a step's checkpoint holds the weights after the manual optimiser step: for
# AIHT, whose update is that step, it is the state the next step starts from, as resuming needs.
@pytest.mark.filterwarnings("ignore:Using ModelCheckpoint with manual optimization and every_n_train_steps")
@pytest.mark.parametrize("resume_step", [EPOCHS * PER_EPOCH, (EPOCHS + 1) * PER_EPOCH + 2])
def test_resume_in_layer_two_gives_the_same_run(tmp_path, resume_step):
    """From the end of layer 1, and from the middle of an epoch of layer 2."""
    whole, *_ = project_run(0)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_train_steps=1, filename="{step}")
    project_run(0, callbacks=[ckpt], enable_checkpointing=True, max_steps=resume_step)
    trainer, model, rec = project_run(
        0, **resume_from(tmp_path / f"step={resume_step}.ckpt", every_n_train_steps=1)
    )
    _, iterates, psnr = paper_run(0)
    assert len(rec.weights) == len(iterates) - resume_step
    for ours, ref in zip(rec.weights, iterates[resume_step:], strict=True):
        assert torch.equal(ours != 0, ref != 0)
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)
    assert float(trainer.callback_metrics["val/psnr"]) == float(whole.callback_metrics["val/psnr"])
    assert float(trainer.callback_metrics["val/psnr"]) == pytest.approx(psnr, abs=1e-9)
