"""Outputs of a grid (docs/algorithms.md: the grid): the paper's .npy tables, heatmaps, task figures,
TensorBoard images, and ``cli.py heatmap --logdir`` rebuilding them from event files alone."""

import json
import shutil
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import cli
from lightning_app.report.events import results_from_events
from lightning_app.report.figures import export_figures, heatmap_main
from lightning_app.report.heatmaps import HEATMAP_PIXELS, figure_pixels
from lightning_app.report.tables import build_table, build_tables
from lightning_app.report.task_figure import DIFFERENCE_PREFIX, difference, save_task_figure
from tests.helpers import run_fit
from tests.result_helpers import (
    AIHT_NAME,
    IMP_NAME,
    SEEDS,
    csv_rows,
    handmade_grid,
    log_point,
    point,
    point_folder,
)


def npy_tables(out: Path) -> dict[str, np.ndarray]:
    tables = out / "tables"
    return {p.relative_to(tables).as_posix(): np.load(p) for p in sorted(tables.rglob("*.npy"))}


def same_tables(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A real AIHT + IMP sweep on tiny planted data: its root and its result.json contents."""
    root = tmp_path_factory.mktemp("sweep")
    run_fit(
        [
            "fit",
            "--data",
            "datamodules.planted.PlantedMLPDataModule",
            "--data.nmeasurements=64",
            "--data.input_dim=4",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_checkpointing=false",
            "--sweep.method",
            "aiht",
            "imp",
            "--sweep.mlist",
            "2",
            "3",
            "--sweep.slist",
            "3",
            "5",
            "--sweep.seedlist",
            "0",
            "1",
        ]
    )
    results = [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]
    assert len(results) == 16 and all(r["status"] == "done" for r in results)
    return root, results


def test_npy_has_the_papers_name_shape_and_values(tmp_path):
    aiht, expected = handmade_grid("aiht")
    imp, expected_imp = handmade_grid("imp", offset=0.5)
    export_figures(aiht + imp, tmp_path)
    tables = npy_tables(tmp_path)
    assert sorted(tables) == [AIHT_NAME, IMP_NAME]
    for name, want in ((AIHT_NAME, expected), (IMP_NAME, expected_imp)):
        assert tables[name].dtype == np.float64 and tables[name].shape == (3, 2, 2)
        assert np.array_equal(tables[name], want, equal_nan=True)
    assert tables[AIHT_NAME][1, 0, 1] == 0.0  # skipped
    assert np.isnan(tables[AIHT_NAME][2, 1]).all()  # failed and missing
    assert (tmp_path / "tables" / AIHT_NAME).with_suffix(".png").exists()
    rows = csv_rows(tmp_path / "results.csv")
    assert len(rows) == len(aiht + imp) and {r["status"] for r in rows} == {"done", "skipped", "failed"}


def test_flags_and_given_axes_enter_the_name_and_shape():
    results = [point(m=2, s=10, seed=3, convex=True, bias=True, batch_size=1000, epochs=100, metric=7.0)]
    table = build_table(results, mlist=[1, 2, 5], slist=[10], seeds=[3, 4])
    assert table.relative_path("run1").as_posix() == (
        "MLP_PLANTED/aiht/hidden1_m[1, 2, 5]_s[10]_seed[3, 4]_convexTrue_bs1000_biasTrue_100epochs_run1.npy"
    )
    assert table.values.shape == (3, 1, 2)
    assert table.values[1, 0, 0] == 7.0 and np.isnan(table.values).sum() == 5
    assert [t.panel.convex for t in build_tables(results + [point(m=2, s=10, seed=3)])] == [False, True]


def test_real_sweep_tables_hold_the_result_json_metrics(sweep, tmp_path):
    root, results = sweep
    export_figures(results, tmp_path)
    grid = "hidden1_m[2, 3]_s[3, 5]_seed[0, 1]_convexFalse_bs0_biasFalse_2epochs_.npy"
    tables = npy_tables(tmp_path)
    assert sorted(tables) == [f"MLP_PLANTED/aiht/{grid}", f"MLP_PLANTED/pruning/{grid}"]
    for r in results:
        method = "pruning" if r["method"] == "imp" else "aiht"
        at = ([2, 3].index(r["m"]), [3, 5].index(r["s"]), r["seed"])
        assert tables[f"MLP_PLANTED/{method}/{grid}"][at] == r["metric"]


def test_heatmap_and_figure_pngs_have_fixed_sizes(tmp_path):
    aiht, _ = handmade_grid("aiht")
    written = export_figures(aiht, tmp_path)
    heatmap = next(p for p in written if p.suffix == ".png" and p.parent.name == "aiht")
    assert HEATMAP_PIXELS == (640, 480)
    assert matplotlib.image.imread(heatmap).shape[:2] == (480, 640)
    figure = tmp_path / "figure_mlp_planted.png"
    assert figure in written
    assert matplotlib.image.imread(figure).shape[:2] == (360, 440) == figure_pixels(1, 1)[::-1]


def test_difference_panel_only_where_both_methods_exist(tmp_path):
    aiht, _ = handmade_grid("aiht")
    imp = [point("imp", m, s, seed, metric=1.0) for m in (2, 5, 7) for s in (20, 30) for seed in SEEDS]
    deeper = [point(m=2, s=10, num_layers=2, metric=3.0)]
    tables = build_tables(aiht + imp + deeper)
    drawn = save_task_figure(tables, tmp_path / "both.png")
    assert drawn.titles == ["AIHT", "IMP", DIFFERENCE_PREFIX, "AIHT"]  # rows: 1 then 2 hidden layers
    assert matplotlib.image.imread(tmp_path / "both.png").shape[:2] == figure_pixels(2, 3)[::-1]
    only_aiht = build_tables(aiht)
    assert save_task_figure(only_aiht, tmp_path / "a.png").titles == ["AIHT"]
    by_method = {(t.panel.method, t.panel.num_layers): t for t in tables}
    grid, mlist, slist = difference(by_method["aiht", 1], by_method["imp", 1])  # on the m and s both share
    assert (mlist, slist) == ([2, 5], [20])
    # exact: quarter-integer metrics, so every sum, mean and difference here is exact
    assert np.array_equal(grid, [[(110.25 + 111.25) / 2 - 1.0], [np.nan]], equal_nan=True)


def test_images_go_to_tensorboard(tmp_path):
    aiht, _ = handmade_grid("aiht")
    imp, _ = handmade_grid("imp")
    export_figures(aiht + imp, tmp_path / "out", tb_log_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["images"])
    assert "figure_mlp_planted" in tags
    assert f"tables/{AIHT_NAME[:-4]}" in tags and f"tables/{IMP_NAME[:-4]}" in tags
    image = acc.Images("figure_mlp_planted")[-1]
    assert (image.width, image.height) == figure_pixels(1, 3)


def test_heatmap_logdir_rebuilds_a_real_sweeps_tables_from_events(sweep, tmp_path):
    root, results = sweep
    export_figures(results, tmp_path / "from_json")
    for r in root.rglob("result.json"):
        r.rename(r.with_name("result.json.hidden"))  # events alone
    try:
        heatmap_main(["--logdir", str(root), "--out", str(tmp_path / "from_events")])
    finally:
        for r in root.rglob("result.json.hidden"):
            r.rename(r.with_name("result.json"))
    from_json, from_events = npy_tables(tmp_path / "from_json"), npy_tables(tmp_path / "from_events")
    assert from_json.keys() == from_events.keys() and len(from_json) == 2
    for name in from_json:  # the sweep logs the exact metric among the hparams
        assert np.array_equal(from_events[name], from_json[name], equal_nan=True)
    assert (tmp_path / "from_events/figure_mlp_planted.png").exists()
    assert len(list((tmp_path / "from_events/figures").glob("events.out.tfevents.*"))) == 1


def test_heatmap_logdir_merges_two_machines_logs_exactly(tmp_path, capsys, monkeypatch):
    aiht, _ = handmade_grid("aiht")
    imp, _ = handmade_grid("imp", offset=0.5)
    results = aiht + imp
    export_figures(results, tmp_path / "expected")
    machines = tmp_path / "machine_a", tmp_path / "machine_b"
    stale = dict(results[0], metric=-99.0)
    log_point(point_folder(machines[1], stale), stale)  # an older copy, on the other machine
    for n, r in enumerate(results):
        log_point(point_folder(machines[n % 2], r), r)
    TensorBoardLogger(save_dir=str(machines[0] / "curves"), name="", version="").log_metrics({"x": 1.0}, 0)
    merged = tmp_path / "merged"
    for machine in machines:
        shutil.copytree(machine, merged / machine.name)

    rebuilt = results_from_events(merged)
    assert len(rebuilt) == len(results)
    original = {(r["method"], r["m"], r["s"], r["seed"]): r for r in results}
    for r in rebuilt:  # every field as logged, types included (ints, bools, None)
        assert r == original[(r["method"], r["m"], r["s"], r["seed"])]
    assert isinstance(rebuilt[0]["m"], int) and rebuilt[0]["convex"] is False

    monkeypatch.setattr(sys, "argv", ["cli.py", "heatmap", "--logdir", str(merged)])
    cli.main()
    assert "wrote" in capsys.readouterr().out
    assert same_tables(npy_tables(merged), npy_tables(tmp_path / "expected"))
    assert len(csv_rows(merged / "results.csv")) == len(results)


def test_heatmap_without_results_says_so(tmp_path, capsys):
    TensorBoardLogger(save_dir=str(tmp_path / "curves"), name="", version="").log_metrics({"x": 1.0}, 0)
    with pytest.raises(SystemExit) as stop:
        heatmap_main(["--logdir", str(tmp_path)])
    assert stop.value.code == 2
    assert "no grid point results" in capsys.readouterr().err
    assert not (tmp_path / "tables").exists()
