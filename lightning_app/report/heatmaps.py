"""Heatmaps of the results tables, drawn as the paper draws them (docs/algorithms.md: the grid), and their
logging to TensorBoard.

One panel's heatmap is the mean over seeds (failed seeds left out; a cell with no result is
blank): rows m (the first m on top, as ``imshow`` puts it), columns s, the paper's colour limits:
−20..50 dB for planted PSNR, 0..50 dB for INR PSNR, 0.5..1 for binary accuracy, 0.1..1 for
10-class accuracy. The paper has no limits of its own for ``gaussian_sparse`` (its relative
error falls in its 0.1..1 branch); here it is drawn on a linear 0..1 scale with the colormap
reversed, so that exact recovery (error 0) is bright like a high PSNR.

A cell beyond those limits takes the colour of the nearest limit, and the colour bar gets a
triangle at that end (matplotlib's ``extend``), so that clipped values are marked. Colour bars
carry the metric and its unit (``PSNR (dB)``), axes read ``hidden units m`` and ``nonzero
weights s``.

A cell where some seed diverged is hatched (with no colour if every seed diverged or failed), so
that divergence is told apart from a missing point (blank).

A task's figure, in the paper's layout, is drawn by ``task_figure.py``.

Grids of at most ``TEXT_MAX_CELLS`` rows and columns (the paper's 10 × 10 are) carry each cell's
value as text.

Figures are drawn on matplotlib's Agg canvas at a fixed size and dpi, so each PNG's pixel size
is known in advance: ``HEATMAP_PIXELS`` for a panel, ``figure_pixels(rows, columns)`` for a
task figure. Figures for a paper are also written as PDF (``save_png_pdf``).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.image
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from lightning_app.files.safe_write import write_whole
from lightning_app.report.labels import (
    M_AXIS,
    S_AXIS,
    depth_label,
    method_label,
    metric_label,
    seeds_label,
    task_label,
    training_label,
)
from lightning_app.report.tables import Table

DPI = 100
HEATMAP_INCHES = (6.4, 4.8)
PANEL_INCHES = (4.4, 3.6)
HEATMAP_PIXELS = (round(HEATMAP_INCHES[0] * DPI), round(HEATMAP_INCHES[1] * DPI))  # (width, height)
DIFFERENCE_PREFIX = "AIHT − IMP"
DIFFERENCE_CMAP = "RdBu"
TEXT_MAX_CELLS = 12


@dataclass(frozen=True)
class ColorScale:
    vmin: float
    vmax: float
    cmap: str = "viridis"


def color_scale(task: str, metric_name: str) -> ColorScale:
    """The paper's colour limits for a task (see the module docstring)."""
    task = task.lower()
    if task == "gaussian_sparse" or metric_name == "rel_error":
        return ColorScale(0.0, 1.0, "viridis_r")
    if "planted" in task:
        return ColorScale(-20.0, 50.0)
    if task.startswith("inr"):
        return ColorScale(0.0, 50.0)
    if task.startswith("binary"):
        return ColorScale(0.5, 1.0)
    if metric_name == "psnr":  # a task of the user's own (docs/own_data.md): PSNR as for planted data
        return ColorScale(-20.0, 50.0)
    return ColorScale(0.1, 1.0)


def figure_pixels(rows: int, columns: int) -> tuple[int, int]:
    """(width, height) in pixels of a task figure with ``rows`` × ``columns`` panels."""
    return round(columns * PANEL_INCHES[0] * DPI), round(rows * PANEL_INCHES[1] * DPI)


def new_figure(inches: tuple[float, float]) -> Figure:
    fig = Figure(figsize=inches, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def cell_text(value: float) -> str:
    """A cell's value as its text: three significant digits, nothing for NaN."""
    return "" if not math.isfinite(value) else f"{value:.3g}"


def shows_text(grid: np.ndarray) -> bool:
    """Whether the grid is small enough for its cells to carry text."""
    return max(grid.shape) <= TEXT_MAX_CELLS


def write_cells(ax: Axes, image: AxesImage, texts: np.ndarray) -> None:
    """Writes ``texts[i, j]`` on cell (i, j), black on light colours and white on dark ones."""
    grid = image.get_array()
    font = 7 if max(texts.shape) <= 6 else 5.5
    for (i, j), text in np.ndenumerate(texts):
        if not text:
            continue
        colour = "black"
        if not np.ma.is_masked(grid[i, j]):
            red, green, blue, _ = image.cmap(image.norm(grid[i, j]))
            colour = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=font, color=colour)


