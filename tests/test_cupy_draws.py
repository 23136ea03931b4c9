"""``draws: cupy`` (docs/reproducing.md) without a GPU: refused with a message naming the setting and what to
do, before any point runs, whether CuPy or CUDA is missing; and, with tests/fake_cupy.py standing
in for CuPy, the project's CuPy path makes the paper code's calls: its gates, start values, sketch signs
and Gaussian columns equal plain numpy transcriptions of those calls, and whole runs equal the
numpy-draws runs. The real CuPy numbers are compared in tests/test_gpu_cupy.py."""

import sys

import numpy as np
import pytest
import torch
from pytorch_lightning import Trainer

from callbacks.aiht import AIHT, LayerByLayer
from callbacks.aiht.count_sketch import CountSketch
from callbacks.aiht.vector import give_start_values
from datamodules import cupy_draws
from datamodules.gaussian_columns import GaussianColumns
from datamodules.gaussian_sparse import GaussianSparseDataModule
from datamodules.planted import PlantedMLPDataModule
from lightning_app.cli import SweepCLI, main
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.identity import flat_settings
from lightning_app.run.point_run import PointRunner
from modules.gates import gate_tensor
from tests.fake_cupy import fake_cupy
from tests.helpers import QUIET, gated_model, run_fit
from tests.reference import spec_gates
from tests.reference_sketch import spec_sign_table
from tests.reference_vector import spec_start_values
from tests.vector_helpers import VectorRecorder

PLANTED = [
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=60",
    "--data.input_dim=5",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
    "--sweep.mlist",
    "2",
    "--sweep.slist",
    "3",
]


@pytest.fixture
def cuda_here(monkeypatch):
    monkeypatch.setattr(cupy_draws, "cuda_available", lambda: True)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(cupy_draws, "cuda_available", lambda: False)


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # ``import cupy`` raises ImportError


@pytest.fixture
def fake(monkeypatch, cuda_here):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())


def refused_sweep(tmp_path, monkeypatch, *extra):
    """Runs a planted sweep that must be refused: the error, after checking nothing ran."""
    calls = []
    monkeypatch.setattr(PointRunner, "run_job", lambda self, points: calls.append(points))
    with pytest.raises(ValueError) as refusal:
        run_fit(["fit", *PLANTED, f"--trainer.default_root_dir={tmp_path}", "--sweep.draws=cupy", *extra])
    assert calls == [] and not list(tmp_path.rglob("result.json"))
    return str(refusal.value)


# Refusals.


def test_cupy_draws_on_the_cpu_are_refused(tmp_path, monkeypatch, fake):
    message = refused_sweep(tmp_path, monkeypatch, "--trainer.accelerator=cpu")
    assert "sweep.draws=cupy with trainer.accelerator=cpu" in message
    assert "--trainer.accelerator gpu" in message and "--sweep.draws numpy" in message


def test_cupy_draws_without_cuda_are_refused(tmp_path, monkeypatch, fake, no_cuda):
    message = refused_sweep(tmp_path, monkeypatch, "--trainer.accelerator=gpu", "--trainer.devices=1")
    assert message.startswith("sweep.draws=cupy draws with CuPy on a CUDA GPU, and there is none here")
    assert "--sweep.draws numpy" in message


def test_cupy_draws_without_cupy_are_refused(tmp_path, monkeypatch, cuda_here, no_cupy):
    message = refused_sweep(tmp_path, monkeypatch, "--trainer.accelerator=auto")
    assert message.startswith("sweep.draws=cupy needs CuPy, which cannot be imported here")
    assert "pip install -e '.[cupy" in message and "--sweep.draws numpy" in message


def test_the_command_line_says_what_to_do(tmp_path, no_cuda):
    with pytest.raises(SystemExit) as end:
        main(["fit", *PLANTED, f"--trainer.default_root_dir={tmp_path}", "--sweep.draws=cupy"])
    assert str(end.value.code).startswith("error: sweep.draws=cupy draws with CuPy on a CUDA GPU")
    assert not list(tmp_path.rglob("result.json"))


def test_a_cupy_that_cannot_reach_the_gpu_is_refused(monkeypatch, cuda_here):
    broken = fake_cupy()

    def no_device():
        raise RuntimeError("cudaErrorInsufficientDriver")

    broken.cuda.runtime.getDeviceCount = no_device
    monkeypatch.setitem(sys.modules, "cupy", broken)
    with pytest.raises(
        cupy_draws.DrawsUnavailable, match="model.draws=cupy: CuPy .* cannot reach the CUDA GPU"
    ):
        cupy_draws.load_cupy("model.draws")


