"""Sweeps: panels, resuming after an interruption, workers, unavailable panels, changed settings."""

import json
import os
from pathlib import Path

import pytest

from lightning_app.cli import SweepCLI
from lightning_app.run.point_run import PointRunner
from tests.helpers import run_fit
from tests.result_helpers import csv_rows

GRID = ["--sweep.mlist", "2", "5", "--sweep.slist", "3", "40", "--sweep.seedlist", "0", "1"]


def sweep(root: Path, *extra: str) -> None:
    run_fit(
        [
            "fit",
            "--data",
            "datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=300",
            "--data.input_dim=8",
            "--trainer.max_epochs=3",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            *GRID,
            *extra,
        ]
    )


def table(root: Path) -> dict[tuple, float]:
    return {
        (r["method"], r["m"], r["s"], r["seed"]): float(r["metric"]) for r in csv_rows(root / "results.csv")
    }


def count_jobs(monkeypatch, stop_after: int | None = None) -> list:
    calls = []
    original = PointRunner.run_job

    def run_job(self, points):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(points)
        return original(self, points)

    monkeypatch.setattr(PointRunner, "run_job", run_job)
    return calls


def test_interrupted_sweep_runs_only_the_missing_points(tmp_path, monkeypatch):
    sweep(tmp_path / "clean")
    calls = count_jobs(monkeypatch, stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path / "resumed")
    assert len(list((tmp_path / "resumed").rglob("result.json"))) == 3
    calls.clear()
    monkeypatch.undo()
    calls = count_jobs(monkeypatch)
    sweep(tmp_path / "resumed")
    assert len(calls) == 8 - 3
    assert table(tmp_path / "resumed") == table(tmp_path / "clean")
    assert len(table(tmp_path / "clean")) == 8


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two workers need two CPU cores")
def test_two_cpu_workers_give_the_results_of_one(tmp_path):
    sweep(tmp_path / "one", "--sweep.method", "aiht", "imp")
    sweep(tmp_path / "two", "--sweep.method", "aiht", "imp", "--sweep.workers=2")
    one, two = table(tmp_path / "one"), table(tmp_path / "two")
    assert len(one) == 16 and set(two) == set(one)
    for key, value in one.items():  # one BLAS thread per worker sums in another order: float noise only
        assert two[key] == pytest.approx(value, rel=1e-9)


def test_unavailable_panel_is_reported_and_the_others_run(tmp_path, caplog):
    panels = json.dumps(
        [
            {"method": "aiht", "num_layers": 1, "mlist": [2], "slist": [3]},
            {
                "method": "imp",
                "num_layers": 1,
                "mlist": [2],
                "slist": [3],
                "overrides": {"data": "datamodules.nope.Task"},
            },
        ]
    )
    sweep(tmp_path, f"--sweep.panels={panels}", "--sweep.mlist", "2", "--sweep.slist", "3", "40")
    assert "panel imp/hidden1: not available yet" in caplog.text and "datamodules.nope.Task" in caplog.text
    rows = csv_rows(tmp_path / "results.csv")
    assert {(r["method"], r["num_layers"], r["status"]) for r in rows} == {("aiht", "1", "done")}
    assert len(rows) == 4


def test_two_hidden_layer_panels_follow_the_papers_skip_rule(tmp_path):
    sweep(tmp_path, "--sweep.method", "aiht", "imp", "--sweep.num_layers", "2")
    rows = csv_rows(tmp_path / "results.csv")
    assert len(rows) == 16
    for r in rows:
        if int(r["m"]) ** 2 < int(r["s"]) // 2:  # the paper's skip rule for deeper planted networks
            assert r["status"] == "skipped" and "more than dense" in r["error"]
        assert r["status"] == "done" or (r["status"] == "skipped" and float(r["metric"]) == 0)
    assert {r["status"] for r in rows} == {"done", "skipped"}


def test_panels_with_their_own_grids_and_overrides(tmp_path):
    panels = json.dumps(
        [
            {"method": "aiht", "num_layers": 1, "mlist": [2], "slist": [3, 4]},
            {
                "method": "imp",
                "num_layers": 1,
                "mlist": [3],
                "slist": [5],
                "overrides": {"trainer": {"max_epochs": 2}},
            },
        ]
    )
    run_fit(
        [
            "fit",
            "--data=datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=100",
            "--data.input_dim=8",
            "--trainer.max_epochs=3",
            f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false",
            f"--sweep.panels={panels}",
        ]
    )
    rows = {(r["method"], r["m"], r["s"]): r for r in csv_rows(tmp_path / "results.csv")}
    assert set(rows) == {("aiht", "2", "3"), ("aiht", "2", "4"), ("imp", "3", "5")}
    assert rows[("aiht", "2", "3")]["epochs"] == "3" and rows[("imp", "3", "5")]["epochs"] == "2"
    assert rows[("aiht", "2", "3")]["updates"] == "3"


def test_done_points_with_other_settings_stop_the_sweep(tmp_path):
    sweep(tmp_path, "--sweep.method", "aiht")
    with pytest.raises(ValueError, match="trainer.max_epochs: 3 → 4"):
        sweep(tmp_path, "--sweep.method", "aiht", "--trainer.max_epochs=4")
    sweep(tmp_path, "--sweep.method", "aiht", "--trainer.max_epochs=4", "--sweep.overwrite=true")
    rows = csv_rows(tmp_path / "results.csv")
    assert {r["epochs"] for r in rows} == {"4"}


PAPER_GRIDS = {  # figure: [(method, layers, len(mlist), len(slist))], from the paper's README commands
    1: [("aiht", 1, 10, 10), ("imp", 1, 10, 10), ("aiht", 2, 9, 7), ("imp", 2, 9, 7)],
    2: [("aiht", 1, 10, 10), ("imp", 1, 10, 10), ("aiht", 2, 9, 7), ("imp", 2, 9, 7)],
    3: [("aiht", 1, 10, 8), ("imp", 1, 10, 8), ("aiht", 1, 7, 5), ("imp", 1, 7, 5)],
    4: [("aiht", 1, 7, 9), ("imp", 1, 7, 9), ("aiht", 2, 7, 9), ("imp", 2, 7, 9)],
    5: [("aiht", 1, 8, 9), ("imp", 1, 8, 9), ("aiht", 2, 8, 9), ("imp", 2, 8, 9)],
}


@pytest.mark.parametrize("figure", sorted(PAPER_GRIDS))
def test_figure_configs_hold_the_papers_panels(figure):
    plan = SweepCLI(["--config", f"configs/figure{figure}.yaml"]).plan
    panels = plan.available + [p for p, _ in plan.unavailable]
    got = sorted((p.method, p.num_layers, len(p.mlist), len(p.slist)) for p in panels)
    assert got == sorted(PAPER_GRIDS[figure])
    assert plan.config.sweep.seedlist == [0, 1, 2]
    expected_points = sum(
        m * s * 3
        for method, layers, m, s in PAPER_GRIDS[figure]
        if (method, layers) in {(p.method, p.num_layers) for p in plan.available}
    )
    assert len(plan.points) <= expected_points
