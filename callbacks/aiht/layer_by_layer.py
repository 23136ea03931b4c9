"""Deeper networks for AIHT (SPEC §4): one hidden layer at a time, as a callback.

``trainer.max_epochs`` is the epochs of one layer; the fit runs L times as many. At the start
of each later layer the module freezes the finished layer (sparsely) and starts the next on
its features, and this callback maps the data once: every TensorBatches loader's inputs
become relu(x W^T) of the newly frozen layer, the same labels throughout. A run resumed in a
later layer, mid-epoch included, maps fresh loaders through all frozen layers before they are
used.

The paper's code builds the training loader afresh for every layer, reseeded as for layer 1, so
each layer sees the same sequence of minibatch orders as layer 1 did, from its first draw on
(SPEC §4). Before every epoch this callback tells the training loader where its layer started
(``TensorBatches.restart``), so a run resumed mid-layer gets the same orders.
"""

from pytorch_lightning import Callback, LightningModule, Trainer
from torch import Tensor


class LayerByLayer(Callback):
    """Trains ``pl_module.num_layers`` hidden layers in turn, ``trainer.max_epochs`` epochs each."""

    def __init__(self) -> None:
        self.epochs_per_layer: int | None = None
        self.active = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.active = pl_module.num_layers > 1 and pl_module.network == "gated"
        if not self.active:
            return
        if self.epochs_per_layer is None:
            if trainer.max_epochs is None or trainer.max_epochs < 1:
                raise ValueError("deeper AIHT needs trainer.max_epochs >= 1: the epochs of one layer")
            self.epochs_per_layer = trainer.max_epochs
        trainer.fit_loop.max_epochs = self.epochs_per_layer * pl_module.num_layers

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # A run resumed from a mid-epoch checkpoint (or one saved at an epoch's last batch) gets
        # no on_train_epoch_start for the epoch it resumes in: bring the layer and loaders here.
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        target = min(trainer.current_epoch // self.epochs_per_layer, pl_module.num_layers - 1)
        while pl_module.layer < target:
            for logger in trainer.loggers:
                logger.log_metrics({f"train/nnz_layer{pl_module.layer}": float(pl_module.layer_nnz())})
            pl_module.advance_layer()
        pl_module.layer_start_epoch = pl_module.layer * self.epochs_per_layer
        self._map(trainer.train_dataloader, pl_module)
        for loader in self._loaders(trainer.train_dataloader):
            loader.restart(pl_module.layer_start_epoch)
        self._map(trainer.val_dataloaders, pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        self._map(trainer.val_dataloaders, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.active:
            return
        pl_module.log("train/layer", float(pl_module.layer + 1), on_step=True, on_epoch=False)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        for logger in trainer.loggers:
            logger.log_metrics({f"train/nnz_layer{pl_module.layer}": float(pl_module.layer_nnz())})

    @staticmethod
    def _loaders(loaders) -> list:
        """The loaders as a list, each one a TensorBatches (``datamodules/tensor_batches.py``)."""
        if loaders is None:
            return []
        loaders = list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]
        if not all(hasattr(loader, "feature_layers") and hasattr(loader, "restart") for loader in loaders):
            raise TypeError("deeper AIHT maps the data layer by layer: use TensorBatches loaders")
        return loaders

    @classmethod
    def _map(cls, loaders, pl_module: LightningModule) -> None:
        """Brings each loader's inputs to the features of the layer in training, once."""
        done: dict[tuple[int, int], Tensor] = {}
        for loader in cls._loaders(loaders):
            while loader.feature_layers < pl_module.layer:
                i, key = loader.feature_layers, (id(loader.x), loader.feature_layers)
                if key not in done:
                    done[key] = pl_module.frozen.apply_layer(i, loader.x)
                loader.x = done[key]
                loader.feature_layers += 1
