"""No wrong number saved as a result (issue 15): one test per row of the issue's table, the
sweep's exit status, divergence in tables and heatmaps, and which settings are a point's identity."""

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from lightning_app.cli import SweepCLI, main
from lightning_app.plan.checks import check_accelerator
from lightning_app.plan.errors import SettingsError
from lightning_app.report.events import read_event_file
from lightning_app.report.heatmaps import save_heatmap
from lightning_app.report.tables import build_table
from lightning_app.run.point_run import PointRunner
from tests.helpers import run_fit
from tests.result_helpers import csv_rows
from tests.robust_helpers import ROOT, damage, fit_command, session_processes

BASE = [
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=60",
    "--data.input_dim=5",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
]
GRID = ["--sweep.mlist", "2", "3", "--sweep.slist", "3", "--sweep.seedlist", "0"]


def plan_of(*extra: str):
    return SweepCLI([*BASE, *GRID, *extra]).plan


def sweep(root: Path, *extra: str) -> list[dict]:
    return run_fit(["fit", *BASE, *GRID, f"--trainer.default_root_dir={root}", *extra])


def strict_json(path: Path) -> dict:
    def refuse(name):
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def metrics(root: Path) -> dict[tuple, str]:
    return {(r["method"], r["m"], r["s"], r["seed"]): r["metric"] for r in csv_rows(root / "results.csv")}


# Rows 1, 2 and 9 (and 16-mixed of row 8): precisions the algorithms cannot use.
@pytest.mark.parametrize(
    "extra, setting, instead",
    [
        (["--trainer.precision=16-true"], "trainer.precision=16-true", "64-true"),
        (["--trainer.precision=16-true", "--data.output_dim=10"], "trainer.precision=16-true", "64-true"),
        (["--trainer.precision=16-mixed"], "trainer.precision=16-mixed", "64-true"),
        (["--sweep.method=imp", "--sweep.imp_precision=16-true"], "sweep.imp_precision=16-true", "32-true"),
    ],
)
def test_precisions_the_algorithms_cannot_use_are_refused(extra, setting, instead):
    with pytest.raises(SettingsError) as refused:
        plan_of(*extra)
    assert setting in str(refused.value) and f"--{setting.split('=')[0]} {instead}" in str(refused.value)


@pytest.mark.parametrize(
    "extra", [["--trainer.precision=64"], ["--trainer.precision=32-true"], ["--sweep.method=imp"]]
)
def test_the_precisions_that_work_are_accepted(extra):
    assert len(plan_of(*extra).points) == 2


# Row 2: a metric that is not finite (PSNR −inf) is never done, and result.json stays JSON.
def test_a_metric_that_is_not_finite_is_never_done(tmp_path, monkeypatch):
    import lightning_app.run.point_run

    original = lightning_app.run.point_run.aiht_result

    def minus_inf(run, fit_s):
        fields = original(run, fit_s)
        return {**fields, "metric": -math.inf if run.model.width == 2 else fields["metric"]}

    monkeypatch.setattr(lightning_app.run.point_run, "aiht_result", minus_inf)
    results = sweep(tmp_path)
    assert [r["status"] for r in results] == ["failed", "done"]
    assert "-inf" in results[0]["error"] and "not a finite number" in results[0]["error"]
    for m in (2, 3):
        strict_json(tmp_path / f"mlp_planted/aiht/hidden1/m{m}_s3_seed0/result.json")
    rows = csv_rows(tmp_path / "results.csv")
    assert [r["metric"] for r in rows][0] == "" and "inf" not in rows[1]["metric"]


# Rows 3 and 4: too few epochs.
@pytest.mark.parametrize("epochs", ["-1", "0"])
def test_max_epochs_below_one_is_refused(epochs):
    with pytest.raises(SettingsError, match=f"trainer.max_epochs={epochs}: a point must train"):
        plan_of(f"--trainer.max_epochs={epochs}")


