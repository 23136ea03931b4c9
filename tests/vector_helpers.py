"""Running the real Lightning pipeline on tiny vector-output problems, recording every update."""

import numpy as np
import torch
from pytorch_lightning import Callback, LightningDataModule, Trainer

from callbacks.aiht import AIHT
from datamodules.planted import PlantedMLPDataModule
from datamodules.tensor_batches import TensorBatches
from tests.helpers import QUIET, gated_model


class VectorRecorder(Callback):
    """W1, W2 and gates after every update, and the batches each update saw."""

    def __init__(self) -> None:
        self.weights: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.gates: list[torch.Tensor] = []
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append((batch[0].detach().cpu().clone(), batch[1].detach().cpu().clone()))
        if not self.gates:
            self.gates.append(pl_module.gates.detach().cpu().clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        w1, w2 = pl_module.weight.detach().cpu().clone(), pl_module.output_weight.detach().cpu().clone()
        self.weights.append((w1, w2))
        self.gates.append(pl_module.gates.detach().cpu().clone())


class OneHotData(LightningDataModule):
    """Random inputs, one-hot labels of the argmax of a random linear map: for cross-entropy."""

    task_name, metric_name = "onehot", "psnr"

    def __init__(self, n: int, d: int, k: int, batch_size: int, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.RandomState(seed)
        x = rng.normal(size=(n, d))
        labels = (x @ rng.normal(size=(d, k))).argmax(1)
        self.x = torch.from_numpy(x)
        self.y = torch.nn.functional.one_hot(torch.from_numpy(labels), k).double()
        self.batch_size, self.seed, self.max_label = batch_size, seed, 1.0

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.x, self.y = self.x.to(device), self.y.to(device)

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x, self.y, self.batch_size, shuffle=True, seed=self.seed + 3)

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x, self.y, self.batch_size)


def tiny_vector_run(
    m: int = 4,
    s: int = 12,
    n: int = 64,
    d: int = 5,
    k: int = 3,
    seed: int = 0,
    epochs: int = 3,
    batch_size: int = 0,
    convex: bool = False,
    importance: str = "sketch",
    loss: str = "mse",
    start_rows: str | None = None,
    callbacks=(),
    ckpt_path=None,
    model_kwargs=None,
    **trainer_kwargs,
):
    if loss == "crossentropy":
        dm = OneHotData(n, d, k, batch_size, seed)
    else:
        dm = PlantedMLPDataModule(
            width=m, sparsity=s, seed=seed, nmeasurements=n, input_dim=d, output_dim=k, batch_size=batch_size
        )
    model = gated_model(width=m, input_dim=d, seed=seed, output_dim=k, loss=loss, **(model_kwargs or {}))
    rule = {} if start_rows is None else {"start_rows": start_rows}  # None: AIHT's default
    aiht = AIHT(sparsity=s, convex=convex, importance=importance, **rule)
    rec = VectorRecorder()
    kwargs = dict(
        max_epochs=epochs,
        precision="64-true",
        **QUIET,
    )
    kwargs.update(trainer_kwargs)
    trainer = Trainer(callbacks=[aiht, rec, *callbacks], **kwargs)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return trainer, model, dm, aiht, rec
