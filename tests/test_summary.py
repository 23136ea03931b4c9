"""``summary.md``: the counts a sweep printed, any status counted, the best and worst cells (by
numpy over the ``.npy`` tables) and the figures linked."""

import logging
import re
import warnings
from collections import Counter
from urllib.parse import unquote

import numpy as np

from datamodules.task import SkipPoint
from lightning_app.report.figures import export_figures
from lightning_app.report.tables import build_tables
from lightning_app.run.point_run import PointRunner
from tests.helpers import run_fit
from tests.result_helpers import point


def listed_counts(summary: str) -> dict[str, int]:
    line = re.search(r"^(\d+) grid points: (.*)\.$", summary, re.MULTILINE)
    counts = {status: int(n) for n, status in re.findall(r"(\d+) (\w+)", line.group(2))}
    assert sum(counts.values()) == int(line.group(1))
    return counts


def test_summary_lists_the_counts_the_sweep_printed(tmp_path, monkeypatch, caplog):
    original = PointRunner.run_job

    def run_job(self, points):
        if (points[0].m, points[0].s) == (2, 3):
            raise SkipPoint("labels all zero")
        if (points[0].m, points[0].s) == (5, 3):
            raise RuntimeError("out of memory")
        if (points[0].m, points[0].s, points[0].seed) == (5, 4, 1):
            raise FloatingPointError("the weights are not finite")
        return original(self, points)

    monkeypatch.setattr(PointRunner, "run_job", run_job)
    with caplog.at_level(logging.WARNING, logger="lightning_app"):
        run_fit(
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
                "--sweep.mlist",
                "2",
                "5",
                "--sweep.slist",
                "3",
                "4",
                "--sweep.seedlist",
                "0",
                "1",
            ]
        )
    lines = [re.match(r"^mlp_planted/\S+: (\w+) ", r.getMessage()) for r in caplog.records]
    printed = Counter(line.group(1) for line in lines if line)
    assert printed == {"done": 3, "diverged": 1, "failed": 2, "skipped": 2}
    summary = (tmp_path / "summary.md").read_text()
    assert listed_counts(summary) == printed
    row = "| MLP_PLANTED aiht, 1 hidden, full batch, 2 epochs | [2, 5] | [3, 4] | [0, 1] | 3 | 1 | 2 | 2 |"
    assert row in summary
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", summary):  # every figure is there, linked relatively
        assert (tmp_path / unquote(link)).is_file()
    assert len(re.findall(r"!\[", summary)) == 2 + 2 + 1  # mean and std heatmaps, figure, std figure, curves


def test_any_status_is_counted_and_best_and_worst_cells_follow_numpy(tmp_path):
    rng = np.random.RandomState(3)
    results = [
        point("aiht", m, s, q, metric=float(rng.normal(20, 5)))
        for m in (1, 2)
        for s in (10, 20, 50)
        for q in (0, 1)
    ]
    results[0] = dict(results[0], status="diverged", metric=None)
    results += [
        point("aiht", m, s, q, metric=float(rng.uniform()), task="gaussian_sparse", metric_name="rel_error")
        for m in (100, 200)
        for s in (5, 10)
        for q in (0, 1)
    ]
    export_figures(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert listed_counts(summary) == {"done": len(results) - 1, "failed": 0, "skipped": 0, "diverged": 1}
    assert "| done | diverged | failed | skipped |" in summary
    for table in build_tables(results):
        values = np.load(tmp_path / "tables" / table.relative_path())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            mean = np.nanmean(values, axis=2)
        high = np.unravel_index(np.nanargmax(mean), mean.shape)
        low = np.unravel_index(np.nanargmin(mean), mean.shape)
        best, worst = (low, high) if table.metric_name == "rel_error" else (high, low)
        section = summary.split(f"## {table.panel.title}\n")[1].split("\n## ")[0]
        for name, (i, j) in (("best", best), ("worst", worst)):
            m, s = table.mlist[i], table.slist[j]
            assert f"- {name}: m={m}, s={s}: {table.metric_name} {mean[i, j]:.4g} " in section
