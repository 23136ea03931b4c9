"""Deeper networks for AIHT (docs/algorithms.md: deeper networks): one hidden layer at a time, as a callback.

``trainer.max_epochs`` is the epochs of one layer; the fit runs L times as many. At the start
of each later layer the network freezes the finished layer (sparsely) and starts the next on
its features (``LayeredNetwork``, ``modules/aiht_network.py``), and this callback maps the data
once: every TensorBatches loader's inputs become relu(x W^T) of the newly frozen layer, the same
labels throughout. A run resumed in a later layer, mid-epoch included, maps fresh loaders through
all frozen layers before they are used.

The paper's code builds the training loader afresh for every layer, reseeded as for layer 1, so
each layer sees the same sequence of minibatch orders as layer 1 did, from its first draw on
(docs/algorithms.md: deeper networks). Before every epoch this callback tells the training loader where its
layer started (``TensorBatches.restart``), so a run resumed mid-layer gets the same orders.
"""

from pytorch_lightning import Callback, LightningModule, Trainer
from torch import Tensor

from modules.aiht_network import LayeredNetwork


class LayerByLayer(Callback):
    """Trains the network's ``num_layers`` hidden layers in turn, ``trainer.max_epochs`` epochs each."""

    def __init__(self) -> None:
        self.epochs_per_layer: int | None = None
        self.active = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        net = pl_module.net
        self.active = isinstance(net, LayeredNetwork) and net.num_layers > 1
        if not self.active:
            return
        if self.epochs_per_layer is None:
            if trainer.max_epochs is None or trainer.max_epochs < 1:
                raise ValueError("deeper AIHT needs trainer.max_epochs >= 1: the epochs of one layer")
            self.epochs_per_layer = trainer.max_epochs
        trainer.fit_loop.max_epochs = self.epochs_per_layer * net.num_layers

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # A run resumed from a mid-epoch checkpoint (or one saved at an epoch's last batch) gets
        # no on_train_epoch_start for the epoch it resumes in: bring the layer and loaders here.
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        net = pl_module.net
        target = min(trainer.current_epoch // self.epochs_per_layer, net.num_layers - 1)
        while net.layer < target:
            for logger in trainer.loggers:
                logger.log_metrics({f"train/nnz_layer{net.layer}": float(net.layer_nnz())})
            net.advance_layer(pl_module.device)
        net.set_layer_start_epoch(net.layer * self.epochs_per_layer)
        self._map(trainer.train_dataloader, net)
        for loader in self._loaders(trainer.train_dataloader):
            loader.restart(net.layer_start_epoch)
        self._map(trainer.val_dataloaders, net)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        self._map(trainer.val_dataloaders, pl_module.net)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.active:
            return
        pl_module.log_step({"train/layer": float(pl_module.net.layer + 1)})

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.active:
            return
        for logger in trainer.loggers:
            net = pl_module.net
            logger.log_metrics({f"train/nnz_layer{net.layer}": float(net.layer_nnz())})

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
    def _map(cls, loaders, net: LayeredNetwork) -> None:
        """Brings each loader's inputs to the features of the layer in training, once."""
        done: dict[tuple[int, int], Tensor] = {}
        for loader in cls._loaders(loaders):
            while loader.feature_layers < net.layer:
                i, key = loader.feature_layers, (id(loader.x), loader.feature_layers)
                if key not in done:
                    done[key] = net.apply_frozen(i, loader.x)
                loader.x = done[key]
                loader.feature_layers += 1