# Row 5: another data setting in a finished folder.
def test_a_rerun_with_another_data_setting_stops_naming_it(tmp_path):
    sweep(tmp_path)
    config = (tmp_path / "config.yaml").read_text()
    before = {p: p.read_text() for p in tmp_path.rglob("result.json")}
    with pytest.raises(SettingsError) as refused:
        sweep(tmp_path, "--data.nmeasurements=70", "--aiht.refine_steps=3")
    message = str(refused.value)
    assert "2 finished point(s)" in message
    assert "data.nmeasurements: 60 → 70" in message and "aiht.refine_steps: 10 → 3" in message
    assert (tmp_path / "config.yaml").read_text() == config
    assert {p: p.read_text() for p in tmp_path.rglob("result.json")} == before
    # where and how points run is not their identity: such a rerun keeps every point
    kept = sweep(tmp_path, "--trainer.log_every_n_steps=7", "--trainer.accelerator=cpu", "--sweep.workers=1")
    assert {p: p.read_text() for p in tmp_path.rglob("result.json")} == before
    assert all(r["status"] == "done" for r in kept)


def test_results_csv_has_the_settings_that_vary_between_panels(tmp_path):
    panels = json.dumps(
        [
            {"method": "aiht", "mlist": [2], "slist": [3]},
            {
                "method": "aiht",
                "mlist": [2],
                "slist": [4],
                "overrides": {"data": {"init_args": {"nmeasurements": 70}}},
            },
        ]
    )
    run_fit(["fit", *BASE, f"--trainer.default_root_dir={tmp_path}", f"--sweep.panels={panels}"])
    rows = csv_rows(tmp_path / "results.csv")
    assert [(r["s"], r["data.nmeasurements"]) for r in rows] == [("3", "60"), ("4", "70")]
    assert "data.input_dim" not in rows[0]  # the same in both panels


# Row 6: a damaged result.json.
@pytest.mark.parametrize("overwrite", [False, True])
def test_damaged_results_are_named_set_aside_and_run_again(tmp_path, caplog, overwrite):
    clean = tmp_path / "clean"
    sweep(clean, "--sweep.slist", "3", "4")
    root = tmp_path / "damaged"
    sweep(root, "--sweep.slist", "3", "4")
    damaged = {}
    for (m, s), how in {(2, 3): "truncated", (2, 4): "random bytes", (3, 3): "a list"}.items():
        path = root / f"mlp_planted/aiht/hidden1/m{m}_s{s}_seed0/result.json"
        damaged[path] = damage(path, how)
    extra = ["--sweep.overwrite=true"] if overwrite else []
    results = sweep(root, "--sweep.slist", "3", "4", *extra)
    assert [r["status"] for r in results] == ["done"] * 4
    assert metrics(root) == metrics(clean)
    for path, data in damaged.items():
        strict_json(path)
        aside = list(path.parent.glob("result.json.damaged-*"))
        if overwrite:
            assert aside == [] and str(path) not in caplog.text
        else:
            assert [a.read_bytes() for a in aside] == [data]
            assert f"{path} is damaged" in caplog.text and aside[0].name in caplog.text


