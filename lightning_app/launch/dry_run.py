"""``cli.py fit ... --sweep.dry_run true``: what a sweep would do, run and written nothing.

Per panel: its grid (m, s, seeds), how many of its points are finished (a ``result.json`` that is
done or diverged; with ``--sweep.overwrite true`` none counts), claimed by a live sweep on the
same folder (``lightning_app/store/claims.py``), or left to run, and the time left: the runs left
(one per point, or one per IMP trajectory serving every s) times the mean wall time of the
panel's finished runs, divided among ``sweep.workers``. A panel without a finished run gets no
estimate, unless ``--sweep.calibrate true``: then its first run left (its smallest m and s) is
trained once in a temporary folder, deleted afterwards, and its wall time stands for every run
of the panel, a lower bound where runs grow with m and s. Without calibration the dry run says
which point to run first to measure the panel.
"""

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jsonargparse import ArgumentParser

from lightning_app.plan.job import Job
from lightning_app.plan.sweep_plan import SweepPlan
from lightning_app.run.point_run import PointRunner
from lightning_app.store.claims import held_by_another
from lightning_app.store.finished import KEPT
from lightning_app.store.folder_results import read_folder_result
from lightning_app.store.results import RESULT_FILE

HEADER = "dry run: nothing runs and nothing is written"


@dataclass
class PanelCount:
    """One panel's points by state, its runs left and the wall times of its finished runs."""

    name: str
    points: int = 0
    finished: int = 0
    claimed: int = 0
    left: int = 0
    runs_left: int = 0
    run_seconds: list[float] = field(default_factory=list)
    first_left: Job | None = None
    calibrated: bool = False  # run_seconds holds one calibration run, not finished runs

    def seconds_left(self) -> float | None:
        if not self.run_seconds:
            return None
        return self.runs_left * sum(self.run_seconds) / len(self.run_seconds)


def count_panel(plan: SweepPlan, index: int) -> PanelCount:
    """The state of panel ``index``'s points under the plan's folder, read only."""
    config = plan.config.sweep
    count = PanelCount(plan.available[index].name)
    for job in (j for j in plan.jobs if j[0].panel == index):
        states = [point_state(plan, p, config.overwrite, config.claim_stale_s) for p in job]
        count.points += len(job)
        for state in ("finished", "claimed", "left"):
            setattr(count, state, getattr(count, state) + states.count(state))
        if "left" in states:
            count.runs_left += 1
            count.first_left = count.first_left or job
        elif all(isinstance(s, str) and s == "finished" for s in states):
            walls = [wall_s(plan, p) for p in job]
            if None not in walls:
                count.run_seconds.append(max(walls))
    return count


def point_state(plan: SweepPlan, point, overwrite: bool, stale_after: float) -> str:
    """``finished``, ``claimed`` or ``left``."""
    folder = plan.root / point.folder
    result = read_folder_result(folder / RESULT_FILE)
    if result is not None and result["status"] in KEPT and not overwrite:
        return "finished"
    return "claimed" if held_by_another(folder, stale_after) else "left"


def wall_s(plan: SweepPlan, point) -> float | None:
    result = read_folder_result(plan.root / point.folder / RESULT_FILE)
    value = None if result is None else result.get("wall_s")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def panel_lines(plan: SweepPlan, index: int, count: PanelCount, workers: int) -> list[str]:
    panel = plan.available[index]
    seeds = plan.config.sweep.seedlist
    lines = [
        f"panel {count.name}: m {panel.mlist} x s {panel.slist} x seed {seeds} = {count.points} points",
        f"  {count.finished} finished, {count.claimed} claimed by another sweep, {count.left} left "
        f"({count.runs_left} run{'s' if count.runs_left != 1 else ''})",
    ]
    seconds = count.seconds_left()
    if count.runs_left == 0:
        return lines
    first = count.first_left[0]
    if seconds is None:
        lines.append(
            f"  time left: unknown, no finished run in this panel; to measure one, run its first "
            f"point: --sweep.mlist {first.m} --sweep.slist {first.s} --sweep.seedlist {first.seed} "
            f"--sweep.method {first.method} --sweep.num_layers {first.num_layers} (or add "
            "--sweep.calibrate true)"
        )
    elif count.calibrated:
        lines.append(
            f"  time left: at least {duration(seconds / workers)} ({count.runs_left} runs x "
            f"{count.run_seconds[0]:.1f} s, its run m={first.m}, s={first.s} timed now, on "
            f"{workers} worker(s))"
        )
    else:
        mean = sum(count.run_seconds) / len(count.run_seconds)
        lines.append(
            f"  time left: about {duration(seconds / workers)} ({count.runs_left} runs x {mean:.1f} s, "
            f"the mean of its {len(count.run_seconds)} finished runs, on {workers} worker(s))"
        )
    return lines


def add_dry_run_arguments(parser: ArgumentParser) -> None:
    """``--sweep.dry_run`` and ``--sweep.calibrate`` (module docstring)."""
    parser.add_argument(
        "--sweep.dry_run",
        type=bool,
        default=False,
        help="List the panels, their points finished, claimed and left, and the time left; run "
        "and write nothing.",
    )
    parser.add_argument(
        "--sweep.calibrate",
        type=bool,
        default=False,
        help="With sweep.dry_run: time the first run left of each panel without a finished run, "
        "in a temporary folder deleted afterwards, for the time left.",
    )


def calibrate(plan: SweepPlan, job: Job) -> float:
    """The wall time of ``job`` trained once in a temporary folder, deleted afterwards."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dry_run_") as folder:
        start = time.perf_counter()
        PointRunner(plan.build, Path(folder), progress_bar=False).run_job(job)
        return time.perf_counter() - start


def dry_run_report(plan: SweepPlan) -> str:
    """The dry run's text (module docstring)."""
    workers = max(1, plan.config.sweep.workers)
    lines = [f"{HEADER}; folder {plan.root}"]
    counts = [count_panel(plan, i) for i in range(len(plan.available))]
    if plan.config.sweep.calibrate:
        for count in counts:
            if count.runs_left and not count.run_seconds:
                count.run_seconds, count.calibrated = [calibrate(plan, count.first_left)], True
    for index, count in enumerate(counts):
        lines += panel_lines(plan, index, count, workers)
    for panel, reason in plan.unavailable:
        lines.append(f"panel {panel.name}: not available here, would be skipped: {reason}")
    totals = {k: sum(getattr(c, k) for c in counts) for k in ("points", "finished", "claimed", "left")}
    known = [c.seconds_left() for c in counts if c.runs_left]
    total = f"{totals['points']} points: {totals['finished']} finished, {totals['claimed']} claimed, "
    total += f"{totals['left']} left"
    if known and None not in known:
        bound = "at least" if any(c.calibrated for c in counts) else "about"
        total += f"; time left: {bound} {duration(sum(known) / workers)}"
    elif known:
        total += "; time left: unknown for the panels without a finished run"
    return "\n".join([*lines, f"total: {total}"])
