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

PointRunner = Callable[[GridPoint, Path], dict]


def run_grid(
    points: list[GridPoint],
    root: Path,
    task: str,
    run_point: PointRunner,
    base_result: Callable[[GridPoint], dict],
    overwrite: bool = False,
) -> list[dict]:
    """Runs every point not already done; returns all the grid's results (in grid order).

    ``run_point(point, folder)`` trains one point and returns its result fields. A point that
    raises ``SkipPoint`` is recorded as skipped (metric 0); any other exception as failed,
    with its message, and the grid goes on.
    """
    results = []
    for number, point in enumerate(points, 1):
        folder = root / point.folder(task)
        previous = read_result(folder)
        if previous is not None and previous.get("status") == "done" and not overwrite:
            log.warning("[%d/%d] %s: done before, kept", number, len(points), point.folder(task))
            results.append(previous)
            continue
        result = base_result(point)
        start = time.perf_counter()
        try:
            result.update(run_point(point, folder))
            result["status"] = "done"
        except SkipPoint as reason:
            result.update(status="skipped", metric=0.0, error=str(reason))
        except Exception as exc:  # noqa: BLE001 - a failed point is recorded and the grid goes on
            result.update(status="failed", metric=None, error=f"{type(exc).__name__}: {exc}")
            log.error("point %s failed:\n%s", point.folder(task), traceback.format_exc())
        result["wall_s"] = round(time.perf_counter() - start, 3)
        write_result(folder, result)
        results.append(result)
        write_csv(root / "results.csv", results)
        log.warning(
            "[%d/%d] %s: %s %s=%s (%.1f s)",
            number,
            len(points),
            point.folder(task),
            result["status"],
            result.get("metric_name"),
            _fmt(result.get("metric")),
            result["wall_s"],
        )
    write_csv(root / "results.csv", results)
    return results


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
