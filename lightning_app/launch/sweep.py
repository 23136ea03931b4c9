"""A sweep from start to end: check where it runs and what is finished (stopping before anything
runs if a finished point had other settings), save its config, report unavailable panels, find
each panel's data, run the jobs here, in worker processes or as Ray tasks, then write the tables,
heatmaps and figures and log a summary."""

import logging
import os

from pytorch_lightning import LightningDataModule

from datamodules.task import SkipPoint
from lightning_app.launch.jobs import run_grid
from lightning_app.launch.workers import RunnerFactory, WorkerPool, gpu_ids, run_here
from lightning_app.plan.checks import check_draws, check_workers
from lightning_app.plan.grid import group_jobs
from lightning_app.plan.sweep_plan import SweepPlan, first_point
from lightning_app.run.hparams import log_point_hparams
from lightning_app.run.outcomes import summary
from lightning_app.run.point_run import PointRunner
from lightning_app.store.finished import scan_finished

log = logging.getLogger("lightning_app")


def run_sweep(plan: SweepPlan, make_worker_runner: RunnerFactory) -> list[dict]:
    """Runs ``plan``'s points not yet done and returns every point's result, in grid order.

    ``make_worker_runner`` builds the job runner of a worker process (used when the sweep runs
    on several GPUs or CPU workers, or as Ray tasks).
    """
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning_app").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s")
    config = plan.config
    root = plan.root
    on_ray = config.sweep.launcher == "ray"
    gpus = None
    for panel_config in plan.panel_configs:
        check_draws(config.sweep.draws, panel_config.trainer.accelerator, here=not on_ray)
    if not on_ray:  # a Ray launcher checks the accelerator against the cluster's resources
        for panel_config in plan.panel_configs:
            gpu_ids(panel_config.trainer.accelerator, panel_config.trainer.devices)
        gpus = gpu_ids(config.trainer.accelerator, config.trainer.devices)
        if not gpus:
            check_workers(config.sweep.workers, os.cpu_count() or 1)
    jobs = group_jobs(plan.points, plan.shared_trajectory)
    state = scan_finished(jobs, root, plan.identity, overwrite=config.sweep.overwrite, warn=log.warning)
    root.mkdir(parents=True, exist_ok=True)
    plan.save_config(root / "config.yaml")
    for panel, reason in plan.unavailable:
        log.warning("panel %s: not available yet, skipped: %s", panel.name, reason)
    prepare_data(plan)
    workers = len(gpus) if gpus else config.sweep.workers
    progress = config.trainer.enable_progress_bar is not False
    pool = None
    if on_ray:
        from lightning_app.launch.ray_launcher import RayLauncher  # ray: only when chosen

        pool = RayLauncher(make_worker_runner, root, config.sweep, config.trainer.accelerator)
        submit, workers = pool.submit, pool.in_flight
    elif workers > 1:
        pool = WorkerPool(make_worker_runner, workers, gpus)
        submit = pool.submit
    else:
        submit = run_here(PointRunner(plan, progress_bar=progress).run_job)
    try:
        results = run_grid(
            state,
            root,
            submit,
            plan.base_result,
            workers=workers,
            on_result=lambda point, result: log_point_hparams(root / point.folder, result),
            progress=progress,
            overwrite=config.sweep.overwrite,
            claim_stale_s=config.sweep.claim_stale_s,
        )
    finally:
        if pool is not None:
            pool.close()
    from lightning_app.report.figures import FIGURES_RUN, export_figures  # matplotlib: only when drawing
    from lightning_app.report.summary import SUMMARY_FILE

    written = export_figures(results, root, tb_log_dir=root / FIGURES_RUN)
    log.warning("tables, heatmaps, curves and figures: %d files under %s", len(written), root)
    log.warning(summary(results))
    log.warning("summary: %s", root / SUMMARY_FILE)
    return results


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
