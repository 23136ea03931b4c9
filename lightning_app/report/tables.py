"""Results tables (docs/algorithms.md: the grid): grid points grouped into panels, one (m, s, seed) array
per panel, saved as ``.npy`` under the file name the paper's ``runner.py`` gives it.

A panel is one heatmap of the paper: one task, method, depth, epoch count, batch size, convex
flag and bias flag. Its table has shape (len(mlist), len(slist), len(seeds)); a point that is
done holds its metric, a skipped point 0.0 (as the paper's code records it), a diverged, failed
or missing point NaN (the paper's tables hold NaN where AIHT diverged). ``Table.diverged`` marks
the diverged points, so that heatmaps can tell them from missing ones.
"""

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lightning_app.files.safe_write import write_whole

#: Degrees of freedom removed in the spread over seeds: 1, the sample standard deviation.
STD_DDOF = 1

#: The paper's name for each method, used in its results folders.
PAPER_METHOD = {"aiht": "aiht", "imp": "pruning"}


class PanelKey(NamedTuple):
    """What tells one heatmap from another (everything but m, s and seed)."""

    task: str
    method: str
    num_layers: int
    epochs: int
    batch_size: int
    convex: bool
    bias: bool

    @property
    def folder(self) -> str:
        """The paper's results folder: ``<TASK>/<method>`` with IMP called ``pruning``."""
        return f"{self.task.upper()}/{PAPER_METHOD.get(self.method, self.method)}"

    @property
    def title(self) -> str:
        """A short human name, e.g. ``MLP_PLANTED aiht, 1 hidden, full batch, 15 epochs``."""
        batch = "full batch" if self.batch_size == 0 else f"batch {self.batch_size}"
        parts = [f"{self.task.upper()} {self.method}", f"{self.num_layers} hidden", batch]
        parts.append(f"{self.epochs} epochs")
        if self.convex:
            parts.append("convex")
        if self.bias:
            parts.append("bias")
        return ", ".join(parts)


def _flag(value) -> bool:
    """A missing (or None) flag is False; "True"/"False" strings are read as such."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def panel_of(result: dict) -> PanelKey:
    """The panel a result dict belongs to (missing ``convex``/``bias`` count as False)."""
    return PanelKey(
        task=str(result["task"]),
        method=str(result["method"]),
        num_layers=int(result["num_layers"]),
        epochs=int(result["epochs"]),
        batch_size=int(result["batch_size"]),
        convex=_flag(result.get("convex")),
        bias=_flag(result.get("bias")),
    )


def cell_value(result: dict) -> float:
    """The number a point puts in its table: done → metric, skipped → 0.0, anything else → NaN."""
    status = result.get("status")
    if status == "skipped":
        return 0.0
    if status == "done":
        metric = result.get("metric")
        if metric is None:
            return math.nan
        return float(metric)
    return math.nan


def dense_value(result: dict) -> float:
    """IMP's dense reference (``dense_metric``) of a done point; NaN where it has none."""
    dense = result.get("dense_metric")
    if result.get("status") != "done" or dense is None:
        return math.nan
    return float(dense)


def paper_file_name(
    panel: PanelKey, mlist: list[int], slist: list[int], seeds: list[int], expname: str = ""
) -> str:
    """The ``.npy`` file name of the paper's ``runner.py`` for this panel and grid.

    Lists are written as Python prints them (``[1, 2, 5]``); with the default empty ``expname``
    the name ends ``epochs_.npy``.
    """
    m, s, seed = ([int(v) for v in values] for values in (mlist, slist, seeds))
    return (
        f"hidden{panel.num_layers}_m{m}_s{s}_seed{seed}_convex{bool(panel.convex)}"
        f"_bs{panel.batch_size}_bias{bool(panel.bias)}_{panel.epochs}epochs_{expname}.npy"
    )