def test_models_and_datamodules_name_their_own_setting(no_cuda, no_cupy):
    model = gated_model(width=3, input_dim=4, draws="cupy")
    dm = PlantedMLPDataModule(width=3, sparsity=2, nmeasurements=16, input_dim=4)
    trainer = Trainer(callbacks=[AIHT(sparsity=2)], max_epochs=1, **QUIET)
    with pytest.raises(
        cupy_draws.DrawsUnavailable, match="^model.net.draws=cupy draws with CuPy on a CUDA GPU"
    ):
        trainer.fit(model, datamodule=dm)
    dm = GaussianSparseDataModule(width=20, sparsity=2, nmeasurements=5, draws="cupy")
    with pytest.raises(cupy_draws.DrawsUnavailable, match="^data.draws=cupy draws with CuPy"):
        dm.setup("fit")


def test_unknown_draws_and_draws_set_past_the_sweep_are_refused():
    with pytest.raises(ValueError, match="model.net.draws must be one of numpy, cupy, got 'jax'"):
        gated_model(draws="jax")
    with pytest.raises(SettingsError, match="model.net.draws=cupy: the sweep sets .* use --sweep.draws cupy"):
        SweepCLI([*PLANTED, "--model.net.draws=cupy"])


# The setting reaches every draw, and only cupy changes a point's identity.


GAUSSIAN = ["--config=configs/gaussian_sparse.yaml", "--sweep.mlist", "30", "--sweep.slist", "2"]


@pytest.mark.parametrize("task", [PLANTED, GAUSSIAN])
def test_the_sweep_hands_its_draws_to_model_and_data(task):
    plan = SweepCLI([*task, "--sweep.draws=cupy"]).plan
    objects = plan.objects(plan.points[0])
    assert objects.model.draws == "cupy"
    if task is GAUSSIAN:
        assert objects.datamodule.draws == "cupy"
    assert flat_settings(plan.identity(plan.points[0]))["sweep.draws"] == "cupy"
    plan = SweepCLI(task).plan
    assert plan.objects(plan.points[0]).model.draws == "numpy"
    assert [k for k in flat_settings(plan.identity(plan.points[0])) if k.endswith(".draws")] == []


# The CuPy path, on the numpy stand-in.


@pytest.mark.parametrize("seed", [0, 7])
def test_gates_make_spec_calls(fake, seed):
    drawn = gate_tensor(6, 5, seed, draws="cupy")
    assert drawn.dtype == torch.float64
    assert torch.equal(drawn, torch.from_numpy(spec_gates(6, 5, seed)))


@pytest.mark.parametrize("rule", ["max_zero", "all_zero"])
def test_start_values_make_spec_calls(fake, rule):
    """Row 1 holds negative weights and a zero: its largest entry is 0, so the paper's test
    restarts it; row 2 has a positive entry and keeps its values under both rules."""
    block = torch.zeros(4, 3, dtype=torch.float64)
    block[1] = torch.tensor([-0.5, 0.0, -1.0])
    block[2] = torch.tensor([0.5, 0.0, -1.0])
    before = block.clone()
    units, bound = [3, 8, 9, 12], 0.25
    give_start_values(block, units, bound, draws="cupy", rule=rule)
    for row, j in enumerate(units):
        kept = row == 2 or (row == 1 and rule == "all_zero")
        expected = before[row] if kept else spec_start_values(j, 3, bound)
        assert torch.equal(block[row], expected.double())


