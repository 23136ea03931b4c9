"""Per-step scalars written straight to the loggers (``modules/step_scalars.py``) give the events that
Lightning's ``self.log(..., on_step=True, on_epoch=False)`` gives: the same tags, steps and values,
with its ``epoch`` scalar and its ``log_every_n_steps``; and values written from an epoch-end hook
those of ``self.log`` there."""

import math

import pytest
import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from modules.step_scalars import StepScalars, write_epoch_scalars


class Batches:
    def __init__(self, batches: int) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        for i in range(self.batches):
            yield torch.full((4, 2), float(i), dtype=torch.float64)


class Logs(LightningModule):
    """Logs a tensor, a float, an infinity and (from a callback) a scalar at the batch's end, by
    Lightning's ``self.log`` or by ``StepScalars``."""

    def __init__(self, direct: bool) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
        self.direct = direct
        self.step_scalars = StepScalars()

    def log_step(self, values: dict) -> None:
        if self.direct:
            self.step_scalars.add(self.trainer, values)
        else:
            self.log_dict(values, on_step=True, on_epoch=False)

    def training_step(self, batch, batch_idx):
        loss = (batch @ self.weight).square().mean() / 7
        self.log_step({"train/loss": loss.detach(), "train/third": 1 / 3 + batch_idx, "train/inf": math.inf})
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.step_scalars.write(self.trainer)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


class LogsAtBatchAndEpochEnd(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        pl_module.log_step({"train/late": float(trainer.global_step) + 0.1})

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        values = {"round/value": trainer.current_epoch / 3, "round/tensor": torch.tensor(2.0 / 3)}
        if pl_module.direct:
            write_epoch_scalars(trainer, values)
        else:
            pl_module.log_dict(values)


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("every", [1, 2])
def test_the_events_of_lightnings_step_logging(tmp_path, every):
    events = {}
    for direct in (False, True):
        folder = tmp_path / str(direct)
        logger = TensorBoardLogger(save_dir=str(folder), name="", version="", default_hp_metric=False)
        trainer = Trainer(
            max_epochs=3,
            logger=logger,
            log_every_n_steps=every,
            callbacks=[LogsAtBatchAndEpochEnd()],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            accelerator="cpu",
        )
        trainer.fit(Logs(direct), train_dataloaders=Batches(3))
        logger.finalize("success")
        events[direct] = scalars(folder)
    lightning, direct = events[False], events[True]
    assert set(lightning) == {
        "train/loss",
        "train/third",
        "train/inf",
        "train/late",
        "epoch",
        "round/value",
        "round/tensor",
    }
    logged_steps = [step for step in range(9) if (step + 1) % every == 0]
    assert [step for step, _ in lightning["train/loss"]] == logged_steps
    assert [step for step, _ in lightning["round/value"]] == [2, 5, 8]  # each epoch's last step
    epochs = sorted([(step, step // 3) for step in logged_steps] + [(2, 0), (5, 1), (8, 2)])
    assert sorted((step, value) for step, value in lightning["epoch"]) == epochs
    assert direct == lightning