@dataclass
class Table:
    """One panel's results: ``values[i, j, k]`` is the metric at mlist[i], slist[j], seeds[k]."""

    panel: PanelKey
    metric_name: str
    mlist: list[int]
    slist: list[int]
    seeds: list[int]
    values: np.ndarray
    diverged: np.ndarray | None = None  # bool, the shape of values: the point diverged

    def diverged_cells(self) -> np.ndarray:
        """(m, s) cells where some seed diverged."""
        if self.diverged is None:
            return np.zeros(self.values.shape[:2], dtype=bool)
        return self.diverged.any(axis=2)

    def file_name(self, expname: str = "") -> str:
        return paper_file_name(self.panel, self.mlist, self.slist, self.seeds, expname)

    def relative_path(self, expname: str = "") -> Path:
        """``<TASK>/<method>/<paper file name>``, as the paper's code saves it."""
        return Path(self.panel.folder) / self.file_name(expname)

    def mean(self) -> np.ndarray:
        """Mean over seeds, NaN (failed or missing) seeds left out; NaN where every seed is."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            return np.nanmean(self.values, axis=2)

    def std(self) -> np.ndarray:
        """Sample standard deviation over seeds (``ddof=1``: divided by n − 1), NaN seeds left
        out; NaN where fewer than two seeds have a value."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            return np.nanstd(self.values, axis=2, ddof=STD_DDOF)

    def counts(self) -> np.ndarray:
        """How many seeds have a value (done or skipped) in each cell."""
        return np.sum(~np.isnan(self.values), axis=2)


def build_table(
    results: list[dict],
    mlist: list[int] | None = None,
    slist: list[int] | None = None,
    seeds: list[int] | None = None,
    value=cell_value,
) -> Table:
    """The table of one panel's results.

    The axes are the given lists, or else the sorted distinct m, s and seed of the results;
    results outside given lists are left out. Where two results share (m, s, seed) the later
    one in the list wins. ``value(result)`` is the number a result puts in its cell.
    """
    if not results:
        raise ValueError("build_table needs at least one result")
    panels = {panel_of(r) for r in results}
    if len(panels) > 1:
        raise ValueError(f"results of one table must share a panel, got {sorted(panels)}")
    panel = panels.pop()
    axes = []
    for given, key in ((mlist, "m"), (slist, "s"), (seeds, "seed")):
        axes.append([int(v) for v in given] if given is not None else sorted({int(r[key]) for r in results}))
    mlist, slist, seeds = axes
    index = [{v: i for i, v in enumerate(axis)} for axis in axes]
    values = np.full((len(mlist), len(slist), len(seeds)), np.nan, dtype=np.float64)
    diverged = np.zeros(values.shape, dtype=bool)
    for r in results:
        at = [index[a].get(int(r[key])) for a, key in enumerate(("m", "s", "seed"))]
        if None not in at:
            values[tuple(at)] = value(r)
            diverged[tuple(at)] = r.get("status") == "diverged"
    names = [r.get("metric_name") for r in results if r.get("metric_name")]
    return Table(panel, names[0] if names else "metric", mlist, slist, seeds, values, diverged)


def group_panels(results: list[dict]) -> dict[PanelKey, list[dict]]:
    """Results by panel, panels in sorted order, results in their given order."""
    groups: dict[PanelKey, list[dict]] = {}
    for r in results:
        groups.setdefault(panel_of(r), []).append(r)
    return {panel: groups[panel] for panel in sorted(groups)}


def build_tables(results: list[dict]) -> list[Table]:
    """One table per panel, on that panel's own sorted m, s and seed values."""
    return [build_table(group) for group in group_panels(results).values()]


def save_table(table: Table, root: Path, expname: str = "") -> Path:
    """Writes the table (float64) to ``root/<TASK>/<method>/<paper file name>``; returns the path."""
    path = Path(root) / table.relative_path(expname)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, lambda f: np.save(f, np.asarray(table.values, dtype=np.float64)))
    return path
