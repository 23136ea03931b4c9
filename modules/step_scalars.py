"""Per-step training scalars written straight to the trainer's loggers.

``LightningModule.log(..., on_step=True, on_epoch=False)`` keeps every value in Lightning's result
collection, moves it between devices, and at the end of the step converts the collection and hands
it to the loggers: on a 2-core CPU about 0.5 ms per step of IMP's one scalar and 3 ms per step of
AIHT's five, more than a small network's whole step. Nothing reads these values back (the
progress bar shows none, and checkpoints monitor validation metrics), so they are gathered here
and written once per step, with what Lightning adds: the same step number (the optimiser steps
taken before this one), an ``epoch`` scalar, and only on the steps Lightning would log
(``trainer.log_every_n_steps``). The events are the ones Lightning's logging writes, tag for tag
and step for step.

``write_epoch_scalars`` writes values at once, as Lightning writes what ``self.log`` was given in
an ``on_train_epoch_end`` hook (IMP's per-round values): each value costs Lightning a torchmetrics
state that it resets at every epoch's end, which with one full-batch step per epoch is every step.
"""

from collections.abc import Mapping

from pytorch_lightning import Trainer
from torch import Tensor


class StepScalars:
    """The scalars of the step being trained; ``write`` hands them to the loggers at its end."""

    def __init__(self) -> None:
        self.pending: dict[str, float | Tensor] = {}

    def add(self, trainer: Trainer, values: Mapping[str, float | Tensor]) -> None:
        """Keeps ``values`` for this step's write, if the step is one that is logged."""
        if trainer.loggers and trainer._logger_connector.should_update_logs:
            self.pending.update(values)

    def write(self, trainer: Trainer) -> None:
        """Writes the step's scalars (Python floats; a tensor's value read once) and forgets them."""
        if not self.pending:
            return
        values, self.pending = self.pending, {}
        _write(trainer, values, trainer.fit_loop.epoch_loop._batches_that_stepped)


def write_epoch_scalars(trainer: Trainer, values: Mapping[str, float | Tensor]) -> None:
    """Writes ``values`` from an ``on_train_epoch_end`` hook, at the step Lightning gives epoch-end
    values (that of the epoch's last optimiser step)."""
    _write(trainer, values, trainer.fit_loop.epoch_loop._batches_that_stepped - 1)


def _write(trainer: Trainer, values: Mapping[str, float | Tensor], step: int) -> None:
    """``values`` as Python floats (a tensor's value read once) and the ``epoch`` scalar, to every
    logger of the trainer at ``step``."""
    if not trainer.loggers:
        return
    scalars = {name: float(value) for name, value in values.items()}
    scalars["epoch"] = trainer.current_epoch
    for logger in trainer.loggers:
        logger.log_metrics(scalars, step)
