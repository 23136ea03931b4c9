"""A point's checkpoints: at the end of an epoch, as Lightning's default ``ModelCheckpoint`` saves
them, but only once ``sweep.checkpoint_every_s`` seconds of training have passed since the fit
started or since the last checkpoint. A point shorter than that writes none; a long one loses at
most that much work to an interruption. Saving at epoch ends only, as before, keeps a resumed fit
equal to a whole one (the tests resume from such checkpoints); 0 saves after every epoch."""

import time

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint

DEFAULT_EVERY_S = 60.0


class TimedCheckpoint(ModelCheckpoint):
    """Lightning's per-epoch checkpoint (the latest one kept), skipped until ``every_s`` seconds
    have passed since the fit's start or the last checkpoint. ``kwargs`` go to ``ModelCheckpoint``."""

    def __init__(self, every_s: float, **kwargs) -> None:
        super().__init__(every_n_epochs=1, **kwargs)
        self.every_s = every_s
        self._since = time.monotonic()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._since = time.monotonic()

    def _due(self) -> bool:
        return time.monotonic() - self._since >= self.every_s

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._due():
            super().on_train_epoch_end(trainer, pl_module)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._due():
            super().on_validation_end(trainer, pl_module)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        self._since = time.monotonic()


def point_checkpoints(
    trainer_settings: dict, user_callbacks: list[Callback], every_s: float
) -> list[Callback]:
    """The checkpoint callback a point's run adds: none where checkpointing is off or where the
    config gives its own ``ModelCheckpoint``; with ``every_s`` 0, Lightning's default (after every
    epoch); else a ``TimedCheckpoint``. Either is replaced when saved again, never versioned
    (``-v1``, ``-v2``, … would pile up across interrupted runs)."""
    if trainer_settings.get("enable_checkpointing") is False:
        return []
    if any(isinstance(c, ModelCheckpoint) for c in user_callbacks):
        return []
    if every_s == 0:
        return [ModelCheckpoint(enable_version_counter=False)]
    return [TimedCheckpoint(every_s, enable_version_counter=False)]
