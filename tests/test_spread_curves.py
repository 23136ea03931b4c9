"""The spread over seeds (std heatmaps with seed counts) and the curves against sparsity, with IMP's
dense reference: their numbers against numpy's over the saved ``.npy`` tables, in TensorBoard,
and rebuilt by ``cli.py heatmap --logdir``."""

import warnings

import matplotlib.image
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_app.report.curves import DENSE_LABEL, NO_DENSE, NO_IMP, save_all_curves
from lightning_app.report.events import results_from_events
from lightning_app.report.figures import export_figures, heatmap_main
from lightning_app.report.heatmaps import HEATMAP_PIXELS, new_figure
from lightning_app.report.spread import draw_std_heatmap
from lightning_app.report.tables import build_tables
from tests.result_helpers import log_point, point, point_folder

MLIST, SLIST, SEEDS = [1, 2, 5], [10, 20, 50], [0, 1, 2]
NAME = "hidden1_m[1, 2, 5]_s[10, 20, 50]_seed[0, 1, 2]_convexFalse_bs0_biasFalse_15epochs_"
ONE_SEED, NO_SEED = (2, 20), (5, 50)  # (m, s) cells left with one seed and with none


def random_grid(method: str, seed: int, dense: bool = True) -> list[dict]:
    """A 3 × 3 × 3 grid of random metrics: cell ONE_SEED keeps one seed (one failed, one
    missing), NO_SEED none, and one point is skipped. IMP points carry a dense reference."""
    rng = np.random.RandomState(seed)
    results = []
    for m in MLIST:
        for s in SLIST:
            for q in SEEDS:
                metric, dense_metric = float(rng.normal(20, 5)), float(rng.normal(30, 2))
                if (m, s) == ONE_SEED and q == 1:
                    results.append(point(method, m, s, q, metric=None, status="failed", error="boom"))
                elif ((m, s) == ONE_SEED and q == 2) or (m, s) == NO_SEED:
                    continue
                elif (m, s, q) == (1, 50, 2):
                    results.append(point(method, m, s, q, metric=0.0, status="skipped"))
                else:
                    extra = {"dense_metric": dense_metric} if method == "imp" and dense else {}
                    results.append(point(method, m, s, q, metric=metric, **extra))
    return results


