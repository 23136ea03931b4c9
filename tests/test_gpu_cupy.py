"""``draws: cupy`` on a CUDA GPU with CuPy: the project's gates, vector start values, count-sketch
signs and Gaussian sensing support and columns equal CuPy's own calls written here as docs/reproducing.md
states them, and a Figure 1 point and a Gaussian sensing point run end to end. Skipped without a GPU or CuPy
(``pip install -e '.[cupy]'``; ``benchmarks/gpu_check.sh`` installs it and runs these)."""

import math

import numpy as np
import pytest
import torch
from pytorch_lightning import Trainer

from callbacks.aiht import AIHT
from callbacks.aiht.count_sketch import CountSketch
from callbacks.aiht.vector import give_start_values
from datamodules.cupy_draws import to_torch
from datamodules.gaussian_columns import GaussianColumns
from datamodules.gaussian_sparse import draw_support
from datamodules.planted import PlantedMLPDataModule
from modules.gates import gate_tensor
from tests.helpers import QUIET, gated_model, run_fit
from tests.reference_sketch import spec_sign_table

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
cp = pytest.importorskip("cupy", reason="needs CuPy: pip install -e '.[cupy]'")
CUDA = torch.device("cuda", 0)


def host(array) -> torch.Tensor:
    return torch.from_numpy(cp.asnumpy(array))


def spec_gates(m: int, d: int, seed: int) -> torch.Tensor:
    offset = 0
    if seed != 0:
        cp.random.seed(seed)
        offset = cp.random.randint(low=0, high=m * d).item()
    rows = []
    for j in range(m):
        cp.random.seed(j + offset)
        rows.append(cp.random.normal(size=d))
    return host(cp.stack(rows))


def spec_start_values(j: int, size: int, low: float, high: float) -> torch.Tensor:
    cp.random.seed(j)
    return host(cp.random.uniform(low, high, size=size))


def spec_signs(block: int) -> np.ndarray:
    cp.random.seed(block)
    return cp.asnumpy(cp.random.choice([-1, 1], size=(100000, 4)))


def spec_gaussian(nmeasurements: int, n: int, seed: int) -> torch.Tensor:
    cp.random.seed(seed)
    offset = cp.random.randint(low=0, high=n).item()
    columns = []
    for j in range(n):
        cp.random.seed(j + offset)
        columns.append(cp.random.normal(size=nmeasurements))
    return host(cp.stack(columns, axis=1))


def test_draws_reach_torch_without_a_copy():
    array = cp.arange(6, dtype=cp.float64)
    tensor = to_torch(array, CUDA)
    assert tensor.device == CUDA and tensor.data_ptr() == array.data.ptr


@pytest.mark.parametrize("seed", [0, 5])
def test_gates_equal_cupy(seed):
    m, d = 7, 9  # an odd d: CuPy draws normals in pairs
    drawn = gate_tensor(m, d, seed, draws="cupy", device=CUDA)
    assert drawn.device == CUDA and drawn.dtype == torch.float64
    expected = spec_gates(m, d, seed)
    assert torch.equal(drawn.cpu(), expected)
    assert not torch.equal(expected, gate_tensor(m, d, seed))  # CuPy's numbers are not numpy's


@pytest.mark.parametrize("seed", [0, 5])
def test_a_model_with_cupy_draws_trains_with_cupy_gates(seed):
    m, d = 6, 9
    model = gated_model(width=m, input_dim=d, seed=seed, draws="cupy")
    dm = PlantedMLPDataModule(width=m, sparsity=8, seed=seed, nmeasurements=64, input_dim=d)
    trainer = Trainer(
        callbacks=[AIHT(sparsity=8, convex=True)],  # convex: the random gates stay
        max_epochs=2,
        precision="64-true",
        accelerator="gpu",
        devices=1,
        **QUIET,
    )
    trainer.fit(model, datamodule=dm)
    assert torch.equal(model.gates.cpu(), spec_gates(m, d, seed))


def test_start_values_equal_cupy():
    units, size, bound = [3, 8, 9, 12], 5, 0.25
    block = torch.zeros(4, size, dtype=torch.float64, device=CUDA)
    block[1, 0] = -0.5  # negative weights and zeros: the largest entry is 0, restarted
    block[2] = 1.5
    give_start_values(block, units, bound, draws="cupy")
    for row, j in enumerate(units):
        expected = torch.full((size,), 1.5) if row == 2 else spec_start_values(j, size, -bound, bound)
        assert torch.equal(block[row].cpu(), expected.double())


def test_sketch_signs_equal_cupy():
    sketch = CountSketch(250_000, 50, device=CUDA, signs="cupy")
    idx = torch.tensor([0, 7, 99_999, 100_000, 123_456, 200_001, 249_999], device=CUDA)
    tables = {b: spec_signs(b) for b in (0, 1, 2)}
    expected = [[int(tables[int(i) // 100_000][int(i) % 100_000, r] < 0) for i in idx] for r in range(4)]
    assert sketch.negative(idx).tolist() == expected
    assert not np.array_equal(tables[0], spec_sign_table(0))  # CuPy's signs are not numpy's


@pytest.mark.parametrize("seed", [0, 2])
def test_gaussian_columns_equal_cupy(seed):
    sensing = GaussianColumns(n_rows=51, n_cols=40, seed=seed, block_size=16, device=CUDA, draws="cupy")
    a = torch.cat([sensing.block(b) for b in range(sensing.num_blocks)], dim=1)
    assert a.device == CUDA and a.dtype == torch.float64
    assert torch.equal(a.cpu(), spec_gaussian(51, 40, seed))


@pytest.mark.parametrize("seed", [0, 2])
def test_gaussian_support_equals_cupy(seed):
    cp.random.seed(seed)
    expected = sorted(cp.asnumpy(cp.random.choice(a=300, size=12, replace=False)).tolist())
    assert draw_support(300, 12, seed, draws="cupy", device=CUDA).tolist() == expected
    assert expected != draw_support(300, 12, seed).tolist()  # CuPy's positions are not numpy's


def cuda_sweep(tmp_path, *settings: str) -> dict:
    results = run_fit(
        [
            "fit",
            *settings,
            "--sweep.seedlist=0",
            "--sweep.draws=cupy",
            "--trainer.accelerator=gpu",
            "--trainer.devices=1",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
        ]
    )
    assert len(results) == 1 and results[0]["status"] == "done"
    assert results[0]["identity"]["sweep"]["draws"] == "cupy"
    return results[0]


def test_figure1_point_with_cupy_draws(tmp_path):
    result = cuda_sweep(
        tmp_path,
        "--config=configs/figure1.yaml",
        "--sweep.method=aiht",
        "--sweep.num_layers=1",
        "--sweep.mlist=100",
        "--sweep.slist=100",
    )
    assert math.isfinite(result["metric"])


def test_gaussian_point_with_cupy_draws_recovers(tmp_path):
    result = cuda_sweep(
        tmp_path,
        "--config=configs/gaussian_sparse.yaml",
        "--sweep.mlist=1000",
        "--sweep.slist=10",
        "--trainer.max_epochs=8",
    )
    assert result["metric"] < 1e-6  # relative error: 200 Gaussian measurements recover 10 ones
