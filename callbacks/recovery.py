"""How well a run recovered the planted network: weight error and support after matching units.

The learned network is invariant to permuting its hidden units, so learned unit j is first
matched to a planted unit by ``scipy.optimize.linear_sum_assignment`` on squared distances.
Only units with nonzeros take part: with u learned and v planted such units out of m, the
assignment is between the u learned units padded with zero units and the v planted ones padded
likewise, min(m, u + v) on each side. Any assignment of all m units pairs the other units zero
with zero at no cost, and every nonzero unit is matched either to a nonzero unit or to a zero
one, of which the padding offers as many as the m units could; so the best cost, and the
numbers below, are those of the m × m assignment, at a size that grows with s, not m.
"""

import numpy as np
from pytorch_lightning import Callback, LightningModule, Trainer

from datamodules.task import TaskDataModule


def unit_rows(units: np.ndarray, features: np.ndarray, values: np.ndarray, dim: int) -> np.ndarray:
    """The rows (one per distinct unit holding a nonzero, ascending) of the entries
    (units[i], features[i]) = values[i] of a units × ``dim`` matrix; zero entries are dropped."""
    keep = values != 0
    ids, row = np.unique(units[keep], return_inverse=True)
    out = np.zeros((len(ids), dim))
    out[row, features[keep]] = values[keep]
    return out


def recovery_metrics(learned: np.ndarray, planted: np.ndarray, width: int) -> dict[str, float]:
    """Relative error ‖ŵ − w*‖/‖w*‖ and support precision/recall after the best unit matching.

    ``learned`` and ``planted`` hold the rows of their units that have nonzeros (any order, all
    with the same number of columns); the other units of the ``width`` are zero.
    """
    from scipy.optimize import linear_sum_assignment  # scipy's import costs start-up time: only here

    size = min(width, len(learned) + len(planted))
    if len(learned) > width or len(planted) > width:
        raise ValueError(f"more nonzero units ({len(learned)}, {len(planted)}) than the width {width}")
    dim = learned.shape[1]
    rows = np.concatenate([learned, np.zeros((size - len(learned), dim))])
    truth = np.concatenate([planted, np.zeros((size - len(planted), dim))])
    cost = (rows**2).sum(1)[:, None] + (truth**2).sum(1)[None, :] - 2 * rows @ truth.T
    pick_rows, pick_cols = linear_sum_assignment(cost)
    matched = np.zeros_like(truth)
    matched[pick_rows] = truth[pick_cols]
    error = np.linalg.norm(rows - matched) / max(np.linalg.norm(planted), np.finfo(float).tiny)
    found, true = rows != 0, matched != 0
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
        units, features, values = pl_module.hidden_nonzeros()
        dim = max(pl_module.input_dim, planted[0].shape[0])  # the bias feature is absent from the planted net
        learned = unit_rows(units, features, values, dim)
        layer = planted[0]  # input_dim × m: entry (feature, unit)
        truth = unit_rows(layer.cols, layer.rows, layer.values, dim)
        self.metrics = recovery_metrics(learned, truth, pl_module.width)
        for logger in trainer.loggers:
            logger.log_metrics({f"recovery/{k}": v for k, v in self.metrics.items()}, trainer.global_step)
