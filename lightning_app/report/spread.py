"""The spread over seeds beside each mean heatmap: a heatmap of the standard deviation over seeds
(``Table.std``: ddof = 1, failed seeds left out) on the same grid, with its own colour scale
(0 to the panel's largest std), and the number of seeds that finished in each cell.

On a small grid (``heatmaps.shows_text``) each cell reads ``<std>`` over ``n=<seeds>``; a cell
with fewer than two seeds has no std (grey) and reads ``n=1`` or ``n=0``. On a larger grid the
cells with fewer seeds than the table has are marked with a dot instead.

Files: ``<table>.std.png`` beside each ``<table>.png``, and ``figure_<task>_std.png`` (and
``.pdf``) with the task's panels in the layout of ``figure_<task>.png`` (differences left out).
"""

import math
import warnings
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from lightning_app.files.safe_write import write_whole
from lightning_app.report.heatmaps import (
    HEATMAP_INCHES,
    ColorScale,
    cell_text,
    draw_heatmap,
    new_figure,
    panel_title,
    save_png_pdf,
    shows_text,
)
from lightning_app.report.labels import method_label, metric_label
from lightning_app.report.tables import STD_DDOF, Table
from lightning_app.report.task_figure import draw_task_figure

STD_CMAP = "YlOrRd"
NO_STD = "0.85"  # the colour of cells with fewer than two seeds


def std_path(heatmap_png: Path) -> Path:
    """``x.png`` → ``x.std.png``."""
    return heatmap_png.with_name(heatmap_png.stem + ".std.png")


def std_scale(std: np.ndarray) -> ColorScale:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        largest = float(np.nanmax(std)) if std.size else math.nan
    return ColorScale(0.0, largest if math.isfinite(largest) and largest > 0 else 1.0, STD_CMAP)


def std_texts(std: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each cell's text: its std over its seed count, or the count alone where there is no std."""
    texts = np.empty(std.shape, dtype=object)
    for at, n in np.ndenumerate(counts):
        value = cell_text(std[at])
        texts[at] = f"{value}\nn={n}" if value else f"n={n}"
    return texts


def std_note(table: Table) -> str:
    """What the cells' marks mean: seeds per cell as text, or a dot for fewer seeds."""
    seeds = len(table.seeds)
    return "n: seeds per cell" if shows_text(table.std()) else f"· fewer than {seeds} seeds"


def std_title(table: Table) -> str:
    head = panel_title(table).split("\n")[0]
    return f"{head}\nstd over seeds (ddof={STD_DDOF}); {std_note(table)}"


def draw_std_heatmap(ax: Axes, table: Table, title: str | None = None) -> AxesImage:
    """The table's std over seeds on ``ax``, seed counts shown (see the module docstring)."""
    std, counts = table.std(), table.counts()
    title = std_title(table) if title is None else title
    label = f"std of {metric_label(table.metric_name)}"
    texts = std_texts(std, counts)
    image = draw_heatmap(ax, std, table.mlist, table.slist, std_scale(std), title, texts, NO_STD, label)
    if not shows_text(std):
        rows, cols = np.nonzero(counts < len(table.seeds))
        ax.scatter(cols, rows, s=4, c="black", marker=".")
    return image


def save_std_heatmap(table: Table, path: Path) -> Path:
    """One panel's std heatmap as a ``HEATMAP_PIXELS`` PNG at ``path``."""
    fig = new_figure(HEATMAP_INCHES)
    draw_std_heatmap(fig.add_subplot(), table)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: fig.savefig(f, format="png"))
    return path


def draw_std_panel(ax: Axes, panel: tuple[Table, ...]) -> str:
    table = panel[0]
    title = f"{method_label(table.panel)}: std over seeds\n{std_note(table)}"
    draw_std_heatmap(ax, table, title)
    return title


def save_std_figure(tables: list[Table], path: Path) -> list[str]:
    """The std heatmaps of a task's panels in the layout of its mean figure, without the
    differences, as PNG and PDF; returns their titles."""
    drawn = draw_task_figure(tables, draw=draw_std_panel, differences=False)
    save_png_pdf(drawn.figure, path)
    return drawn.titles
