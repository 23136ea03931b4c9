"""The task figure in the paper's layout, checked on its pixels: each cell of a known table,
read back from the PNG, has the colour of its value (so a transposed, flipped or blank heatmap
fails), the colour bars carry the metric and its unit and mark values beyond their limits, the
axes are in words, and a PDF lies beside the PNG."""

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.colors import Normalize

from lightning_app.report.heatmaps import figure_pixels
from lightning_app.report.tables import build_tables
from lightning_app.report.task_figure import DIFFERENCE_PREFIX, save_task_figure
from tests.result_helpers import point

MLIST, SLIST = [2, 5, 9], [10, 20, 40, 80]


def known_value(i: int, j: int) -> float:
    """Rises along s by 10 dB and along m by 3 dB: no symmetry a wrong drawing could keep."""
    return -15.0 + 10.0 * j + 3.0 * i


def grid_results(method: str, shift: float = 0.0, num_layers: int = 1) -> list[dict]:
    return [
        point(method, m, s, 0, metric=known_value(i, j) + shift, num_layers=num_layers)
        for i, m in enumerate(MLIST)
        for j, s in enumerate(SLIST)
    ]


def pixel(png: np.ndarray, ax, x: float, y: float) -> np.ndarray:
    """The PNG's RGB at data point (x, y) of ``ax``."""
    px, py = ax.transData.transform((x, y))
    return png[int(round(png.shape[0] - py)), int(round(px)), :3]


def cell_colours(png: np.ndarray, ax, shape: tuple[int, int]) -> np.ndarray:
    """The colour near the top-left corner of every cell (away from the cell's text)."""
    rows, cols = shape
    return np.array([[pixel(png, ax, j - 0.35, i - 0.35) for j in range(cols)] for i in range(rows)])


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("figure") / "figure_mlp_planted.png"
    results = grid_results("aiht") + grid_results("imp", shift=-4.0)
    results += grid_results("aiht", num_layers=2)
    results[len(MLIST) * len(SLIST) - 1]["metric"] = 96.7  # AIHT's last cell: above the 50 dB limit
    figure = save_task_figure(build_tables(results), out)
    return figure, matplotlib.image.imread(out), out


def test_rows_are_depths_and_columns_the_methods_then_their_difference(drawn):
    figure, png, _ = drawn
    assert figure.titles == ["AIHT", "IMP", DIFFERENCE_PREFIX, "AIHT"]
    assert png.shape[:2] == figure_pixels(2, 3)[::-1]
    first, _, _, second_row = figure.axes
    assert first.get_ylabel() == "1 hidden layer\nhidden units m"
    assert second_row.get_ylabel() == "2 hidden layers\nhidden units m"
    assert first.get_xlabel() == "nonzero weights s"
    assert figure.figure.get_suptitle() == "Planted MLP, full batch, 15 epochs, mean of 1 seed"


def test_every_cell_has_the_colour_of_its_value(drawn):
    figure, png, _ = drawn
    expected = np.array([[known_value(i, j) for j in range(len(SLIST))] for i in range(len(MLIST))])
    viridis, norm = matplotlib.colormaps["viridis"], Normalize(-20.0, 50.0)
    for ax, values in ((figure.axes[1], expected - 4.0), (figure.axes[3], expected)):
        colours = cell_colours(png, ax, values.shape)
        assert np.abs(colours - viridis(norm(values))[..., :3]).max() < 0.02
    high, low = cell_colours(png, figure.axes[3], expected.shape)[[2, 0], [3, 0]]
    assert high.sum() > low.sum()  # the highest cell (m = 9, s = 80) is brighter than the lowest


def test_a_value_beyond_the_limit_takes_the_top_colour_and_extends_the_bar(drawn):
    figure, png, _ = drawn
    aiht, imp = figure.axes[0], figure.axes[1]
    top = np.array(matplotlib.colormaps["viridis"](1.0)[:3])
    assert np.abs(pixel(png, aiht, 3 - 0.35, 2 - 0.35) - top).max() < 0.02
    aiht_bar, imp_bar = aiht.images[0].colorbar, imp.images[0].colorbar
    assert (aiht_bar.extend, imp_bar.extend) == ("max", "neither")
    assert aiht_bar.ax.get_ylabel() == "PSNR (dB)"


def test_the_difference_panel_is_aiht_minus_imp(drawn):
    figure, png, _ = drawn
    ax = figure.axes[2]
    assert ax.images[0].colorbar.ax.get_ylabel() == f"{DIFFERENCE_PREFIX}, PSNR (dB)"
    values = np.full((len(MLIST), len(SLIST)), 4.0)
    values[2, 3] = 96.7 - (known_value(2, 3) - 4.0)  # the largest difference sets the limits
    limit = values.max()
    expected = matplotlib.colormaps["RdBu"](Normalize(-limit, limit)(values))[..., :3]
    assert np.abs(cell_colours(png, ax, values.shape) - expected).max() < 0.02


def test_a_pdf_lies_beside_the_png(drawn):
    _, _, out = drawn
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_accuracy_bars_read_test_accuracy(tmp_path):
    results = [
        point("imp", m, s, 0, metric=0.5 + 0.1 * j, task="mnist", metric_name="accuracy")
        for m in MLIST
        for j, s in enumerate(SLIST)
    ]
    figure = save_task_figure(build_tables(results), tmp_path / "f.png")
    bar = figure.axes[0].images[0].colorbar
    assert bar.ax.get_ylabel() == "test accuracy" and bar.extend == "neither"
    assert figure.figure.get_suptitle() == "MNIST\nfull batch, 15 epochs, mean of 1 seed"  # one column