# Row 7: SIGKILL of a sweep with worker processes.
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two workers need two CPU cores")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_workers_end_when_their_sweep_is_killed(tmp_path):
    command = fit_command(
        tmp_path, "--sweep.workers=2", "--sweep.mlist", "2", "3", "4", "5", "--sweep.slist", "3", "4"
    )
    sweep_process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    session = sweep_process.pid
    try:
        deadline = time.monotonic() + 240
        while not list(tmp_path.rglob("result.json")) and sweep_process.poll() is None:
            assert time.monotonic() < deadline, "no point finished"
            time.sleep(0.2)
        assert sweep_process.poll() is None, "the sweep ended before it could be killed"
        assert len(session_processes(session)) >= 3  # the sweep and its two workers
        sweep_process.send_signal(signal.SIGKILL)
        sweep_process.wait()
        deadline = time.monotonic() + 10
        while session_processes(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_processes(session) == []
    finally:
        for pid in session_processes(session):
            subprocess.run(["kill", "-9", str(pid)], check=False)


# Row 8: an accelerator that is not there.
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_gpu_sweep_without_a_gpu_is_refused(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(PointRunner, "run_job", lambda self, points: calls.append(points))
    with pytest.raises(SettingsError, match="trainer.accelerator=gpu: there is no CUDA GPU here"):
        sweep(tmp_path, "--trainer.accelerator=gpu", "--trainer.devices=1")
    assert calls == [] and not list(tmp_path.rglob("result.json"))


@pytest.mark.parametrize(
    "accelerator, devices, gpus, expected",
    [
        ("cpu", "auto", 0, None),
        ("auto", "auto", 0, None),
        ("auto", "auto", 2, [0, 1]),
        ("gpu", 1, 4, [0]),
        ("gpu", "0,2", 4, [0, 2]),
        ("cuda", [3], 4, [3]),
        ("gpu", -1, 3, [0, 1, 2]),
        ("gpu", 1, 0, "no CUDA GPU here"),
        ("gpu", 3, 2, "there are 2 GPU(s) here"),
        ("gpu", "0,2", 2, "there are 2 GPU(s) here"),
        ("gpu", "0,0", 2, [0, 0]),  # two workers on GPU 0
        ("gpu", 0, 2, "there are 2 GPU(s) here"),
        ("cpu", 2, 0, "--sweep.workers N"),
        ("tpu", 1, 0, "CPU or on CUDA GPUs"),
    ],
)
def test_accelerators_are_checked_against_the_gpus_a_launcher_has(accelerator, devices, gpus, expected):
    if isinstance(expected, str):
        with pytest.raises(SettingsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            check_accelerator(accelerator, devices, gpus)
    else:
        assert check_accelerator(accelerator, devices, gpus) == expected


# Row 10: a damaged events file.
def test_heatmap_names_a_damaged_events_file(tmp_path, capsys):
    sweep(tmp_path)
    folder = tmp_path / "mlp_planted/aiht/hidden1/m2_s3_seed0"
    hparams_file = next(p for p in folder.glob("events.out.tfevents.*") if read_event_file(p))
    data = hparams_file.read_bytes()
    hparams_file.write_bytes(data[: len(data) // 2])
    main(["heatmap", "--logdir", str(tmp_path), "--out", str(tmp_path / "out"), "--no-tensorboard"])
    err = capsys.readouterr().err
    assert f"damaged events file {hparams_file}: its records stop at byte" in err
    rows = csv_rows(tmp_path / "out/results.csv")
    assert [r["m"] for r in rows] == ["3"]  # the other point is read as usual


# Issue item 6: the exit status, through the command line.
def test_exit_status_is_one_only_when_a_point_failed(tmp_path):
    data = "--data=tests.robust_helpers.ScriptedPlanted"
    first = subprocess.run(
        [*fit_command(tmp_path, data, "--sweep.mlist", "2", "4", "5", "--sweep.slist", "3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert first.returncode == 0, first.stderr
    assert "sweep: 3 points: 1 done, 1 diverged, 1 skipped, 0 failed" in first.stderr
    diverged = tmp_path / "mlp_planted/aiht/hidden1/m2_s3_seed0/result.json"
    kept = diverged.read_text()
    assert strict_json(diverged)["status"] == "diverged" and strict_json(diverged)["metric"] is None
    second = subprocess.run(
        [*fit_command(tmp_path, data, "--sweep.mlist", "2", "3", "4", "5", "--sweep.slist", "3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 1
    assert "sweep: 4 points: 1 done, 1 diverged, 1 skipped, 1 failed" in second.stderr
    assert (
        "mlp_planted/aiht/hidden1/m3_s3_seed0: RuntimeError: scripted failure of the m=3 point"
        in second.stderr
    )
    assert "Traceback" in second.stderr  # the failure's traceback is logged when it happens
    assert diverged.read_text() == kept  # a diverged point is an outcome: kept, not run again


def test_diverged_points_are_nan_in_tables_and_hatched_in_heatmaps(tmp_path):
    common = dict(task="mlp_planted", method="aiht", num_layers=1, s=3, seed=0, epochs=2, batch_size=0)
    common["metric_name"] = "psnr"
    done = dict(common, m=2, status="done", metric=20.0)
    for status in ("diverged", "failed"):
        other = dict(common, m=3, status=status, metric=None)
        table = build_table([done, other])
        assert table.values[0, 0, 0] == 20.0 and np.isnan(table.values[1, 0, 0])
        assert table.diverged[:, 0, 0].tolist() == [False, status == "diverged"]
        save_heatmap(table, tmp_path / f"{status}.png")
    hatched, blank = (matplotlib.image.imread(tmp_path / f"{s}.png") for s in ("diverged", "failed"))
    assert hatched.shape == blank.shape and not np.array_equal(hatched, blank)
