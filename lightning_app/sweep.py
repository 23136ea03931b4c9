"""Runs a grid point by point: skips finished points, records failures, keeps results.csv current."""

import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from lightning_app.errors import SkipPoint
from lightning_app.grid import GridPoint
from lightning_app.results import read_result, write_csv, write_result

log = logging.getLogger("lightning_app.sweep")

JobRunner = Callable[[list[GridPoint]], dict[GridPoint, dict]]


def run_grid(
    jobs: list[list[GridPoint]],
    root: Path,
    task: str,
    run_job: JobRunner,
    base_result: Callable[[GridPoint], dict],
    overwrite: bool = False,
) -> list[dict]:
    """Runs every point not already done; returns all the grid's results (in job order).

    A job is the points one run serves (one point, or every s of an IMP trajectory).
    ``run_job(points)`` trains them and returns each point's result fields. A job that raises
    ``SkipPoint`` is recorded as skipped (metric 0); any other exception as failed, with its
    message, and the grid goes on. Points already done are never rewritten unless ``overwrite``.
    """
    total = sum(len(job) for job in jobs)
    results, number = [], 0
    for job in jobs:
        previous = {p: read_result(root / p.folder(task)) for p in job}
        todo = [p for p in job if overwrite or (previous[p] or {}).get("status") != "done"]
        for p in job:
            if p not in todo:
                number += 1
                log.warning("[%d/%d] %s: done before, kept", number, total, p.folder(task))
                results.append(previous[p])
        if not todo:
            continue
        start = time.perf_counter()
        outcome: dict[GridPoint, dict] = {}
        try:
            fields = run_job(job)
            outcome = {p: {**fields[p], "status": "done"} for p in todo}
        except SkipPoint as reason:
            outcome = {p: dict(status="skipped", metric=0.0, error=str(reason)) for p in todo}
        except Exception as exc:  # noqa: BLE001 - a failed job is recorded and the grid goes on
            error = f"{type(exc).__name__}: {exc}"
            outcome = {p: dict(status="failed", metric=None, error=error) for p in todo}
            log.error("%s failed:\n%s", todo[0].folder(task), traceback.format_exc())
        wall_s = round(time.perf_counter() - start, 3)
        for p in todo:
            number += 1
            result = {**base_result(p), **outcome[p], "wall_s": wall_s}
            write_result(root / p.folder(task), result)
            results.append(result)
            log.warning(
                "[%d/%d] %s: %s %s=%s (%.1f s)",
                number,
                total,
                p.folder(task),
                result["status"],
                result.get("metric_name"),
                _fmt(result.get("metric")),
                wall_s,
            )
        write_csv(root / "results.csv", results)
    write_csv(root / "results.csv", results)
    return results


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