def draw_heatmap(
    ax: Axes,
    grid: np.ndarray,
    mlist: list[int],
    slist: list[int],
    scale: ColorScale,
    title: str,
    texts: np.ndarray | None = None,
    bad: str = "white",
    label: str = "",
) -> AxesImage:
    """Draws one (m, s) grid on ``ax`` with a colour bar labelled ``label``; NaN cells are left
    blank (``bad``), the colour bar extends at an end where some cell lies beyond its limit.

    On a small grid (``shows_text``) every cell carries ``texts`` (default: its value)."""
    cmap = matplotlib.colormaps[scale.cmap].with_extremes(bad=bad)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=scale.vmin, vmax=scale.vmax, aspect="auto")
    if shows_text(grid):
        write_cells(ax, image, np.vectorize(cell_text, otypes=[str])(grid) if texts is None else texts)
    ax.set_xticks(
        range(len(slist)), labels=[str(s) for s in slist], rotation=45, ha="right", rotation_mode="anchor"
    )
    ax.set_yticks(range(len(mlist)), labels=[str(m) for m in mlist])
    ax.set_xlabel(S_AXIS)
    ax.set_ylabel(M_AXIS)
    ax.set_title(title, fontsize=9)
    bar = ax.figure.colorbar(image, ax=ax, extend=extend(grid, scale))
    bar.set_label(label)
    return image


def extend(grid: np.ndarray, scale: ColorScale) -> str:
    """Which ends of the colour bar get a triangle: those some cell lies beyond ('neither',
    'min', 'max' or 'both')."""
    finite = grid[np.isfinite(grid)]
    low = bool(finite.size) and finite.min() < scale.vmin
    high = bool(finite.size) and finite.max() > scale.vmax
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get((low, high), "both")


def hatch_cells(ax: Axes, cells: np.ndarray) -> None:
    """Hatches the (m, s) cells of a heatmap where ``cells`` is True (diverged seeds)."""
    for row, col in zip(*np.nonzero(cells), strict=True):
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, hatch="///", linewidth=0))
    if cells.any():
        ax.set_xlabel(f"{S_AXIS}  (hatched: diverged)")


def panel_title(table: Table) -> str:
    """``Planted MLP · AIHT · 1 hidden layer`` over ``full batch, 15 epochs, mean of 2 seeds``."""
    p = table.panel
    head = " · ".join((task_label(p.task), method_label(p), depth_label(p.num_layers)))
    return f"{head}\n{training_label(p)}, {seeds_label(len(table.seeds))}"


def save_heatmap(table: Table, path: Path) -> Path:
    """One panel's heatmap as a ``HEATMAP_PIXELS`` PNG at ``path``."""
    fig = new_figure(HEATMAP_INCHES)
    scale = color_scale(table.panel.task, table.metric_name)
    ax = fig.add_subplot()
    label = metric_label(table.metric_name)
    draw_heatmap(ax, table.mean(), table.mlist, table.slist, scale, panel_title(table), label=label)
    hatch_cells(ax, table.diverged_cells())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: fig.savefig(f, format="png"))
    return path


def save_png_pdf(fig: Figure, png: Path) -> list[Path]:
    """Writes ``fig`` as ``png`` and as the PDF beside it (same name, ``.pdf``); returns both."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    pdf = png.with_suffix(".pdf")
    write_whole(png, lambda f: fig.savefig(f, format="png"))
    write_whole(pdf, lambda f: fig.savefig(f, format="pdf"))
    return [png, pdf]


def log_images(pngs: list[Path], log_dir: Path, root: Path, step: int = 0) -> list[str]:
    """Logs each PNG as an image to TensorBoard in ``log_dir``; the tag is the PNG's path relative
    to ``root`` without ``.png``. Returns the tags. The events files an earlier run left there are
    removed once the new one is written, so that reruns do not pile them up."""
    from torch.utils.tensorboard import SummaryWriter

    tags = []
    earlier = sorted(Path(log_dir).glob("events.out.tfevents.*")) if Path(log_dir).is_dir() else []
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for png in pngs:
            tag = Path(png).relative_to(root).with_suffix("").as_posix()
            pixels = matplotlib.image.imread(png)[..., :3]
            writer.add_image(tag, pixels, global_step=step, dataformats="HWC")
            tags.append(tag)
    finally:
        writer.close()
    for path in earlier:
        path.unlink(missing_ok=True)
    return tags
