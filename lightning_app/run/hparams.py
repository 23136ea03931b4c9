"""Each point's settings and metric in TensorBoard's HParams tab, also for skipped and failed
points, so that ``cli.py heatmap --logdir`` can rebuild the tables from the event files."""

import math
from pathlib import Path

from lightning_app.run.point_logger import PointLogger


def log_point_hparams(folder: Path, result: dict) -> None:
    """Logs ``result``'s plain values as hparams and its metric as ``hp_metric`` (NaN if none)."""
    logger = PointLogger(str(folder))
    hparams = {k: v for k, v in result.items() if isinstance(v, (bool, int, float, str))}
    metric = result.get("metric")
    logger.log_hyperparams(hparams, metrics={"hp_metric": math.nan if metric is None else float(metric)})
    logger.finalize("success")
