"""What a job's end means for each of its points, and the sweep's summary.

- ``done``: the run ended and the point's metric is a finite number.
- ``diverged``: the iterates became non-finite (the callbacks raise ``FloatingPointError``): an
  outcome of the algorithm, recorded with metric null (NaN in the paper's tables) and kept.
- ``skipped``: the point cannot be run meaningfully (``SkipPoint``), metric 0 as in the paper.
- ``failed``: anything else, with its reason, including a metric that is not a finite number
  (e.g. PSNR −inf of an all-zero prediction); it runs again next time.
"""

import math
import traceback
from concurrent.futures import Future

from datamodules.task import SkipPoint
from lightning_app.plan.grid import GridPoint

COUNTED = ("done", "diverged", "skipped", "failed")


def job_outcome(future: Future, points: list[GridPoint]) -> tuple[dict[GridPoint, dict], str | None]:
    """Each point's outcome fields (status, metric, error, …) from its job's ended future, and
    the traceback of a failure (None if there was none) for the log."""
    try:
        fields = future.result()
    except SkipPoint as reason:
        return {p: dict(status="skipped", metric=0.0, error=str(reason)) for p in points}, None
    except FloatingPointError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return {p: dict(status="diverged", metric=None, error=error) for p in points}, None
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded and the grid goes on
        error = f"{type(exc).__name__}: {exc}"
        return {p: dict(status="failed", metric=None, error=error) for p in points}, "".join(
            traceback.format_exception(exc)
        )
    return {p: _checked(fields[p]) for p in points}, None


def _checked(fields: dict) -> dict:
    metric = fields.get("metric")
    if isinstance(metric, int | float) and not isinstance(metric, bool) and math.isfinite(metric):
        return {**fields, "metric": float(metric), "status": "done"}
    return {
        **fields,
        "metric": None,
        "status": "failed",
        "error": f"the run ended with metric {metric!r}, which is not a finite number",
    }


def counts(results: list[dict]) -> dict[str, int]:
    """How many results have each status."""
    return {status: sum(r.get("status") == status for r in results) for status in COUNTED}


def summary(results: list[dict]) -> str:
    """One line of counts, then one line per failed point with its reason."""
    c = counts(results)
    text = f"sweep: {len(results)} points: " + ", ".join(f"{c[s]} {s}" for s in COUNTED)
    failed = [r for r in results if r.get("status") == "failed"]
    if failed:
        text += "\nfailed points (they run again next time):"
        for r in failed:
            point = GridPoint(r["task"], r["method"], r["num_layers"], r["m"], r["s"], r["seed"])
            text += f"\n  {point.folder}: {r.get('error')}"
    return text
