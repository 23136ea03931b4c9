"""How well a run recovered the planted network: weight error and support after matching units.

The learned network is invariant to permuting its hidden units, so learned unit j is first
matched to a planted unit by ``scipy.optimize.linear_sum_assignment`` on squared distances.
"""

import numpy as np
from pytorch_lightning import Callback, LightningModule, Trainer

from datamodules.task import TaskDataModule


def recovery_metrics(learned: np.ndarray, planted: np.ndarray) -> dict[str, float]:
    """Relative error ‖ŵ − w*‖/‖w*‖ and support precision/recall after the best unit matching.

    Both arguments are m × d, one row per unit.
    """
    from scipy.optimize import linear_sum_assignment  # scipy's import costs start-up time: only here

    cost = (learned**2).sum(1)[:, None] + (planted**2).sum(1)[None, :] - 2 * learned @ planted.T
    rows, cols = linear_sum_assignment(cost)
    matched = np.zeros_like(planted)
    matched[rows] = planted[cols]
    error = np.linalg.norm(learned - matched) / max(np.linalg.norm(planted), np.finfo(float).tiny)
    found, true = learned != 0, matched != 0
    hits = np.logical_and(found, true).sum()
    return {
        "rel_weight_error": float(error),
        "support_precision": float(hits / found.sum()) if found.any() else 0.0,
        "support_recall": float(hits / true.sum()) if true.any() else 1.0,
    }


class PlantedRecovery(Callback):
    """At the end of training, compares a one-hidden-layer, scalar-output fit with the planted net.

    Logs ``recovery/*`` and keeps the numbers in ``self.metrics`` for the point's result.
    """

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        task = trainer.datamodule
        planted = task.planted_weights if isinstance(task, TaskDataModule) else None
        if planted is None or len(planted) != 1:
            return
        truth = planted[0].T  # (input_dim, m) -> one row per unit
        learned = pl_module.weight.detach().cpu().double().numpy()
        if learned.shape[1] > truth.shape[1]:  # the bias feature, absent from the planted net
            truth = np.pad(truth, ((0, 0), (0, learned.shape[1] - truth.shape[1])))
        self.metrics = recovery_metrics(learned, truth)
        for logger in trainer.loggers:
            logger.log_metrics({f"recovery/{k}": v for k, v in self.metrics.items()}, trainer.global_step)
