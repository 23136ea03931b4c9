"""The equality and recovery tests, IMP and GPU sweep workers on CUDA; skipped without a GPU."""

import pytest
import torch

from tests.helpers import PAPER_DB_TOLERANCE, RepeatedInputs, figure1_point, imp_run, run_fit, tiny_run
from tests.reference import dense_a, spec_gates, spec_update
from tests.result_helpers import csv_rows

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_cuda_iterates_equal_plain_reimplementation(convex, batch_size):
    m, d, s = 5, 6, 7
    epochs = 4 if batch_size == 0 else 2
    per_epoch = 1 if batch_size == 0 else 4
    _, model, _, _, rec = tiny_run(
        m=m, s=s, d=d, epochs=epochs, batch_size=batch_size, convex=convex, accelerator="gpu", devices=1
    )
    assert rec.batches[0][0].device.type == "cuda"  # trained there (Lightning moves the model back after fit)
    gates = torch.from_numpy(spec_gates(m, d, 0))
    w = torch.zeros(m * d, dtype=torch.float64)
    for t, ((x, b), ours) in enumerate(zip(rec.batches, rec.weights, strict=True)):
        w = spec_update(dense_a(x.cpu(), gates), b.cpu(), w, s)
        torch.testing.assert_close(ours.cpu(), w.view(m, d), rtol=1e-5, atol=1e-12)
        if not convex and t // per_epoch >= 1:
            gates = w.view(m, d).clone()


def test_cuda_breaks_ties_as_the_cpu_does():
    runs = [
        tiny_run(m=5, s=7, d=6, epochs=6, datamodule_class=RepeatedInputs, **device)[4].weights
        for device in ({}, {"accelerator": "gpu", "devices": 1})
    ]
    for cpu, cuda in zip(*runs, strict=True):
        assert torch.equal(cpu != 0, cuda.cpu() != 0)
        torch.testing.assert_close(cuda.cpu(), cpu, rtol=1e-9, atol=1e-14)


def test_cuda_figure1_points_equal_the_cpu_ones():
    assert (
        abs(figure1_point(50, 200, num_layers=2, accelerator="gpu", devices=1) - 32.204) < PAPER_DB_TOLERANCE
    )
    assert figure1_point(100, 100, accelerator="gpu", devices=1) == pytest.approx(29.873, abs=0.01)


def test_cuda_planted_recovery():
    trainer, model, *_ = tiny_run(m=10, s=20, n=5000, d=100, epochs=15, accelerator="gpu", devices=1)
    assert float(trainer.callback_metrics["val/psnr"]) >= 30.0
    assert model.nnz() <= 20


def test_cuda_imp_prunes_as_on_the_cpu():
    cpu = imp_run(m=8, d=6, n=128, s=30, epochs=5)
    trainer, model, dm, imp = imp_run(m=8, d=6, n=128, s=30, epochs=5, accelerator="gpu", devices=1)
    assert dm.x.device.type == "cuda"
    assert [h["nnz"] for h in imp.history] == [h["nnz"] for h in cpu[3].history]
    assert imp.results[30]["metric"] == pytest.approx(cpu[3].results[30]["metric"], rel=1e-4)


def test_gpu_sweep_workers_pinned_to_devices_match_the_cpu(tmp_path):
    def sweep(root, *extra):
        run_fit(
            [
                "fit",
                "--data=datamodules.planted.PlantedMLPDataModule",
                "--data.nmeasurements=300",
                "--data.input_dim=8",
                "--trainer.max_epochs=3",
                f"--trainer.default_root_dir={root}",
                "--trainer.enable_progress_bar=false",
                "--sweep.method",
                "aiht",
                "imp",
                "--sweep.mlist",
                "2",
                "5",
                "--sweep.slist",
                "3",
                "40",
                *extra,
            ]
        )
        return {
            (r["method"], r["m"], r["s"]): (r["status"], float(r["metric"]))
            for r in csv_rows(root / "results.csv")
        }

    cpu = sweep(tmp_path / "cpu")
    gpu = sweep(tmp_path / "gpu", "--trainer.accelerator=gpu", "--trainer.devices=0,0")  # two workers, GPU 0
    assert set(gpu) == set(cpu) and len(cpu) == 8
    for key, (status, metric) in cpu.items():
        assert gpu[key][0] == status == "done"
        assert gpu[key][1] == pytest.approx(metric, rel=1e-3)


@pytest.mark.parametrize("convex", [False, True])
def test_cuda_compact_state_equals_the_cpu_dense_one(convex):
    """Compact state on CUDA (chunks of a few units, gates regenerated on the host and moved)."""
    kwargs = dict(m=9, s=7, d=6, epochs=5, convex=convex, datamodule_class=RepeatedInputs)
    cpu = tiny_run(model_kwargs={"storage": "dense"}, **kwargs)[4].weights
    compact = {"storage": "compact", "gradient_memory_mb": 1e-3}
    cuda = tiny_run(model_kwargs=compact, accelerator="gpu", devices=1, **kwargs)[4].weights
    for dense, ours in zip(cpu, cuda, strict=True):
        assert torch.equal(dense != 0, ours.cpu() != 0)
        torch.testing.assert_close(ours.cpu(), dense, rtol=1e-9, atol=1e-14)
