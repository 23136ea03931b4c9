"""Running one job of a sweep (the points one training run serves), reading each point's
result fields off the trained model and the algorithm's callbacks, and exporting each point's
trained network (``lightning_app/run/export.py``) unless ``sweep.export`` is false."""

import time
from collections.abc import Callable
from pathlib import Path

from jsonargparse import Namespace

from lightning_app.plan.grid import GridPoint
from lightning_app.plan.job import Job
from lightning_app.plan.sweep_plan import PointObjects
from lightning_app.run.build import TrainingRun, build_run
from lightning_app.run.export import NetworkLayers, aiht_network, imp_network, write_export
from lightning_app.run.versions import software_versions


class PointRunner:
    """Trains jobs: ``build(config)`` gives fresh instances of a job configuration's classes, the
    runs log under ``root``; ``device`` pins them to one GPU (a worker's), ``progress_bar`` shows
    Lightning's bar for each run."""

    def __init__(
        self,
        build: Callable[[Namespace], PointObjects],
        root: Path,
        device: int | None = None,
        progress_bar: bool = True,
    ) -> None:
        self.build, self.root, self.device, self.progress_bar = build, Path(root), device, progress_bar

    def run_job(self, job: Job) -> dict[GridPoint, dict]:
        """Trains the job's one run and returns each of its points' result fields."""
        run = build_run(job, self.build(job.config), self.root, self.device, self.progress_bar)
        start = time.perf_counter()
        run.trainer.fit(run.model, datamodule=run.datamodule)
        fit_s = round(time.perf_counter() - start, 3)
        run.logger.finalize("success")
        if job.method == "imp":
            results = imp_results(run, list(job), fit_s)
        else:
            results = {job[0]: aiht_result(run, fit_s)}
        versions = software_versions(cupy=job.config.sweep.draws == "cupy")
        for p in job:
            results[p]["versions"] = versions
        if run.model.net.exportable:  # the Gaussian sensing task has no network
            for p in job:
                results[p].update(self.export(job, p, trained_network(run, p), results[p]))
        return results

    def export(self, job: Job, point: GridPoint, network: NetworkLayers, fields: dict) -> dict:
        """The network's per-layer nonzero counts, and its file unless ``sweep.export`` is false."""
        out = {"nnz_layers": network.nnz_per_layer()}
        if job.export:
            info = {**job.base_result(point), **fields, "nnz_layers": out["nnz_layers"]}
            out.update(write_export(self.root / point.folder, network, info))
        return out


def trained_network(run: TrainingRun, point: GridPoint) -> NetworkLayers:
    """The network whose metric the point reports."""
    if point.method == "imp":
        return imp_network(run.algorithm.networks[point.s])
    return aiht_network(run.model)


def imp_results(run: TrainingRun, points: list[GridPoint], fit_s: float) -> dict[GridPoint, dict]:
    """Each target's metric, nonzeros and round from IMP's record of its trajectory, and the
    dense network's metric at the end of the first round (the dense reference)."""
    results = run.algorithm.results
    return {
        p: {
            "metric": results[p.s]["metric"],
            "nnz": results[p.s]["nnz"],
            "imp_round": results[p.s]["round"],
            "dense_metric": run.algorithm.dense_metric,
            "fit_s": fit_s,
        }
        for p in points
    }


def aiht_result(run: TrainingRun, fit_s: float) -> dict:
    """The final metric (validated once more if the fit's last epoch did not), the budget, the
    update count, the network's storage (dense or compact) and, on planted data, the recovery
    metrics."""
    key = f"val/{run.datamodule.metric_name}"
    if key not in run.trainer.callback_metrics:
        run.trainer.validate(run.model, datamodule=run.datamodule, verbose=False)
    return {
        "metric": float(run.trainer.callback_metrics[key]),
        "nnz": run.model.nnz(),
        "s_effective": run.algorithm.budget(run.model),
        "updates": run.algorithm.updates,
        "storage": run.model.storage,
        "fit_s": fit_s,
        **run.recovery.metrics,
    }
