"""Deeper AIHT (docs/algorithms.md: deeper networks): layer by layer on the frozen layers' features, one
fit."""

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from tests.helpers import resume_from, tiny_run
from tests.reference import dense_a, spec_gates, spec_update

M, D, S, E, N = 4, 6, 12, 3, 64


def test_second_layer_trains_on_relu_of_the_first_layers_sparse_product():
    trainer, model, dm, _, rec = tiny_run(m=M, s=S, d=D, n=N, epochs=E, num_layers=2)
    assert trainer.current_epoch == 2 * E and len(rec.weights) == 2 * E
    first = rec.weights[E - 1]  # layer 1 after its last update (full batch: one update an epoch)
    features = torch.relu(dm.x @ first.T)
    assert features.abs().sum() > 0
    for x, _ in rec.batches[E:]:
        torch.testing.assert_close(x, features, rtol=1e-12, atol=1e-12)
    for x, _ in rec.batches[:E]:
        assert torch.equal(x, dm.x)
    # layer 2's iterates are scalar AIHT's (docs/algorithms.md) on those features, with m × m random gates
    # and budget s / 2
    gates = torch.from_numpy(spec_gates(M, M, 0))
    w = torch.zeros(M * M, dtype=torch.float64)
    for t, ((x, b), ours) in enumerate(zip(rec.batches[E:], rec.weights[E:], strict=True)):
        w = spec_update(dense_a(x, gates), b, w, S // 2)
        torch.testing.assert_close(ours, w.view(M, M), rtol=1e-5, atol=1e-12)
        if t >= 1:
            gates = w.view(M, M).clone()
    assert torch.equal(model.frozen.matrix(0).to_dense(), first)


def test_each_layer_keeps_its_share_of_the_budget():
    _, model, dm, _, rec = tiny_run(m=M, s=S, d=D, n=N, epochs=E, num_layers=2)
    assert all(int((w != 0).sum()) <= S // 2 for w in rec.weights)
    assert model.frozen.nnz(0) <= S // 2 and model.nnz() <= S
    assert model.frozen.values_0.numel() == model.frozen.nnz(0)  # stored sparsely: nonzeros only


def test_metric_is_the_last_layers_on_raw_inputs():
    trainer, model, dm, _, _ = tiny_run(m=M, s=S, d=D, n=N, epochs=E, num_layers=2)
    pred = model(dm.x)
    mse = float((pred - dm.y).square().mean().detach())
    expected = 20 * torch.log10(dm.y.abs().max()) - 10 * torch.log10(torch.tensor(mse, dtype=torch.float64))
    assert float(trainer.callback_metrics["val/psnr"]) == pytest.approx(float(expected), abs=1e-5)


def test_checkpoint_in_layer_two_resumes_equal(tmp_path):
    whole = tiny_run(m=M, s=S, d=D, n=N, epochs=E, num_layers=2, batch_size=16)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    tiny_run(
        m=M,
        s=S,
        d=D,
        n=N,
        epochs=E,
        num_layers=2,
        batch_size=16,
        callbacks=[ckpt],
        enable_checkpointing=True,
        max_steps=(E + 1) * 4,
    )
    resumed = tiny_run(
        m=M, s=S, d=D, n=N, epochs=E, num_layers=2, batch_size=16, **resume_from(tmp_path / f"epoch={E}.ckpt")
    )
    assert resumed[1].layer == 1
    assert torch.equal(resumed[1].weight, whole[1].weight)
    assert torch.equal(resumed[1].frozen.matrix(0).to_dense(), whole[1].frozen.matrix(0).to_dense())
    assert float(resumed[0].callback_metrics["val/psnr"]) == float(whole[0].callback_metrics["val/psnr"])


def test_vector_outputs_keep_only_w1_of_finished_layers():
    from pytorch_lightning import Trainer

    from callbacks.aiht import AIHT, LayerByLayer
    from datamodules.planted import PlantedMLPDataModule
    from tests.helpers import QUIET, Recorder, gated_model

    m, s, k = 5, 40, 3
    dm = PlantedMLPDataModule(width=m, sparsity=s, nmeasurements=200, input_dim=D, output_dim=k, num_layers=2)
    model = gated_model(width=m, input_dim=D, output_dim=k, num_layers=2)
    aiht, rec = AIHT(sparsity=s), Recorder()
    trainer = Trainer(
        max_epochs=E,
        precision="64-true",
        **QUIET,
        callbacks=[LayerByLayer(), aiht, rec],
    )
    trainer.fit(model, datamodule=dm)
    first = model.frozen.matrix(0).to_dense()
    assert first.shape == (m, D) and model.weight.shape == (m, m) and model.output_weight.shape == (m, k)
    assert first.abs().sum() > 0 and torch.equal(first, rec.weights[E - 1])  # W1 of layer 1, W2 dropped
    torch.testing.assert_close(rec.batches[E][0], torch.relu(dm.x @ first.T), rtol=1e-12, atol=1e-12)
    layer2 = int((model.weight != 0).sum() + (model.output_weight != 0).sum())
    assert model.frozen.nnz(0) <= s // 2 and 0 < layer2 <= s // 2
    assert aiht.vector.importance_layer == 1
