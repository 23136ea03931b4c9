"""``summary.md`` of a run folder: the grid, how many points ended in each status, the best and
worst cells of each panel, and the figures embedded by relative links, so that a figure run can
be read without TensorBoard (written at the end of a sweep and by ``cli.py heatmap``).

Statuses are counted as they come (``done``, ``diverged``, ``failed`` and ``skipped`` always shown, any other
status a point records after them). A cell's value is its mean over the seeds that finished;
the best cell is the highest mean (the lowest for ``rel_error``, where lower is better).
"""

from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np

from lightning_app.files.safe_write import write_text
from lightning_app.report.tables import PanelKey, Table, group_panels

SUMMARY_FILE = "summary.md"
MAIN_STATUSES = ("done", "diverged", "failed", "skipped")
LOWER_IS_BETTER = {"rel_error"}


def status_counts(results: list[dict]) -> dict[str, int]:
    """Points per status: done, diverged, failed, skipped first (even at 0), then any other, sorted."""
    counts = Counter(str(r.get("status")) for r in results)
    others = sorted(set(counts) - set(MAIN_STATUSES))
    return {status: counts.get(status, 0) for status in (*MAIN_STATUSES, *others)}


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def extreme_cells(table: Table) -> tuple[dict, dict] | None:
    """The best and worst cells by mean over seeds (m, s, mean, std, seeds); None if no cell
    has a value. Ties go to the first cell in (m, s) order."""
    mean = table.mean()
    if not np.isfinite(mean).any():
        return None
    filled = np.where(np.isnan(mean), -np.inf, mean)
    emptied = np.where(np.isnan(mean), np.inf, mean)
    high = np.unravel_index(np.argmax(filled), mean.shape)
    low = np.unravel_index(np.argmin(emptied), mean.shape)
    best, worst = (low, high) if table.metric_name in LOWER_IS_BETTER else (high, low)
    std, counts = table.std(), table.counts()

    def cell(at: tuple) -> dict:
        i, j = at
        return dict(m=table.mlist[i], s=table.slist[j], mean=mean[at], std=std[at], seeds=int(counts[at]))

    return cell(best), cell(worst)


def cell_line(name: str, cell: dict, metric: str) -> str:
    spread = f", std {cell['std']:.4g}" if np.isfinite(cell["std"]) else ""
    seeds = cell["seeds"]
    return (
        f"- {name}: m={cell['m']}, s={cell['s']}: {metric} {cell['mean']:.4g} "
        f"(mean of {seeds} seed{'s' if seeds != 1 else ''}{spread})"
    )


def image(path: Path, root: Path, alt: str) -> str:
    """A Markdown image of ``path``, linked relative to ``root`` (the names hold spaces)."""
    return f"![{alt}]({quote(path.relative_to(root).as_posix())})"


def write_summary(
    results: list[dict],
    tables: list[Table],
    heatmaps: dict[PanelKey, tuple[Path, Path | None]],
    shared: list[Path],
    root: Path,
) -> Path:
    """Writes ``root/summary.md``. ``heatmaps`` holds each panel's mean and std heatmaps,
    ``shared`` the task figures and curves; all under ``root``."""
    counts = status_counts(results)
    lines = [f"# Summary of `{root.name or root}`", ""]
    lines += [f"{len(results)} grid points: {counts_text(counts)}.", ""]
    lines += ["## Grid", ""]
    statuses = list(counts)
    lines.append("| panel | m | s | seeds | " + " | ".join(statuses) + " |")
    lines.append("|---" * (4 + len(statuses)) + "|")
    by_panel = group_panels(results)
    for table in tables:
        here = Counter(str(r.get("status")) for r in by_panel[table.panel])
        row = [table.panel.title, str(table.mlist), str(table.slist), str(table.seeds)]
        row += [str(here.get(status, 0)) for status in statuses]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for table in tables:
        lines += [f"## {table.panel.title}", ""]
        extremes = extreme_cells(table)
        if extremes is None:
            lines.append("- no cell has a finished seed")
        else:
            lines.append(cell_line("best", extremes[0], table.metric_name))
            lines.append(cell_line("worst", extremes[1], table.metric_name))
        if table.panel in heatmaps:
            mean, spread = heatmaps[table.panel]
            shown = image(mean, root, "mean over seeds")
            if spread is not None:  # None: one seed, no spread
                shown += " " + image(spread, root, "std over seeds")
            lines += ["", shown]
        lines.append("")
    if shared:
        lines += ["## Figures", ""]
        lines += [line for p in shared for line in (image(p, root, p.stem), "")]
    path = root / SUMMARY_FILE
    write_text(path, "\n".join(lines))
    return path
