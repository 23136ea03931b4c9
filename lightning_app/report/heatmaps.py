"""Heatmaps of the results tables, drawn as the paper draws them (SPEC §7), and their logging to
TensorBoard.

One panel's heatmap is the mean over seeds (failed seeds left out; a cell with no result is
blank): rows m (the first m on top, as ``imshow`` puts it), columns s, the paper's colour limits:
−20..50 dB for planted PSNR, 0..50 dB for INR PSNR, 0.5..1 for binary accuracy, 0.1..1 for
10-class accuracy. The paper has no limits of its own for ``gaussian_sparse`` (its relative
error falls in its 0.1..1 branch); here it is drawn on a linear 0..1 scale with the colormap
reversed, so that exact recovery (error 0) is bright like a high PSNR.

A cell where some seed diverged is hatched (with no colour if every seed diverged or failed), so
that divergence is told apart from a missing point (blank).

A task's figure puts its panels side by side and, where AIHT and IMP were both run with the same
settings, adds an AIHT − IMP panel (diverging colormap, limits symmetric about 0).

Grids of at most ``TEXT_MAX_CELLS`` rows and columns (the paper's 10 × 10 are) carry each cell's
value as text.

Figures are drawn on matplotlib's Agg canvas at a fixed size and dpi, so each PNG's pixel size
is known in advance: ``HEATMAP_PIXELS`` for a panel, ``figure_pixels(n)`` for n panels.
"""

import math
import warnings
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
from lightning_app.report.tables import Table

DPI = 100
HEATMAP_INCHES = (6.4, 4.8)
PANEL_INCHES = (5.0, 4.6)
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
    if metric_name == "psnr":  # a task of the user's own (README): PSNR as for planted data
        return ColorScale(-20.0, 50.0)
    return ColorScale(0.1, 1.0)


def figure_pixels(num_panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a task figure with ``num_panels`` panels side by side."""
    return round(num_panels * PANEL_INCHES[0] * DPI), round(PANEL_INCHES[1] * DPI)


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
) -> AxesImage:
    """Draws one (m, s) grid on ``ax`` with a colorbar; NaN cells are left blank (``bad``).

    On a small grid (``shows_text``) every cell carries ``texts`` (default: its value)."""
    cmap = matplotlib.colormaps[scale.cmap].with_extremes(bad=bad)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=scale.vmin, vmax=scale.vmax, aspect="auto")
    if shows_text(grid):
        write_cells(ax, image, np.vectorize(cell_text, otypes=[str])(grid) if texts is None else texts)
    ax.set_xticks(
        range(len(slist)), labels=[str(s) for s in slist], rotation=45, ha="right", rotation_mode="anchor"
    )
    ax.set_yticks(range(len(mlist)), labels=[str(m) for m in mlist])
    ax.set_xlabel("s")
    ax.set_ylabel("m")
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(image, ax=ax)
    return image


def hatch_cells(ax: Axes, cells: np.ndarray) -> None:
    """Hatches the (m, s) cells of a heatmap where ``cells`` is True (diverged seeds)."""
    for row, col in zip(*np.nonzero(cells), strict=True):
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, hatch="///", linewidth=0))
    if cells.any():
        ax.set_xlabel("s  (hatched: diverged)")


def panel_title(table: Table) -> str:
    seeds = len(table.seeds)
    return f"{table.panel.title}\nmean {table.metric_name}, {seeds} seed{'s' if seeds != 1 else ''}"


def save_heatmap(table: Table, path: Path) -> Path:
    """One panel's heatmap as a ``HEATMAP_PIXELS`` PNG at ``path``."""
    fig = new_figure(HEATMAP_INCHES)
    scale = color_scale(table.panel.task, table.metric_name)
    ax = fig.add_subplot()
    draw_heatmap(ax, table.mean(), table.mlist, table.slist, scale, panel_title(table))
    hatch_cells(ax, table.diverged_cells())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: fig.savefig(f, format="png"))
    return path


