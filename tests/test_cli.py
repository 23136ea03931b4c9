"""``python cli.py fit``: the grid, its output contract and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning import LightningDataModule
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_app.cli import SweepCLI
from tests.helpers import imp_run, run_fit
from tests.reference import spec_gates, spec_planted
from tests.result_helpers import csv_rows

REQUIRED_KEYS = {
    "task",
    "method",
    "num_layers",
    "m",
    "s",
    "seed",
    "metric_name",
    "metric",
    "nnz",
    "epochs",
    "batch_size",
    "wall_s",
    "status",
}


def fit(tmp_path: Path, *extra: str, mlist=("2", "5"), slist=("3", "2000"), n="500", epochs="3"):
    args = [
        "fit",
        "--data",
        "datamodules.planted.PlantedMLPDataModule",
        f"--data.nmeasurements={n}",
        "--data.input_dim=10",
        f"--trainer.max_epochs={epochs}",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
        "--sweep.mlist",
        *mlist,
        "--sweep.slist",
        *slist,
        "--sweep.seedlist",
        "0",
        *extra,
    ]
    run_fit(args)
    return tmp_path


def test_grid_writes_results_per_point(tmp_path):
    root = fit(tmp_path)
    rows = csv_rows(root / "results.csv")
    assert [(r["m"], r["s"]) for r in rows] == [("2", "3"), ("2", "2000"), ("5", "3"), ("5", "2000")]
    for m in (2, 5):
        for s in (3, 2000):
            folder = root / f"mlp_planted/aiht/hidden1/m{m}_s{s}_seed0"
            result = json.loads((folder / "result.json").read_text())
            assert REQUIRED_KEYS <= set(result)
            assert result["status"] == "done" and result["metric_name"] == "psnr"
            assert result["s_effective"] == min(s, m * 10)
            assert result["nnz"] <= result["s_effective"]
            assert result["updates"] == 3
            assert list(folder.glob("events.out.tfevents.*"))
    assert (root / "config.yaml").exists()


def test_result_records_the_versions_that_decide_its_numbers(tmp_path):
    from importlib import metadata

    from packaging.version import Version

    root = fit(tmp_path, mlist=("2",), slist=("3",))
    result = json.loads((root / "mlp_planted/aiht/hidden1/m2_s3_seed0/result.json").read_text())
    recorded = {name: Version(v).public for name, v in result["versions"].items()}  # torch adds +cu130
    assert recorded == {
        "torch": metadata.version("torch"),
        "numpy": metadata.version("numpy"),
        "pytorch_lightning": metadata.version("pytorch-lightning"),
    }  # no cupy: the draws were numpy's
    row = csv_rows(root / "results.csv")[0]
    assert "versions" not in row


def test_tensorboard_has_curves_recovery_and_hparams(tmp_path):
    root = fit(tmp_path, mlist=("3",), slist=("4",))
    folder = root / "mlp_planted/aiht/hidden1/m3_s4_seed0"
    acc = EventAccumulator(str(folder))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/psnr", "train/nnz", "train/step_size", "train/mse", "val/psnr"} <= tags
    assert {"recovery/rel_weight_error", "recovery/support_precision", "recovery/support_recall"} <= tags
    assert len(acc.Scalars("train/nnz")) == 3
    result = json.loads((folder / "result.json").read_text())
    assert acc.Scalars("hp_metric")[-1].value == pytest.approx(result["metric"], rel=1e-6)


def test_finished_points_are_kept(tmp_path):
    root = fit(tmp_path, mlist=("2",), slist=("3",))
    path = root / "mlp_planted/aiht/hidden1/m2_s3_seed0/result.json"
    first = json.loads(path.read_text())
    fit(tmp_path, mlist=("2",), slist=("3",))
    assert json.loads(path.read_text()) == first


def test_skipped_point_is_recorded(tmp_path):
    seed = next(q for q in range(50) if spec_planted(1, 1, q, 1, 1)[2][0] == 0)
    run_fit(
        [
            "fit",
            "--data",
            "datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=1",
            "--data.input_dim=1",
            "--trainer.max_epochs=1",
            f"--trainer.default_root_dir={tmp_path}",
            "--sweep.mlist",
            "1",
            "--sweep.slist",
            "1",
            "--sweep.seedlist",
            str(seed),
            str(seed + 100),
        ]
    )
    rows = csv_rows(tmp_path / "results.csv")
    assert rows[0]["status"] == "skipped" and float(rows[0]["metric"]) == 0.0
    assert len(rows) == 2


def test_diverging_point_is_recorded_and_grid_goes_on(tmp_path, monkeypatch):
    import callbacks.aiht.callback

    original = callbacks.aiht.callback.refine

    def diverge(a, b, w, mu, steps):
        w, mu, f = original(a, b, w, mu, steps)
        return w * (float("nan") if a.shape[1] == 3 else 1.0), mu, f

    monkeypatch.setattr(callbacks.aiht.callback, "refine", diverge)
    root = fit(tmp_path, mlist=("2", "5"), slist=("3", "4"))
    rows = {(r["m"], r["s"]): r for r in csv_rows(root / "results.csv")}
    assert rows[("2", "3")]["status"] == "diverged"  # non-finite iterates: the algorithm's outcome
    assert "not finite" in rows[("2", "3")]["error"] and rows[("2", "3")]["metric"] == ""
    assert rows[("5", "4")]["status"] == "done"


def test_imp_points_equal_the_callback_run_in_float32(tmp_path):
    root = fit(
        tmp_path, "--sweep.method", "imp", "--data.input_dim=6", mlist=("4",), slist=("5", "9"), n="64"
    )
    for s in (5, 9):
        result = json.loads((root / f"mlp_planted/imp/hidden1/m4_s{s}_seed0/result.json").read_text())
        _, model, _, imp = imp_run(m=4, d=6, n=64, s=s, epochs=3)
        assert result["precision"] == "32-true" and result["imp_prune_iters"] == 0.1
        assert result["metric"] == imp.results[s]["metric"]
        assert result["nnz"] == model.nnz() <= s


def test_one_imp_trajectory_serves_every_s_where_data_ignores_s(tmp_path):
    root = fit(
        tmp_path,
        "--sweep.method",
        "imp",
        "--data",
        "tests.helpers.FixedPlanted",
        "--data.input_dim=6",
        "--data.nmeasurements=64",
        mlist=("4",),
        slist=("3", "9", "20"),
        n="64",
    )
    folder = root / "mlp_planted/imp/hidden1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "m4_s20_seed0",
        "m4_s3_seed0",
        "m4_s9_seed0",
        "m4_seed0_trajectory",
    ]
    for s in (3, 9, 20):
        result = json.loads((folder / f"m4_s{s}_seed0/result.json").read_text())
        alone = imp_run(m=4, d=6, n=64, s=10, epochs=3, targets=[s])[3]
        assert result["metric"] == alone.results[s]["metric"]
        assert list((folder / f"m4_s{s}_seed0").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(folder / "m4_seed0_trajectory"))
    acc.Reload()
    assert {"imp/nnz", "imp/metric", "imp/metric_vs_nnz", "train/mse"} <= set(acc.Tags()["scalars"])
    steps = [e.step for e in acc.Scalars("imp/metric_vs_nnz")]
    assert steps == [h["nnz"] for h in imp_run(m=4, d=6, n=64, s=10, epochs=3, targets=[3])[3].history]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sweep.method", "imp", "--imp.prune_iters=1"], "imp.prune_iters"),
        (["--sweep.slist", "0"], "sweep.slist"),
        (["--sweep.mlist", "0"], "sweep.mlist"),
        (["--sweep.method", "nope"], "sweep.method"),
        (["--data.batch_size=-3"], "data.batch_size"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        fit(tmp_path, *extra)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trainer.max_epocs=3"], "max_epocs"),
        (["--data.foo=3"], "foo"),
        (["--data", "datamodules.nope.Task"], "datamodules.nope.Task"),
    ],
)
def test_unknown_keys_and_tasks_stop_with_their_name(tmp_path, args, message):
    cmd = [sys.executable, "cli.py", "fit", "--data", "datamodules.planted.PlantedMLPDataModule", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode != 0
    assert message in done.stderr


class PlainData(LightningDataModule):
    """A datamodule without the task contract."""


def test_a_datamodule_without_the_task_contract_is_refused(tmp_path):
    with pytest.raises(ValueError, match="TaskDataModule"):
        run_fit(
            [
                "fit",
                "--data=tests.test_cli.PlainData",
                f"--trainer.default_root_dir={tmp_path}",
                "--sweep.mlist",
                "2",
                "--sweep.slist",
                "3",
            ]
        )


def plan_of(tmp_path: Path, *extra: str):
    return SweepCLI(
        [
            "--data=datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=40",
            "--data.input_dim=4",
            f"--trainer.default_root_dir={tmp_path}",
            "--sweep.method",
            "aiht",
            "imp",
            "--sweep.mlist",
            "3",
            "--sweep.slist",
            "5",
            "--sweep.seedlist",
            "2",
            *extra,
        ]
    ).plan


@pytest.mark.parametrize(
    ("extra", "gate_seed"),
    [
        (["--data.batch_size=10"], 0),  # the paper's minibatch path: seed 0 whatever the run's
        (["--data.batch_size=10", "--sweep.gate_seed=run"], 2),
        ([], 2),  # full batch: the run's seed
    ],
)
def test_minibatch_aiht_on_planted_data_draws_its_gates_as_the_paper(tmp_path, extra, gate_seed):
    plan = plan_of(tmp_path, *extra)
    aiht = next(p for p in plan.points if p.method == "aiht")
    model = plan.objects(aiht).model
    assert torch.equal(model.gates, torch.from_numpy(spec_gates(3, 4, gate_seed)))
    imp = next(p for p in plan.points if p.method == "imp")
    assert plan.objects(imp).model.network == "relu"
