"""A sweep from start to end: check where it runs and what is finished (stopping before anything
runs if a finished point had other settings), save its config, report unavailable panels, find
each panel's data, run the jobs here, in worker processes or as Ray tasks, then write the tables,
heatmaps and figures of every finished point in the folder (other sweeps' too) and log a
summary of this sweep's points."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from pytorch_lightning import LightningDataModule

from datamodules.task import SkipPoint
from lightning_app.files.safe_write import remove_dead_temporaries
from lightning_app.launch.jobs import GridRun
from lightning_app.launch.stops import Interrupted, resource_error, resource_stop
from lightning_app.launch.workers import RunnerFactory, WorkerPool, gpu_ids, run_here
from lightning_app.plan.checks import check_draws, check_workers
from lightning_app.plan.job import Job
from lightning_app.plan.sweep_plan import SweepPlan, first_point
from lightning_app.run.hparams import log_point_hparams
from lightning_app.run.outcomes import summary
from lightning_app.run.point_run import PointRunner
from lightning_app.store.finished import GridState, scan_finished
from lightning_app.store.folder_results import folder_results, with_folder_results
from lightning_app.store.results import RESULT_FILE

if TYPE_CHECKING:
    from lightning_app.launch.ray_launcher import RayLauncher

log = logging.getLogger("lightning_app")


def run_sweep(plan: SweepPlan, make_worker_runner: RunnerFactory) -> list[dict]:
    """Runs ``plan``'s points not yet done and returns every point's result, in grid order.

    ``make_worker_runner`` builds the job runner of a worker process (used when the sweep runs
    on several GPUs or CPU workers, or as Ray tasks). An interrupt (``stops.Interrupted``) is
    passed on with the phase it came in and what is kept; a resource error (no space, no memory,
    a read-only folder) becomes a ``stops.ResourceStop`` naming it, its path and the phase.
    """
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning_app").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s")
    phase = "while starting"
    try:
        state, gpus = start(plan)
        phase = "during the points"
        results, done = run_points(plan, state, make_worker_runner, gpus)
        phase = "during the final outputs"
        write_outputs(results, done, plan.root)
    except Interrupted as exc:
        exc.phase, exc.kept = phase, kept_points(plan)
        raise
    except (OSError, MemoryError) as exc:
        found = resource_error(exc)
        if found is None:
            raise
        raise resource_stop(found, phase, plan.root) from exc
    return results


def start(plan: SweepPlan) -> tuple[GridState, list[int] | None]:
    """Checks where the sweep runs and what is finished (removing temporaries that killed
    processes left), saves its config, reports unavailable panels and finds each panel's data."""
    config, root = plan.config, plan.root
    gpus = check_where(plan)
    if root.is_dir():
        remove_dead_temporaries(root)
    state = scan_finished(plan.jobs, root, overwrite=config.sweep.overwrite, warn=log.warning)
    root.mkdir(parents=True, exist_ok=True)
    plan.save_config(root / "config.yaml")
    for panel, reason in plan.unavailable:
        log.warning("panel %s: not available yet, skipped: %s", panel.name, reason)
    prepare_data(plan)
    return state, gpus


def run_points(
    plan: SweepPlan, state: GridState, make_worker_runner: RunnerFactory, gpus: list[int] | None
) -> tuple[list[dict], list[tuple[str, dict]]]:
    """Runs the points ``state`` has still to run; stops the workers at once if it is cut short.
    Returns every point's result in grid order, and this sweep's finished points by folder."""
    config, root = plan.config, plan.root
    progress = config.trainer.enable_progress_bar is not False and shows_bars()
    others = list(folder_results(root, log.warning, skip={p.folder for p in state.order}).values())
    pool, submit, workers = launcher(plan, make_worker_runner, gpus, progress)
    try:
        grid_run = GridRun(
            state,
            root,
            submit,
            workers=workers,
            on_result=lambda point, result: log_point_hparams(root / point.folder, result),
            progress=progress,
            overwrite=config.sweep.overwrite,
            claim_stale_s=config.sweep.claim_stale_s,
            others=others,
        )
        results = grid_run.run()
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    if pool is not None:
        pool.close()
    done = [(point.folder, grid_run.results[point]) for point in state.order if point in grid_run.results]
    return results, done