def difference(aiht: Table, imp: Table) -> tuple[np.ndarray, list[int], list[int]] | None:
    """AIHT's mean minus IMP's on the m and s values both tables have, or None if they share none."""
    mlist = [m for m in aiht.mlist if m in imp.mlist]
    slist = [s for s in aiht.slist if s in imp.slist]
    if not mlist or not slist:
        return None
    grid = _on_common(aiht, aiht.mean(), mlist, slist) - _on_common(imp, imp.mean(), mlist, slist)
    return grid, mlist, slist


def _on_common(table: Table, grid: np.ndarray, mlist: list[int], slist: list[int]) -> np.ndarray:
    """The part of ``table``'s (m, s) ``grid`` on the given m and s values."""
    rows = [table.mlist.index(m) for m in mlist]
    cols = [table.slist.index(s) for s in slist]
    return grid[np.ix_(rows, cols)]


def _symmetric_limit(grid: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        largest = float(np.nanmax(np.abs(grid))) if grid.size else math.nan
    return largest if math.isfinite(largest) and largest > 0 else 1.0


def same_settings(table: Table) -> tuple:
    """What panels that can share axes have in common: task, depth, epochs, batch size, bias."""
    p = table.panel
    return p.task, p.num_layers, p.epochs, p.batch_size, p.bias


def figure_panels(tables: list[Table]) -> list[tuple[Table, ...]]:
    """The panels of a task's figure, in order: per setting, its AIHT tables, its IMP tables,
    then one (aiht, imp) pair per AIHT − IMP difference (only where both exist and share some
    m and s values). A one-element tuple is a plain panel."""
    groups: dict[tuple, list[Table]] = {}
    for table in sorted(tables, key=lambda t: t.panel):
        groups.setdefault(same_settings(table), []).append(table)
    panels: list[tuple[Table, ...]] = []
    for key in sorted(groups):
        group = groups[key]
        aiht = [t for t in group if t.panel.method == "aiht"]
        imp = [t for t in group if t.panel.method == "imp"]
        others = [t for t in group if t.panel.method not in ("aiht", "imp")]
        panels += [(t,) for t in aiht + imp + others]
        panels += [(a, i) for a in aiht for i in imp if difference(a, i) is not None]
    return panels


def save_task_figure(tables: list[Table], path: Path) -> list[str]:
    """All of a task's panels side by side (plus AIHT − IMP panels) in one PNG of
    ``figure_pixels(n)``; returns the panels' titles in order (differences start with
    ``DIFFERENCE_PREFIX``)."""
    panels = figure_panels(tables)
    if not panels:
        raise ValueError("save_task_figure needs at least one table")
    fig = new_figure((len(panels) * PANEL_INCHES[0], PANEL_INCHES[1]))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    titles = []
    for ax, panel in zip(axes, panels, strict=True):
        if len(panel) == 1:
            table = panel[0]
            title = panel_title(table)
            scale = color_scale(table.panel.task, table.metric_name)
            draw_heatmap(ax, table.mean(), table.mlist, table.slist, scale, title)
            hatch_cells(ax, table.diverged_cells())
        else:
            aiht, imp = panel
            grid, mlist, slist = difference(aiht, imp)
            p = aiht.panel
            batch = "full batch" if p.batch_size == 0 else f"batch {p.batch_size}"
            convex = ", convex" if p.convex else ""
            title = (
                f"{DIFFERENCE_PREFIX}, {p.num_layers} hidden, {batch}, {p.epochs} epochs{convex}\n"
                f"difference of mean {aiht.metric_name}"
            )
            limit = _symmetric_limit(grid)
            draw_heatmap(ax, grid, mlist, slist, ColorScale(-limit, limit, DIFFERENCE_CMAP), title)
            hatch_cells(
                ax,
                _on_common(aiht, aiht.diverged_cells(), mlist, slist)
                | _on_common(imp, imp.diverged_cells(), mlist, slist),
            )
        titles.append(title)
    fig.suptitle(tables[0].panel.task.upper())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: fig.savefig(f, format="png"))
    return titles


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
