"""Runs a grid's jobs: keeps finished points, records failures, keeps results.csv current, and
shows one progress bar for the whole sweep."""

import logging
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from tqdm.auto import tqdm

from datamodules.task import SkipPoint
from lightning_app.claims import DEFAULT_STALE_S, PointClaims
from lightning_app.grid import GridPoint
from lightning_app.results import read_result, write_csv, write_result

log = logging.getLogger("lightning_app.jobs")

Submit = Callable[[list[GridPoint]], Future]


def run_grid(
    jobs: list[list[GridPoint]],
    root: Path,
    submit: Submit,
    base_result: Callable[[GridPoint], dict],
    overwrite: bool = False,
    workers: int = 1,
    on_result: Callable[[GridPoint, dict], None] | None = None,
    progress: bool = True,
    claim_stale_s: float = DEFAULT_STALE_S,
) -> list[dict]:
    """Runs every point not already done; returns all the grid's results in grid order.

    A job is the points one run serves (one point, or every s of an IMP trajectory);
    ``submit(points)`` starts training them and its future gives each point's result fields.
    A job that raises ``SkipPoint`` is recorded as skipped (metric 0); any other exception as
    failed, with its message, and the grid goes on. Points already done are never rewritten
    unless ``overwrite``; a done point whose settings differ from this sweep's stops the sweep
    before anything runs. At most ``workers`` jobs are in flight; each result is written as
    soon as its job ends. Points are claimed before they run (``claims.py``): a point another
    sweep on ``root`` is running is waited for and its result kept, or taken over if that sweep
    died (its claim older than ``claim_stale_s`` seconds, or its process gone).
    """
    order = [p for job in jobs for p in job]
    results: dict[GridPoint, dict] = {}
    todo_jobs = []
    for job in jobs:
        todo = []
        for p in job:
            previous = read_result(root / p.folder)
            if overwrite or previous is None or previous.get("status") != "done":
                todo.append(p)
                continue
            _check_same_settings(p, previous, base_result(p))
            results[p] = previous
        if todo:
            todo_jobs.append((job, todo))

    bar = tqdm(
        total=len(order), initial=len(results), desc="sweep", unit="point", position=0, disable=not progress
    )
    counts = {"done": 0, "failed": 0, "skipped": 0, "kept": len(results)}

    def say(message: str) -> None:
        if bar.disable:
            log.warning(message)
        else:
            bar.write(message, file=sys.stderr)

    def finish(future: Future, job: list[GridPoint], todo: list[GridPoint], start: float) -> None:
        try:
            fields = future.result()
            outcome = {p: {**fields[p], "status": "done"} for p in todo}
        except SkipPoint as reason:
            outcome = {p: dict(status="skipped", metric=0.0, error=str(reason)) for p in todo}
        except Exception as exc:  # noqa: BLE001 - a failed job is recorded and the grid goes on
            error = f"{type(exc).__name__}: {exc}"
            outcome = {p: dict(status="failed", metric=None, error=error) for p in todo}
            say(f"{todo[0].folder} failed:\n{''.join(traceback.format_exception(exc))}")
        wall_s = round(time.perf_counter() - start, 3)
        for p in todo:
            result = {**base_result(p), "wall_s": wall_s, **outcome[p]}  # a launcher's own wall_s wins
            write_result(root / p.folder, result)
            results[p] = result
            if on_result is not None:
                on_result(p, result)
            counts[result["status"]] += 1
            metric = result.get("metric")
            shown = f"{metric:.4g}" if isinstance(metric, float) else str(metric)
            took = result["wall_s"]
            say(f"{p.folder}: {result['status']} {result.get('metric_name')}={shown} ({took:.1f} s)")
        claims.release(todo)
        bar.update(len(todo))
        bar.set_postfix(counts)
        write_csv(root / "results.csv", [results[p] for p in order if p in results])

    def adopt(point: GridPoint, result: dict) -> None:  # finished by another sweep on this folder
        if result.get("status") == "done":
            _check_same_settings(point, result, base_result(point))
        results[point] = result
        counts["kept"] += 1
        say(f"{point.folder}: {result.get('status')} (run by another sweep)")
        bar.update(1)
        bar.set_postfix(counts)
        write_csv(root / "results.csv", [results[p] for p in order if p in results])

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
            for job, todo in claims.turns(todo_jobs, adopt, idle=drain):
                pending[submit(job)] = (job, todo, time.perf_counter())
                while len(pending) >= workers:
                    drain()
            while pending:
                drain()
    finally:
        bar.close()
    write_csv(root / "results.csv", [results[p] for p in order if p in results])
    return [results[p] for p in order if p in results]


def _check_same_settings(point: GridPoint, previous: dict, current: dict) -> None:
    for key, value in current.items():
        if key in previous and previous[key] != value:
            raise ValueError(
                f"{point.folder}/result.json was done with {key}={previous[key]!r}, but this sweep "
                f"has {key}={value!r}: rerun with --sweep.overwrite true to redo such points, or "
                "choose another --trainer.default_root_dir"
            )
