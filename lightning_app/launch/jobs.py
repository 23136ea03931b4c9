"""Runs a grid's jobs: claims each job's points, records each point's outcome as soon as its job
ends, keeps results.csv current, and shows one progress bar for the whole sweep."""

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from tqdm.auto import tqdm

from lightning_app.launch.stops import resource_error, resource_stop
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.grid import GridPoint
from lightning_app.plan.identity import identity_changes
from lightning_app.plan.job import Job
from lightning_app.run.outcomes import COUNTED, job_outcome
from lightning_app.store.claims import DEFAULT_STALE_S, PointClaims
from lightning_app.store.finished import KEPT, GridState, previous_result
from lightning_app.store.results import write_csv, write_result

log = logging.getLogger("lightning_app.launch.jobs")

Submit = Callable[[Job], Future]


class GridRun:
    """Runs the jobs ``state`` has still to run under ``root``; ``run`` returns all the grid's
    results in grid order.

    ``submit(job)`` starts training a job (``lightning_app/plan/job.py``: one point, or every s of
    an IMP trajectory) and its future gives each point's result fields. Each point's outcome
    (``lightning_app/run/outcomes.py``) is written with the settings its job resolved as soon as
    the job ends, and the grid goes on; ``on_result(point, result)`` is called just before. At most
    ``workers`` jobs are in flight. Points are claimed before they run
    (``lightning_app/store/claims.py``): a point another sweep on ``root`` is running is waited for
    and its result kept (``overwrite`` redoes points finished before this sweep started, not those
    another sweep finishes meanwhile), or taken over if that sweep died (its claim older than
    ``claim_stale_s`` seconds, or its process gone). ``others``: results of the folder's points
    outside this grid, written to ``results.csv`` before this grid's.
    """

    def __init__(
        self,
        state: GridState,
        root: Path,
        submit: Submit,
        workers: int = 1,
        on_result: Callable[[GridPoint, dict], None] | None = None,
        progress: bool = True,
        overwrite: bool = False,
        claim_stale_s: float = DEFAULT_STALE_S,
        others: list[dict] | None = None,
    ) -> None:
        self.state, self.root, self.submit, self.workers = state, root, submit, workers
        self.others = list(others or [])  # results of the folder's other points, kept in results.csv
        self.on_result = on_result
        self.job_of = {point: job for job, _ in state.todo for point in job}
        self.results: dict[GridPoint, dict] = dict(state.kept)
        self.tally = {status: 0 for status in COUNTED} | {"kept": len(self.results)}
        self.pending: dict[Future, tuple[Job, list[GridPoint], float]] = {}
        self.claims = PointClaims(root, claim_stale_s, overwrite)
        self.bar = tqdm(
            total=len(state.order),
            initial=len(self.results),
            desc="sweep",
            unit="point",
            position=0,
            disable=not progress,
        )

    def run(self) -> list[dict]:
        try:
            with self.claims:
                for job, todo in self.claims.turns(
                    self.state.todo, self.adopt, idle=self.drain, read=self.read, tell=self.say
                ):
                    self.pending[self.submit(job)] = (job, todo, time.perf_counter())
                    while len(self.pending) >= self.workers:
                        self.drain()
                while self.pending:
                    self.drain()
        finally:
            self.bar.close()
        self.write_csv()
        return self.in_order()

    def in_order(self) -> list[dict]:
        return [self.results[p] for p in self.state.order if p in self.results]

    def write_csv(self) -> None:
        write_csv(self.root / "results.csv", [*self.others, *self.in_order()])

    def say(self, message: str) -> None:
        if self.bar.disable:
            log.warning(message)
        else:
            self.bar.write(message, file=sys.stderr)

    def drain(self, timeout: float | None = None) -> None:
        """Records the jobs that end within ``timeout`` seconds (the first to end, without one)."""
        if not self.pending:
            time.sleep(timeout or 0)
            return
        done, _ = wait(self.pending, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self.finish(future, *self.pending.pop(future))

    def finish(self, future: Future, job: Job, todo: list[GridPoint], start: float) -> None:
        """Writes the outcome of each point of ``todo`` of the ended ``job``; ResourceStop if the
        job, or writing its outcome, ran out of a resource (the points then have no result and
        run again next time)."""
        found = resource_error(future.exception())
        if found is not None:
            folder = self.root / todo[0].folder
            raise resource_stop(found, f"during the point {todo[0].folder}", folder) from future.exception()
        try:
            self.record(future, job, todo, start)
        except (OSError, MemoryError) as exc:
            found = resource_error(exc)
            if found is None:
                raise
            folder = self.root / todo[0].folder
            raise resource_stop(found, f"while recording the point {todo[0].folder}", folder) from exc

    def record(self, future: Future, job: Job, todo: list[GridPoint], start: float) -> None:
        outcome, trace = job_outcome(future, todo)
        if trace is not None:
            self.say(f"{todo[0].folder} failed:\n{trace}")
        wall_s = round(time.perf_counter() - start, 3)
        for p in todo:
            result = {**job.base_result(p), "wall_s": wall_s, **outcome[p]}  # a launcher's wall_s wins
            if self.on_result is not None:  # before result.json: a kill in between runs the point again
                self.on_result(p, result)
            write_result(self.root / p.folder, result)
            self.results[p] = result
            self.tally[result["status"]] += 1
            self.say(outcome_line(p, result, self.left()))
        self.claims.release(todo)
        self.advance(len(todo))

    def adopt(self, point: GridPoint, result: dict) -> None:
        """Keeps the result of a point another sweep on this folder finished meanwhile."""
        if result["status"] in KEPT:
            changes = identity_changes(result["identity"], self.job_of[point].identity)
            if changes:
                raise SettingsError(
                    f"{point.folder} was finished meanwhile by another sweep with other settings "
                    f"({'; '.join(changes)}); give each sweep its own --trainer.default_root_dir"
                )
        self.results[point] = result
        self.tally["kept"] += 1
        self.say(f"{point.folder}: {result['status']} (run by another sweep)")
        self.advance(1)

    def left(self) -> int:
        """Points of the grid without a result yet."""
        return len(self.state.order) - len(self.results)

    def advance(self, points: int) -> None:
        self.bar.update(points)
        self.bar.set_postfix(self.tally)
        self.write_csv()

    def read(self, point: GridPoint) -> dict | None:
        return previous_result(self.root / point.folder, point, self.say)


def outcome_line(point: GridPoint, result: dict, left: int | None = None) -> str:
    """``<folder>: <status> <metric>=<value> (<seconds> s[, <n> left])``, then the reason where
    it is not done."""
    metric = result.get("metric")
    shown = f"{metric:.4g}" if isinstance(metric, float) else str(metric)
    after = f"{result['wall_s']:.1f} s" + ("" if left is None else f", {left} left")
    line = f"{point.folder}: {result['status']} {result.get('metric_name')}={shown} ({after})"
    if result["status"] in ("diverged", "failed"):
        line += f": {result['error']}"
    return line
