"""One training run's objects, per method: the point's datamodule and model, the algorithm's
callbacks (AIHT with layer-by-layer training and the planted-recovery metrics, or IMP), and a
Trainer from the config's trainer settings that logs to the point's TensorBoard folder."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import TensorBoardLogger

from callbacks.aiht import AIHT, LayerByLayer
from callbacks.imp import IMP
from callbacks.recovery import PlantedRecovery
from datamodules.task import TaskDataModule
from lightning_app.plan.grid import GridPoint
from lightning_app.plan.sweep_plan import SweepPlan

CHECKPOINTS = "checkpoints"  # Lightning's folder under the logger's (the point's) folder


@dataclass
class TrainingRun:
    """What ``trainer.fit(model, datamodule=datamodule)`` needs, and the callbacks whose state
    holds the results."""

    datamodule: TaskDataModule
    model: LightningModule
    trainer: Trainer
    logger: TensorBoardLogger
    algorithm: AIHT | IMP
    recovery: PlantedRecovery | None


def log_folder(plan: SweepPlan, points: list[GridPoint]) -> Path:
    """Where a run logs: the point's folder, or its IMP trajectory's when it serves every s."""
    first = points[0]
    shared = len(points) > 1 or plan.shared_trajectory(first)
    return plan.root / (first.trajectory_folder if shared else first.folder)


def build_run(
    plan: SweepPlan, points: list[GridPoint], device: int | None = None, progress_bar: bool = True
) -> TrainingRun:
    """The run that trains ``points`` (one point, or every s of one IMP trajectory).

    ``device`` pins the trainer to that GPU (a worker's); ``progress_bar`` adds Lightning's bar
    for the run below the sweep's own.
    """
    first = points[0]
    config = plan.panel_config(first)
    objects = plan.objects(first)
    extra: dict = {}
    recovery = None
    if first.method == "imp":
        algorithm = IMP(targets=[p.s for p in points], **config.imp.as_dict())
        callbacks = [algorithm]
        extra = {"precision": config.sweep.imp_precision, "limit_val_batches": 0}
    else:
        algorithm = AIHT(sparsity=first.s, **config.aiht.as_dict())
        recovery = PlantedRecovery()
        layers = [LayerByLayer()] if first.num_layers > 1 else []
        callbacks = [*layers, algorithm, recovery]
    if device is not None:
        extra.update(accelerator="gpu", devices=[device])
    if not progress_bar:
        extra["enable_progress_bar"] = False
    elif objects.trainer_settings.get("enable_progress_bar") is not False:
        callbacks.append(TQDMProgressBar(process_position=1, leave=False))
    folder = log_folder(plan, points)
    # A point runs from the start: checkpoints of an earlier, interrupted run of it are stale.
    shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    logger = TensorBoardLogger(save_dir=str(folder), name="", version="", default_hp_metric=False)
    settings = {
        **objects.trainer_settings,
        "callbacks": objects.user_callbacks + callbacks,
        "logger": logger,
        "default_root_dir": str(folder),
        **extra,
    }
    trainer = Trainer(**settings)
    return TrainingRun(objects.datamodule, objects.model, trainer, logger, algorithm, recovery)
