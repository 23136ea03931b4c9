"""Runs a grid's jobs: claims each job's points, records each point's outcome as soon as its job
ends, keeps results.csv current, and shows one progress bar for the whole sweep."""

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from tqdm.auto import tqdm

from lightning_app.plan.errors import SettingsError
from lightning_app.plan.grid import GridPoint
from lightning_app.plan.identity import identity_changes
from lightning_app.run.outcomes import COUNTED, job_outcome
from lightning_app.store.claims import DEFAULT_STALE_S, PointClaims
from lightning_app.store.finished import KEPT, GridState, previous_result
from lightning_app.store.results import write_csv, write_result

log = logging.getLogger("lightning_app.launch.jobs")

Submit = Callable[[list[GridPoint]], Future]


def run_grid(
    state: GridState,
    root: Path,
    submit: Submit,
    base_result: Callable[[GridPoint], dict],
    workers: int = 1,
    on_result: Callable[[GridPoint, dict], None] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    claim_stale_s: float = DEFAULT_STALE_S,
) -> list[dict]:
    """Runs the jobs ``state`` has still to run; returns all the grid's results in grid order.

    A job is the points one run serves (one point, or every s of an IMP trajectory);
    ``submit(points)`` starts training them and its future gives each point's result fields.
    Each point's outcome (``lightning_app/run/outcomes.py``) is written with ``base_result(point)``
    as soon as its job ends, and the grid goes on. At most ``workers`` jobs are in flight.
    Points are claimed before they run (``claims.py``): a point another sweep on ``root`` is
    running is waited for and its result kept (``overwrite`` redoes points finished before this
    sweep started, not those another sweep finishes meanwhile), or taken over if that sweep died
    (its claim older than ``claim_stale_s`` seconds, or its process gone).
    """
    results: dict[GridPoint, dict] = dict(state.kept)
    bar = tqdm(
        total=len(state.order),
        initial=len(results),
        desc="sweep",
        unit="point",
        position=0,
        disable=not progress,
    )
    tally = {status: 0 for status in COUNTED} | {"kept": len(results)}

    def say(message: str) -> None:
        if bar.disable:
            log.warning(message)
        else:
            bar.write(message, file=sys.stderr)

    def finish(future: Future, job: list[GridPoint], todo: list[GridPoint], start: float) -> None:
        outcome, trace = job_outcome(future, todo)
        if trace is not None:
            say(f"{todo[0].folder} failed:\n{trace}")
        wall_s = round(time.perf_counter() - start, 3)
        for p in todo:
            result = {**base_result(p), "wall_s": wall_s, **outcome[p]}  # a launcher's wall_s wins
            if on_result is not None:  # before result.json: a kill in between runs the point again
                on_result(p, result)
            write_result(root / p.folder, result)
            results[p] = result
            tally[result["status"]] += 1
            metric = result.get("metric")
            shown = f"{metric:.4g}" if isinstance(metric, float) else str(metric)
            took = result["wall_s"]
            line = f"{p.folder}: {result['status']} {result.get('metric_name')}={shown} ({took:.1f} s)"
            if result["status"] in ("diverged", "failed"):
                line += f": {result['error']}"
            say(line)
        claims.release(todo)
        bar.update(len(todo))
        bar.set_postfix(tally)
        write_csv(root / "results.csv", [results[p] for p in state.order if p in results])

    def adopt(point: GridPoint, result: dict) -> None:  # finished by another sweep on this folder
        if result["status"] in KEPT:
            changes = identity_changes(result["identity"], base_result(point)["identity"])
            if changes:
                raise SettingsError(
                    f"{point.folder} was finished meanwhile by another sweep with other settings "
                    f"({'; '.join(changes)}); give each sweep its own --trainer.default_root_dir"
                )
        results[point] = result
        tally["kept"] += 1
        say(f"{point.folder}: {result['status']} (run by another sweep)")
        bar.update(1)
        bar.set_postfix(tally)
        write_csv(root / "results.csv", [results[p] for p in state.order if p in results])

    def read(point: GridPoint) -> dict | None:
        return previous_result(root / point.folder, point, say)

    pending: dict[Future, tuple] = {}

    def drain(timeout: float | None = None) -> None:
        if not pending:
            time.sleep(timeout or 0)
            return
        done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            finish(future, *pending.pop(future))

    claims = PointClaims(root, claim_stale_s, overwrite)
    try:
        with claims:
            for job, todo in claims.turns(state.todo, adopt, idle=drain, read=read):
                pending[submit(job)] = (job, todo, time.perf_counter())
                while len(pending) >= workers:
                    drain()
            while pending:
                drain()
    finally:
        bar.close()
    write_csv(root / "results.csv", [results[p] for p in state.order if p in results])
    return [results[p] for p in state.order if p in results]