def test_sketch_signs_make_spec_calls(fake):
    sketch = CountSketch(250_000, 50, signs="cupy")
    idx = torch.tensor([0, 7, 99_999, 100_000, 123_456, 200_001, 249_999])
    tables = {b: spec_sign_table(b) for b in (0, 1, 2)}
    expected = [[int(tables[int(i) // 100_000][int(i) % 100_000, r] < 0) for i in idx] for r in range(4)]
    assert sketch.negative(idx).tolist() == expected


def plain_gaussian(n_rows: int, n_cols: int, seed: int) -> torch.Tensor:
    """The paper code's Gaussian sensing matrix in numpy's calls: the offset has no special case for 0."""
    np.random.seed(seed)
    offset = np.random.randint(0, n_cols)
    columns = []
    for j in range(n_cols):
        np.random.seed(j + offset)
        columns.append(np.random.normal(size=n_rows))
    return torch.from_numpy(np.stack(columns, axis=1))


@pytest.mark.parametrize("seed", [0, 3])
def test_gaussian_columns_make_spec_calls(fake, seed):
    sensing = GaussianColumns(n_rows=7, n_cols=23, seed=seed, block_size=5, draws="cupy")
    a = plain_gaussian(7, 23, seed)
    assert torch.equal(torch.cat([sensing.block(b) for b in range(sensing.num_blocks)], dim=1), a)
    idx = torch.tensor([22, 0, 22, 5, 4])
    assert torch.equal(sensing.columns(idx), a[:, idx])
    assert torch.equal(sensing.to(dtype=torch.float32).columns(idx), a[:, idx].float())
    r = torch.randn(7, dtype=torch.float64)
    torch.testing.assert_close(sensing.matvec_T(r), a.T @ r, rtol=1e-12, atol=1e-12)


def test_gaussian_task_measures_with_spec_columns(fake):
    dm = GaussianSparseDataModule(width=40, sparsity=6, seed=2, nmeasurements=12, block_size=8, draws="cupy")
    dm.setup("fit")
    np.random.seed(2)  # the support: seed(seed), then choice(N, s, replace=False), on CuPy's generator
    support = np.sort(np.random.choice(40, 6, replace=False))
    assert dm.support.tolist() == support.tolist()
    signal = torch.zeros(40, dtype=torch.float64)
    signal[support] = 1.0
    torch.testing.assert_close(dm.y, plain_gaussian(12, 40, 2) @ signal, rtol=1e-12, atol=1e-12)


def two_layer_vector_run(draws: str, storage: str = "dense"):
    m, d, k, s, seed = 4, 5, 3, 24, 1
    dm = PlantedMLPDataModule(
        width=m, sparsity=s, seed=seed, nmeasurements=64, input_dim=d, output_dim=k, num_layers=2
    )
    model = gated_model(
        width=m, input_dim=d, seed=seed, output_dim=k, num_layers=2, draws=draws, storage=storage
    )
    aiht, rec = AIHT(sparsity=s), VectorRecorder()
    trainer = Trainer(callbacks=[LayerByLayer(), aiht, rec], max_epochs=3, precision="64-true", **QUIET)
    trainer.fit(model, datamodule=dm)
    return trainer, model, aiht, rec


def counted(draw, name: str, calls: list[str]):
    def wrapper(*args, **kwargs):
        calls.append(name)
        return draw(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("storage", ["dense", "compact"])
def test_a_run_with_cupy_draws_makes_the_numpy_runs_draws(fake, monkeypatch, storage):
    calls = []
    for name in ("gates", "gate_rows", "start_values", "sign_table"):
        monkeypatch.setattr(cupy_draws, name, counted(getattr(cupy_draws, name), name, calls))
    numpy_run = two_layer_vector_run("numpy", storage)
    assert calls == []
    cupy_run = two_layer_vector_run("cupy", storage)
    assert cupy_run[1].storage == storage
    if storage == "dense":  # all gates of each layer at its start; compact: rows as they are needed
        assert calls.count("gates") == 2
    else:
        assert "gate_rows" in calls and "gates" not in calls
    assert "start_values" in calls and "sign_table" in calls
    assert cupy_run[2].vector.importance.signs == "cupy"
    (_, model_n, _, rec_n), (_, model_c, _, rec_c) = numpy_run, cupy_run
    state_n, state_c = model_n.state_dict(), model_c.state_dict()
    assert state_n.keys() == state_c.keys()
    for key, value in state_n.items():  # tensors, and compact storage's extra state (a dict)
        assert torch.equal(value, state_c[key]) if torch.is_tensor(value) else value == state_c[key]
    assert len(rec_n.weights) == len(rec_c.weights) == 6
    for (w1_n, w2_n), (w1_c, w2_c) in zip(rec_n.weights, rec_c.weights, strict=True):
        assert torch.equal(w1_n, w1_c) and torch.equal(w2_n, w2_c)
    assert all(torch.equal(a, b) for a, b in zip(rec_n.gates, rec_c.gates, strict=True))
    assert numpy_run[0].callback_metrics["val/psnr"] == cupy_run[0].callback_metrics["val/psnr"]


def test_points_that_draw_with_cupy_record_its_version(monkeypatch):
    from lightning_app.run.versions import software_versions

    cupy = fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    assert software_versions(cupy=True)["cupy"] == cupy.__version__
    assert "cupy" not in software_versions(cupy=False)
