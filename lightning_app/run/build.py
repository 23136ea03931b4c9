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
from lightning_app.plan.job import Job
from lightning_app.plan.sweep_plan import PointObjects
from lightning_app.run.checkpoints import DEFAULT_EVERY_S, point_checkpoints
from lightning_app.run.point_logger import PointLogger

CHECKPOINTS = "checkpoints"  # Lightning's folder under the logger's (the point's) folder
EVENTS = "events.out.tfevents.*"  # TensorBoard's events files, in the point's folder


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


def build_run(
    job: Job, objects: PointObjects, root: Path, device: int | None = None, progress_bar: bool = True
) -> TrainingRun:
    """The run that trains ``job``'s points from its configuration's ``objects``, logging under
    ``root``.

    ``device`` pins the trainer to that GPU (a worker's); ``progress_bar`` adds Lightning's bar
    for the run below the sweep's own.
    """
    config = job.config
    recovery = None
    extra: dict = {}
    if job.method == "imp":
        algorithm = IMP(targets=[p.s for p in job], **config.imp.as_dict())
        callbacks = [algorithm]
        extra = {"precision": config.sweep.imp_precision, "limit_val_batches": 0}
    else:
        algorithm = AIHT(sparsity=job[0].s, **config.aiht.as_dict())
        recovery = PlantedRecovery()
        layers = [LayerByLayer()] if job[0].num_layers > 1 else []
        callbacks = [*layers, algorithm, recovery]
    if device is not None:
        extra.update(accelerator="gpu", devices=[device])
    if not progress_bar:
        extra["enable_progress_bar"] = False
    elif objects.trainer_settings.get("enable_progress_bar") is not False:
        callbacks.append(TQDMProgressBar(process_position=1, leave=False))
    folder = root / job.folder
    # A point runs from the start: the checkpoints and TensorBoard events of an earlier run of it
    # (interrupted, or finished and now overwritten) are stale, and its curves would be drawn twice.
    shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    for events in folder.glob(EVENTS):
        events.unlink(missing_ok=True)
    logger = PointLogger(str(folder))
    every_s = config.sweep.get("checkpoint_every_s", DEFAULT_EVERY_S)
    callbacks += point_checkpoints(objects.trainer_settings, objects.user_callbacks, every_s)
    settings = {
        **objects.trainer_settings,
        "callbacks": objects.user_callbacks + callbacks,
        "logger": logger,
        "default_root_dir": str(folder),
        **extra,
    }
    trainer = Trainer(**settings)
    return TrainingRun(objects.datamodule, objects.model, trainer, logger, algorithm, recovery)
