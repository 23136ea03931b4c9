"""A task's figure in the paper's layout: one row per setting (depth, and epochs, batch size or
bias where they differ), columns AIHT, IMP and AIHT − IMP; written as PNG and PDF.

A row holds its AIHT panels, its IMP panels, any other method's, then an AIHT − IMP panel per
(AIHT, IMP) pair that shares some m and s values: AIHT's mean minus IMP's on those values,
diverging colormap, limits symmetric about 0. Rows are as wide as the widest; a row with fewer
panels leaves its last places empty. Column titles name the method, each row's first panel names
its depth (and its training where rows differ in it); what every panel shares (the task, the
training, the seeds) is the figure's title.
"""

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lightning_app.report.heatmaps import (
    DIFFERENCE_CMAP,
    PANEL_INCHES,
    ColorScale,
    color_scale,
    draw_heatmap,
    hatch_cells,
    new_figure,
    save_png_pdf,
)
from lightning_app.report.labels import (
    M_AXIS,
    depth_label,
    method_label,
    metric_label,
    seeds_label,
    task_label,
    training_label,
)
from lightning_app.report.tables import STD_DDOF, Table

DIFFERENCE_PREFIX = "AIHT − IMP"

Panel = tuple[Table, ...]  # one table: its mean; (aiht, imp): their difference


@dataclass
class TaskFigure:
    """A drawn task figure: its panels row by row, each panel's title and axes."""

    figure: Figure
    rows: list[list[Panel]]
    titles: list[str] = field(default_factory=list)
    axes: list[Axes] = field(default_factory=list)


def same_settings(table: Table) -> tuple:
    """What panels that share a row have in common: task, depth, epochs, batch size, bias."""
    p = table.panel
    return p.task, p.num_layers, p.epochs, p.batch_size, p.bias


def difference(aiht: Table, imp: Table) -> tuple[np.ndarray, list[int], list[int]] | None:
    """AIHT's mean minus IMP's on the m and s values both tables have, or None if they share none."""
    mlist = [m for m in aiht.mlist if m in imp.mlist]
    slist = [s for s in aiht.slist if s in imp.slist]
    if not mlist or not slist:
        return None
    grid = on_common(aiht, aiht.mean(), mlist, slist) - on_common(imp, imp.mean(), mlist, slist)
    return grid, mlist, slist


def on_common(table: Table, grid: np.ndarray, mlist: list[int], slist: list[int]) -> np.ndarray:
    """The part of ``table``'s (m, s) ``grid`` on the given m and s values."""
    rows = [table.mlist.index(m) for m in mlist]
    cols = [table.slist.index(s) for s in slist]
    return grid[np.ix_(rows, cols)]


def symmetric_limit(grid: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        largest = float(np.nanmax(np.abs(grid))) if grid.size else math.nan
    return largest if math.isfinite(largest) and largest > 0 else 1.0


def figure_rows(tables: list[Table], differences: bool = True) -> list[list[Panel]]:
    """The figure's rows (module docstring), in order of depth, then training."""
    groups: dict[tuple, list[Table]] = {}
    for table in sorted(tables, key=lambda t: t.panel):
        groups.setdefault(same_settings(table), []).append(table)
    rows = []
    for key in sorted(groups):
        group = groups[key]
        aiht = [t for t in group if t.panel.method == "aiht"]
        imp = [t for t in group if t.panel.method == "imp"]
        others = [t for t in group if t.panel.method not in ("aiht", "imp")]
        row: list[Panel] = [(t,) for t in aiht + imp + others]
        if differences:
            row += [(a, i) for a in aiht for i in imp if difference(a, i) is not None]
        rows.append(row)
    return rows


def figure_panels(tables: list[Table]) -> list[Panel]:
    """Every panel of the figure, row by row."""
    return [panel for row in figure_rows(tables) for panel in row]


def row_label(table: Table, training_varies: bool) -> str:
    label = depth_label(table.panel.num_layers)
    return f"{label}, {training_label(table.panel)}" if training_varies else label


def common_title(tables: list[Table], spread: bool = False) -> tuple[str, str, bool]:
    """The figure's title in two parts (the task; the training and seeds every panel shares) and
    whether the training differs between its rows. ``spread``: the seeds part names the std."""
    trainings = {training_label(t.panel) for t in tables}
    seeds = {len(t.seeds) for t in tables}
    rest = [trainings.copy().pop()] if len(trainings) == 1 else []
    if spread:
        count = f"{seeds.pop()} " if len(seeds) == 1 else ""
        rest.append(f"std over {count}seeds (ddof={STD_DDOF})")
    elif len(seeds) == 1:
        rest.append(seeds_label(seeds.pop()))
    return task_label(tables[0].panel.task), ", ".join(rest), len(trainings) > 1


def draw_panel(ax: Axes, panel: Panel) -> str:
    """Draws one panel (a table's mean, or an AIHT − IMP difference) on ``ax``; returns its title."""
    if len(panel) == 1:
        table = panel[0]
        title = method_label(table.panel)
        scale = color_scale(table.panel.task, table.metric_name)
        label = metric_label(table.metric_name)
        draw_heatmap(ax, table.mean(), table.mlist, table.slist, scale, title, label=label)
        hatch_cells(ax, table.diverged_cells())
        return title
    aiht, imp = panel
    grid, mlist, slist = difference(aiht, imp)
    limit = symmetric_limit(grid)
    scale = ColorScale(-limit, limit, DIFFERENCE_CMAP)
    label = f"{DIFFERENCE_PREFIX}, {metric_label(aiht.metric_name)}"
    title = DIFFERENCE_PREFIX + (", convex" if aiht.panel.convex else "")
    draw_heatmap(ax, grid, mlist, slist, scale, title, label=label)
    diverged = on_common(aiht, aiht.diverged_cells(), mlist, slist)
    hatch_cells(ax, diverged | on_common(imp, imp.diverged_cells(), mlist, slist))
    return title


def draw_task_figure(tables: list[Table], draw=draw_panel, differences: bool = True) -> TaskFigure:
    """The figure of one task's ``tables`` (module docstring), each panel drawn by ``draw``;
    without ``differences``, the std figure (its title names the spread)."""
    rows = figure_rows(tables, differences)
    if not rows:
        raise ValueError("a task figure needs at least one table")
    columns = max(len(row) for row in rows)
    fig = new_figure((columns * PANEL_INCHES[0], len(rows) * PANEL_INCHES[1]))
    grid = fig.subplots(len(rows), columns, squeeze=False)
    task, rest, training_varies = common_title(tables, spread=not differences)
    drawn = TaskFigure(fig, rows)
    for axes, row in zip(grid, rows, strict=True):
        for ax, panel in zip(axes, row, strict=False):
            drawn.titles.append(draw(ax, panel))
            drawn.axes.append(ax)
        axes[0].set_ylabel(f"{row_label(row[0][0], training_varies)}\n{M_AXIS}")
        for ax in axes[len(row) :]:
            ax.set_visible(False)
    fig.suptitle(task + ("\n" if columns == 1 else ", ") + rest if rest else task)  # one panel: narrow
    return drawn


def save_task_figure(tables: list[Table], path: Path) -> TaskFigure:
    """Draws the task figure of ``tables`` to ``path`` (PNG of ``figure_pixels(rows, columns)``)
    and to the PDF beside it."""
    drawn = draw_task_figure(tables)
    save_png_pdf(drawn.figure, path)
    return drawn
