"""The folder's outputs cover every finished point under it: AIHT then IMP into one folder give
one results.csv, one set of tables and a figure with both methods; foreign files are left out."""

import json

import numpy as np
import pytest

from lightning_app.report.figures import TABLES_DIR
from lightning_app.run.point_run import PointRunner
from lightning_app.store.folder_results import folder_results, with_folder_results
from tests.helpers import run_fit
from tests.result_helpers import csv_rows, point


def sweep(root, method: str) -> None:
    run_fit(
        [
            "fit",
            "--data=datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=200",
            "--data.input_dim=6",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            "--sweep.mlist",
            "2",
            "--sweep.slist",
            "3",
            "6",
            f"--sweep.method={method}",
        ]
    )


def test_aiht_then_imp_into_one_folder_gives_one_set_of_outputs(tmp_path, monkeypatch):
    sweep(tmp_path, "aiht")
    aiht_rows = {(r["m"], r["s"]): r["metric"] for r in csv_rows(tmp_path / "results.csv")}
    original, calls = PointRunner.run_job, []

    def stop_at_the_second(self, job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, job)

    monkeypatch.setattr(PointRunner, "run_job", stop_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, "imp")
    during = sorted((r["method"], r["s"]) for r in csv_rows(tmp_path / "results.csv"))
    assert during == [("aiht", "3"), ("aiht", "6"), ("imp", "3")]  # kept while the IMP sweep runs
    monkeypatch.undo()
    sweep(tmp_path, "imp")
    rows = csv_rows(tmp_path / "results.csv")
    assert sorted((r["method"], r["m"], r["s"]) for r in rows) == [
        ("aiht", "2", "3"),
        ("aiht", "2", "6"),
        ("imp", "2", "3"),
        ("imp", "2", "6"),
    ]
    assert {(r["m"], r["s"]): r["metric"] for r in rows if r["method"] == "aiht"} == aiht_rows
    npys = sorted((tmp_path / TABLES_DIR).rglob("*.npy"))
    assert [p.relative_to(tmp_path / TABLES_DIR).parts[:2] for p in npys] == [
        ("MLP_PLANTED", "aiht"),
        ("MLP_PLANTED", "pruning"),
    ]
    by_s = sorted(rows, key=lambda r: int(r["s"]))
    for path, method in zip(npys, ("aiht", "imp"), strict=True):
        expected = [float(r["metric"]) for r in by_s if r["method"] == method]
        assert np.load(path)[0, :, 0].tolist() == expected
    summary = (tmp_path / "summary.md").read_text()
    assert "4 grid points: 4 done" in summary and "aiht" in summary and "imp" in summary
    assert (tmp_path / "figure_mlp_planted.png").is_file() and (tmp_path / "figure_mlp_planted.pdf").is_file()
    assert not list(tmp_path.rglob("hparams.yaml"))  # no empty hparams.yaml in point folders


def test_unreadable_and_foreign_result_files_are_left_out_with_a_warning(tmp_path):
    good = point("aiht", m=2, s=3, metric=4.5)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "result.json").write_text(json.dumps(good))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "result.json").write_text("{not json")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "result.json").write_text(json.dumps({"status": "done", "metric": 1.0}))
    warnings: list[str] = []
    assert folder_results(tmp_path, warnings.append) == {"a": good}
    assert len(warnings) == 2 and "b/result.json" in warnings[0] and "c/result.json" in warnings[1]
    newer = {**good, "metric": 9.0}
    merged = with_folder_results(tmp_path, [("a", newer), ("d", point("imp"))], warnings.append)
    assert [r["metric"] for r in merged] == [9.0, 1.0]
