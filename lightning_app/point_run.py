"""Running one job of a sweep (the points one training run serves) and reading each point's
result fields off the trained model and the algorithm's callbacks."""

import time

from lightning_app.build import TrainingRun, build_run
from lightning_app.grid import GridPoint
from lightning_app.plan import SweepPlan


class PointRunner:
    """Trains jobs of ``plan``; ``device`` pins them to one GPU (a worker's), ``progress_bar``
    shows Lightning's bar for each run."""

    def __init__(self, plan: SweepPlan, device: int | None = None, progress_bar: bool = True) -> None:
        self.plan, self.device, self.progress_bar = plan, device, progress_bar

    def run_job(self, points: list[GridPoint]) -> dict[GridPoint, dict]:
        """Trains the points' one run and returns each point's result fields."""
        run = build_run(self.plan, points, self.device, self.progress_bar)
        start = time.perf_counter()
        run.trainer.fit(run.model, datamodule=run.datamodule)
        fit_s = round(time.perf_counter() - start, 3)
        run.logger.finalize("success")
        if points[0].method == "imp":
            return imp_results(run, points, fit_s)
        return {points[0]: aiht_result(run, fit_s)}


def imp_results(run: TrainingRun, points: list[GridPoint], fit_s: float) -> dict[GridPoint, dict]:
    """Each target's metric, nonzeros and round from IMP's record of its trajectory."""
    results = run.algorithm.results
    return {
        p: {
            "metric": results[p.s]["metric"],
            "nnz": results[p.s]["nnz"],
            "imp_round": results[p.s]["round"],
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
