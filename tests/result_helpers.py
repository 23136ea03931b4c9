"""Result dicts made by hand, and logged to TensorBoard as the sweep logs them, for the tests of
the outputs (tables, heatmaps, curves, summaries)."""

import csv
import math
from pathlib import Path

import numpy as np
from pytorch_lightning.loggers import TensorBoardLogger

MLIST, SLIST, SEEDS = [1, 2, 5], [10, 20], [0, 1]
GRID_NAME = "hidden1_m[1, 2, 5]_s[10, 20]_seed[0, 1]_convexFalse_bs0_biasFalse_15epochs_.npy"
AIHT_NAME = f"MLP_PLANTED/aiht/{GRID_NAME}"
IMP_NAME = f"MLP_PLANTED/pruning/{GRID_NAME}"


def point(method="aiht", m=1, s=10, seed=0, metric=1.0, status="done", **extra) -> dict:
    result = dict(
        task="mlp_planted",
        method=method,
        num_layers=1,
        m=m,
        s=s,
        seed=seed,
        metric_name="psnr",
        metric=metric,
        status=status,
        epochs=15,
        batch_size=0,
    )
    if method == "aiht":
        result["convex"] = False
    return {**result, **extra}


def handmade_grid(method="aiht", offset=0.0) -> tuple[list[dict], np.ndarray]:
    """Results of a 3 × 2 × 2 grid with one skipped, one failed and one missing point, and the
    table they must give."""
    results, expected = [], np.full((3, 2, 2), np.nan)
    for i, m in enumerate(MLIST):
        for j, s in enumerate(SLIST):
            for k, seed in enumerate(SEEDS):
                value = 100.0 * i + 10.0 * j + k + 0.25 + offset
                if (m, s, seed) == (2, 10, 1):
                    results.append(point(method, m, s, seed, metric=0.0, status="skipped"))
                    expected[i, j, k] = 0.0
                elif (m, s, seed) == (5, 20, 0):
                    results.append(point(method, m, s, seed, metric=None, status="failed", error="boom"))
                elif (m, s, seed) != (5, 20, 1):
                    results.append(point(method, m, s, seed, metric=value))
                    expected[i, j, k] = value
    return results, expected


def log_point(folder: Path, result: dict) -> None:
    """A grid point's hparams and hp_metric, logged as the sweep logs them."""
    metric = result.get("metric")
    logger = TensorBoardLogger(save_dir=str(folder), name="", version="", default_hp_metric=False)
    logger.log_hyperparams(result, metrics={"hp_metric": math.nan if metric is None else metric})
    logger.finalize("success")


def point_folder(root: Path, r: dict) -> Path:
    return root / f"{r['task']}/{r['method']}/hidden{r['num_layers']}/m{r['m']}_s{r['s']}_seed{r['seed']}"


def csv_rows(path: Path) -> list[dict]:
    """The rows of a CSV file (``results.csv``) as dicts, the file closed again."""
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))
