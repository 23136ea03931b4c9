"""The shared shape of the real-data tasks: arrays made once in ``setup`` and held as tensors on
the trainer's device in its dtype, served by ``TensorBatches`` (full batch when ``batch_size`` is
0); files are downloaded only in ``prepare_data``, and only when ``download`` is true."""

import numpy as np
import torch
from pytorch_lightning import LightningDataModule

from datamodules.tensor_batches import TensorBatches
from lightning_app.precision import trainer_dtype

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class ArrayDataModule(LightningDataModule):
    """Subclasses set ``task_name``, ``metric_name``, ``input_dim`` (features before the bias
    feature) and ``output_dim``, and implement ``fetch`` (download) and ``arrays`` (read).

    Args:
        seed: the run's seed; it orders the minibatches (torch, as a shuffled DataLoader after
            ``torch.manual_seed(seed)``).
        data_dir: where the datasets live, in torchvision's layout.
        download: download missing files in ``prepare_data``.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature.
    """

    task_name = "custom"
    metric_name = "metric"
    input_dim = 0
    output_dim = 1
    max_label = 1.0
    # The paper's IMP loaders (SPEC §5): full batch unshuffled (INR: shuffled); measured on the
    # unshuffled evaluation loader.
    imp_shuffles_full_batch = False
    imp_measures_on_training_loader = False

    def __init__(
        self,
        seed: int = 0,
        data_dir: str = "data/",
        download: bool = True,
        batch_size: int = 0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 0:
            raise ValueError(f"data.batch_size must be 0 (full batch) or positive, got {batch_size}")
        self.seed, self.data_dir, self.download = seed, str(data_dir), download
        self.batch_size, self.bias = batch_size, bias
        self.x_train: torch.Tensor | None = None
        self.y_train: torch.Tensor | None = None
        self.x_val: torch.Tensor | None = None
        self.y_val: torch.Tensor | None = None

    @property
    def num_features(self) -> int:
        """Input features the model sees: input_dim, plus one with ``bias``."""
        return self.input_dim + int(self.bias)

    def fetch(self) -> None:
        """Downloads the dataset's files unless they are there."""
        raise NotImplementedError

    def arrays(self) -> Arrays:
        """(x_train, y_train, x_val, y_val) as numpy arrays, without the bias feature."""
        raise NotImplementedError

    def prepare_data(self) -> None:
        if self.download:
            self.fetch()

    def setup(self, stage: str) -> None:
        if self.x_train is not None:
            return
        x_train, y_train, x_val, y_val = self.arrays()
        same = x_val is x_train and y_val is y_train
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        dtype = trainer_dtype(trainer)

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array)).to(device=device, dtype=dtype)

        self.x_train, self.y_train = tensor(self._with_bias(x_train)), tensor(y_train)
        if same:
            self.x_val, self.y_val = self.x_train, self.y_train
        else:
            self.x_val, self.y_val = tensor(self._with_bias(x_val)), tensor(y_val)

    def _with_bias(self, x: np.ndarray) -> np.ndarray:
        if not self.bias:
            return x
        return np.concatenate([x, np.ones((len(x), 1), dtype=x.dtype)], axis=1)

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(
            self.x_train, self.y_train, self.batch_size, shuffle=True, seed=self.seed, skip_epochs=1
        )

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x_val, self.y_val, self.batch_size, shuffle=False)