def write_outputs(results: list[dict], done: list[tuple[str, dict]], root: Path) -> None:
    """The tables, heatmaps, curves and figures of every finished point under ``root`` (this
    sweep's ``done`` and the folder's others), and this sweep's summary in the log."""
    from lightning_app.report.figures import FIGURES_RUN, export_figures  # matplotlib: only when drawing
    from lightning_app.report.summary import SUMMARY_FILE

    everything = with_folder_results(root, done, warn=lambda _: None)  # named when the sweep began
    written = export_figures(everything, root, tb_log_dir=root / FIGURES_RUN)
    log.warning("tables, heatmaps, curves and figures: %d files under %s", len(written), root)
    log.warning(summary(results))
    log.warning("summary: %s", root / SUMMARY_FILE)


def kept_points(plan: SweepPlan) -> str:
    """How many of the plan's points have a result kept on disk, in words."""
    points = [p for job in plan.jobs for p in job]
    kept = sum(os.path.lexists(plan.root / p.folder / RESULT_FILE) for p in points)
    return f"{kept} of {len(points)} points have their result kept under {plan.root}"


def shows_bars() -> bool:
    """Whether the sweep's bar and Lightning's are drawn: only on a terminal. Piped or sent to a
    file, the sweep writes one line per finished point and the summary instead."""
    return sys.stdout.isatty()


def check_where(plan: SweepPlan) -> list[int] | None:
    """The GPUs the sweep's points run on here (None: the CPU, or a Ray cluster, which checks its
    own resources); SettingsError if the machine cannot run them as configured."""
    config = plan.config
    on_ray = config.sweep.launcher == "ray"
    for panel_config in plan.panel_configs:
        check_draws(config.sweep.draws, panel_config.trainer.accelerator, here=not on_ray)
    if on_ray:
        return None
    for panel_config in plan.panel_configs:
        gpu_ids(panel_config.trainer.accelerator, panel_config.trainer.devices)
    gpus = gpu_ids(config.trainer.accelerator, config.trainer.devices)
    if not gpus:
        check_workers(config.sweep.workers, os.cpu_count() or 1)
    return gpus


def launcher(
    plan: SweepPlan, make_worker_runner: RunnerFactory, gpus: list[int] | None, progress: bool
) -> tuple[RayLauncher | WorkerPool | None, Callable[[Job], Future], int]:
    """Where the jobs run: (the pool to close at the end, or None; how a job is submitted; how
    many jobs are kept in flight)."""
    config = plan.config
    if config.sweep.launcher == "ray":
        from lightning_app.launch.ray_launcher import RayLauncher  # ray: only when chosen

        pool = RayLauncher(make_worker_runner, plan.root, config.sweep, config.trainer.accelerator)
        return pool, pool.submit, pool.in_flight
    workers = len(gpus) if gpus else config.sweep.workers
    if workers > 1:
        pool = WorkerPool(make_worker_runner, workers, gpus)
        return pool, pool.submit, workers
    return None, run_here(PointRunner(plan.build, plan.root, progress_bar=progress).run_job), 1


def prepare_data(plan: SweepPlan) -> None:
    """Downloads (or finds) each panel's data once, so a missing dataset stops here, not per point."""
    for panel_config, panel in zip(plan.panel_configs, plan.available, strict=True):
        datamodule = plan.instantiate(panel_config, first_point(panel)).datamodule
        if type(datamodule).prepare_data is LightningDataModule.prepare_data:
            continue  # nothing to download or find: the data is drawn per point
        datamodule.prepare_data()
        try:
            datamodule.setup("fit")
        except SkipPoint:
            pass