def numpy_std(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanstd(values, axis=2, ddof=1)


def numpy_mean(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=2)


def cell_texts(ax) -> dict[tuple[int, int], str]:
    """(row, column) → the text written on that cell."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}


def test_std_heatmap_values_equal_numpys_std_over_the_npy_seed_axis(tmp_path):
    results = random_grid("aiht", 0) + random_grid("imp", 1)
    written = export_figures(results, tmp_path)
    for table in build_tables(results):
        npy = tmp_path / "tables" / table.relative_path()
        values = np.load(npy)
        expected = numpy_std(values)  # numpy's sample std over the seed axis
        assert np.isfinite(expected).sum() == 9 - 2 and not np.isnan(values).all()
        image = draw_std_heatmap(new_figure((6.4, 4.8)).add_subplot(), table)
        drawn = np.ma.filled(image.get_array().astype(float), np.nan)
        assert np.array_equal(drawn, expected, equal_nan=True)  # exact: Table.std is this np.nanstd
        png = npy.with_name(npy.stem + ".std.png")
        assert png in written and matplotlib.image.imread(png).shape[:2] == HEATMAP_PIXELS[::-1]
        texts = cell_texts(image.axes)
        counts = np.sum(~np.isnan(values), axis=2)
        for (i, j), text in texts.items():
            assert text.endswith(f"n={counts[i, j]}")
            if counts[i, j] >= 2:
                assert text == f"{expected[i, j]:.3g}\nn={counts[i, j]}"
        assert len(texts) == 9


def test_a_cell_with_one_seed_shows_it():
    table = build_tables(random_grid("aiht", 0))[0]
    image = draw_std_heatmap(new_figure((6.4, 4.8)).add_subplot(), table)
    texts = cell_texts(image.axes)
    one = (MLIST.index(ONE_SEED[0]), SLIST.index(ONE_SEED[1]))
    none = (MLIST.index(NO_SEED[0]), SLIST.index(NO_SEED[1]))
    assert texts[one] == "n=1" and texts[none] == "n=0"
    assert np.ma.is_masked(image.get_array()[one])  # no std from one seed: blank, not 0
    assert "n: seeds per cell" in image.axes.get_title()


def test_a_large_grid_marks_the_cells_with_fewer_seeds():
    mlist = list(range(1, 15))
    results = [
        point("aiht", m, 10, q, metric=float(m + q)) for m in mlist for q in (0, 1) if (m, q) != (4, 1)
    ]
    table = build_tables(results)[0]
    image = draw_std_heatmap(new_figure((6.4, 4.8)).add_subplot(), table)
    assert not image.axes.texts
    assert image.axes.collections[-1].get_offsets().tolist() == [[0, 3]]  # (s column, m row) of m=4
    assert "fewer than 2 seeds" in image.axes.get_title()


def test_curves_data_equal_the_table(tmp_path):
    aiht, imp = random_grid("aiht", 0), random_grid("imp", 1)
    export_figures(aiht + imp, tmp_path)
    tables = {
        method: np.load(tmp_path / f"tables/MLP_PLANTED/{method}/{NAME}.npy")
        for method in ("aiht", "pruning")
    }
    (path, drawn), *_ = save_all_curves(build_tables(aiht + imp), aiht + imp, tmp_path / "again").items()
    assert path == tmp_path / "again/curves/mlp_planted/hidden1_bs0_15epochs_biasFalse.png" and path.exists()
    assert (tmp_path / "curves/mlp_planted/hidden1_bs0_15epochs_biasFalse.png").exists()
    assert drawn.widths == MLIST and drawn.note == ""
    dense = {}
    for r in imp:
        if r["status"] == "done":
            dense.setdefault((r["m"], r["s"]), []).append(r["dense_metric"])
    for i, m in enumerate(MLIST):
        curves = {c.label: c for c in drawn.curves[m]}
        assert set(curves) == {"aiht", "imp", DENSE_LABEL}
        for label, values in (("aiht", tables["aiht"]), ("imp", tables["pruning"])):
            c = curves[label]
            assert c.s == SLIST
            # exact: Table.mean and Table.std are these numpy calls on the same values
            assert np.array_equal(c.mean, numpy_mean(values)[i], equal_nan=True)
            assert np.array_equal(c.std, numpy_std(values)[i], equal_nan=True)
        by_hand = [np.mean(dense[m, s]) if (m, s) in dense else np.nan for s in SLIST]
        assert np.allclose(curves[DENSE_LABEL].mean, by_hand, equal_nan=True, rtol=1e-12)


def test_curves_say_where_there_is_no_dense_reference(tmp_path):
    aiht = random_grid("aiht", 0)
    alone = next(iter(save_all_curves(build_tables(aiht), aiht, tmp_path).values()))
    assert alone.note == NO_IMP
    assert all(c.label == "aiht" for curves in alone.curves.values() for c in curves)
    old_imp = aiht + random_grid("imp", 1, dense=False)
    older = next(iter(save_all_curves(build_tables(old_imp), old_imp, tmp_path).values()))
    assert older.note == NO_DENSE


def test_heatmap_logdir_rebuilds_spread_curves_and_summary_into_tensorboard(tmp_path):
    results = random_grid("aiht", 0) + random_grid("imp", 1)
    logs = tmp_path / "logs"
    for r in results:
        log_point(point_folder(logs, r), r)
    rebuilt = {(r["method"], r["m"], r["s"], r["seed"]): r for r in results_from_events(logs)}
    for r in results:
        if "dense_metric" in r:  # the dense reference comes back from the events exactly
            assert rebuilt[r["method"], r["m"], r["s"], r["seed"]]["dense_metric"] == r["dense_metric"]
    heatmap_main(["--logdir", str(logs), "--out", str(tmp_path / "out")])
    acc = EventAccumulator(str(tmp_path / "out/figures"))
    acc.Reload()
    tags = set(acc.Tags()["images"])
    assert {
        f"tables/MLP_PLANTED/aiht/{NAME}.std",
        f"tables/MLP_PLANTED/pruning/{NAME}.std",
        "figure_mlp_planted_std",
        "curves/mlp_planted/hidden1_bs0_15epochs_biasFalse",
    } <= tags
    assert (tmp_path / "out/summary.md").exists()


def test_std_figure_follows_the_mean_figure(tmp_path):
    results = random_grid("aiht", 0) + random_grid("imp", 1)
    export_figures(results, tmp_path)
    mean = matplotlib.image.imread(tmp_path / "figure_mlp_planted.png")
    spread = matplotlib.image.imread(tmp_path / "figure_mlp_planted_std.png")
    assert (
        spread.shape[0] == mean.shape[0] and spread.shape[1] == mean.shape[1] * 2 // 3
    )  # no difference panel


def test_a_grid_of_one_seed_draws_no_spread(tmp_path):
    """With one seed per cell there is no standard deviation: no std heatmap, no std figure, and
    summary.md links the mean heatmap only."""
    results = [r for r in random_grid("aiht", 0) if r["seed"] == 0]
    written = export_figures(results, tmp_path)
    names = {p.name for p in written}
    assert not any(name.endswith(".std.png") or name.endswith("_std.png") for name in names)
    assert list(tmp_path.rglob("*std*.png")) == []
    assert {"figure_mlp_planted.png", "summary.md"} <= names
    summary = (tmp_path / "summary.md").read_text()
    assert "mean over seeds" in summary and "std over seeds" not in summary


def test_a_single_s_value_draws_no_curves(tmp_path):
    """A curve needs two points: settings whose grid has one s value get no curves figure (and
    summary.md links none), whatever the widths and methods."""
    results = [r for r in random_grid("aiht", 0) + random_grid("imp", 1) if r["s"] == SLIST[1]]
    assert {r["s"] for r in results} == {SLIST[1]} and len({r["m"] for r in results}) > 1
    assert save_all_curves(build_tables(results), results, tmp_path) == {}
    written = export_figures(results, tmp_path)
    assert not (tmp_path / "curves").exists()
    assert not any("curves" in p.parts for p in written)
    assert "curves" not in (tmp_path / "summary.md").read_text()
    two = [r for r in random_grid("aiht", 0) if r["s"] in SLIST[:2]]
    assert list(save_all_curves(build_tables(two), two, tmp_path / "two")) == [
        tmp_path / "two/curves/mlp_planted/hidden1_bs0_15epochs_biasFalse.png"
    ]
