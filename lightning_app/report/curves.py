"""Curves against sparsity: per task and settings (depth, epochs, batch size, bias), the metric
against s at each m, one small plot per m, AIHT and IMP on the same axes, each the mean over
seeds with a band of ± one standard deviation (``Table.std``, ddof = 1; no band where fewer than
two seeds finished), s on a log axis.

The dense reference is IMP's first round before its first prune: the dense network of the same
width, trained as long as one round (``dense_metric`` in IMP results). It is drawn as a dashed
line per m (mean ± std over seeds; flat where the data does not depend on s). Where no IMP
panel ran with these settings, or its results hold no dense reference, the figure says so.

Files: ``curves/<task>/hidden<L>_bs<b>_<E>epochs_bias<c>.png``. At most ``MAX_WIDTHS`` widths
are drawn, evenly spread over the m list, so that the plots stay readable. Settings whose grids
hold a single s value get no figure: a curve needs two points.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes

from lightning_app.files.safe_write import write_whole
from lightning_app.report.heatmaps import new_figure, same_settings
from lightning_app.report.tables import Table, build_table, dense_value, group_panels

MAX_WIDTHS = 10
COLUMNS = 5
PLOT_INCHES = (3.2, 2.6)
DENSE_LABEL = "dense (IMP round 1)"
NO_IMP = "no IMP panel ran with these settings: no IMP curve and no dense reference"
NO_DENSE = "the IMP results hold no dense reference (run before it was recorded)"


@dataclass
class Curve:
    """One line of a plot: the mean over seeds at each s, its std and seed counts."""

    label: str
    m: int
    s: list[int]
    mean: np.ndarray
    std: np.ndarray
    counts: np.ndarray


@dataclass
class CurvesFigure:
    """What one curves figure drew: its curves by m, and its note (empty if none)."""

    widths: list[int]
    curves: dict[int, list[Curve]]
    note: str


def dense_tables(results: list[dict]) -> list[Table]:
    """One table of the dense reference per IMP panel (NaN where a point has none)."""
    return [
        build_table(group, value=dense_value)
        for panel, group in group_panels(results).items()
        if panel.method == "imp"
    ]


def chosen_widths(mlist: list[int], most: int = MAX_WIDTHS) -> list[int]:
    """Every m if there are at most ``most``, else ``most`` of them evenly spread (ends kept)."""
    if len(mlist) <= most:
        return list(mlist)
    picks = np.unique(np.round(np.linspace(0, len(mlist) - 1, most)).astype(int))
    return [mlist[i] for i in picks]


def method_label(table: Table) -> str:
    return table.panel.method + (", convex" if table.panel.convex else "")


def curve(table: Table, m: int, label: str) -> Curve:
    row = table.mlist.index(m)
    return Curve(label, m, list(table.slist), table.mean()[row], table.std()[row], table.counts()[row])


def settings_curves(tables: list[Table], dense: list[Table]) -> CurvesFigure:
    """The curves of one settings group's tables (and the IMP dense reference among ``dense``)."""
    widths = chosen_widths(sorted({m for t in tables for m in t.mlist}))
    has_imp = any(t.panel.method == "imp" for t in tables)
    note = "" if has_imp else NO_IMP
    if has_imp and not any(np.isfinite(t.values).any() for t in dense):
        note = NO_DENSE
    curves: dict[int, list[Curve]] = {m: [] for m in widths}
    for m in widths:
        for table in sorted(tables, key=lambda t: t.panel):
            if m in table.mlist:
                curves[m].append(curve(table, m, method_label(table)))
        for table in dense:
            if m in table.mlist and np.isfinite(table.values[table.mlist.index(m)]).any():
                curves[m].append(curve(table, m, DENSE_LABEL))
    return CurvesFigure(widths, curves, note)


def draw_curve(ax: Axes, c: Curve) -> None:
    s = np.asarray(c.s, dtype=float)
    dense = c.label == DENSE_LABEL
    style = {"linestyle": "--", "color": "black", "zorder": 3} if dense else {"marker": "o", "markersize": 3}
    (line,) = ax.plot(s, c.mean, label=c.label, **style)
    ax.fill_between(s, c.mean - c.std, c.mean + c.std, color=line.get_color(), alpha=0.2, linewidth=0)


def set_s_axis(ax: Axes, slist: list[int]) -> None:
    """A log axis labelled with the s values themselves (all of them when there are few)."""
    ax.set_xscale("log")
    if slist:  # set, not autoscaled: a plot whose points all diverged (NaN) has no data to scale to
        ax.set_xlim(min(slist) / 1.25, max(slist) * 1.25)
    if 0 < len(slist) <= 6:
        ax.set_xticks(slist)
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def curves_path(out_dir: Path, table: Table) -> Path:
    task, layers, epochs, batch, bias = same_settings(table)
    return out_dir / "curves" / task / f"hidden{layers}_bs{batch}_{epochs}epochs_bias{bias}.png"


def save_curves(tables: list[Table], dense: list[Table], path: Path) -> CurvesFigure:
    """Draws one settings group's curves (see the module docstring) to ``path``."""
    drawn = settings_curves(tables, dense)
    columns = min(COLUMNS, len(drawn.widths))
    rows = math.ceil(len(drawn.widths) / columns)
    fig = new_figure((columns * PLOT_INCHES[0], rows * PLOT_INCHES[1] + 0.6))
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    for ax, m in zip(axes, drawn.widths, strict=False):
        for c in drawn.curves[m]:
            draw_curve(ax, c)
        set_s_axis(ax, sorted({s for c in drawn.curves[m] for s in c.s}))
        ax.set_title(f"m = {m}", fontsize=9)
        ax.set_xlabel("s")
        ax.grid(alpha=0.3)
    for ax in axes[len(drawn.widths) :]:
        ax.set_visible(False)
    axes[0].set_ylabel(tables[0].metric_name)
    legend = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    if legend:
        axes[0].legend(list(legend.values()), list(legend), fontsize=7)
    p = tables[0].panel
    batch = "full batch" if p.batch_size == 0 else f"batch {p.batch_size}"
    title = f"{p.task.upper()}, {p.num_layers} hidden, {batch}, {p.epochs} epochs: mean ± std over seeds"
    fig.suptitle(title + (f"\n{drawn.note}" if drawn.note else ""), fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: fig.savefig(f, format="png"))
    return drawn


def save_all_curves(tables: list[Table], results: list[dict], out_dir: Path) -> dict[Path, CurvesFigure]:
    """One curves figure per settings group of ``tables`` with two s values or more; the dense
    reference from ``results``."""
    groups: dict[tuple, list[Table]] = {}
    for table in tables:
        groups.setdefault(same_settings(table), []).append(table)
    groups = {key: group for key, group in groups.items() if len({s for t in group for s in t.slist}) > 1}
    dense = dense_tables(results)
    written = {}
    for key in sorted(groups):
        group = groups[key]
        group_dense = [t for t in dense if same_settings(t) == key]
        path = curves_path(out_dir, group[0])
        written[path] = save_curves(group, group_dense, path)
    return written
