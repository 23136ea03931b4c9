"""The mnist and binary_mnist tasks (docs/algorithms.md): MNIST digits split per class, raw pixels 0–255,
no normalisation.

The 70000 images are torchvision's training file, then its test file. Per digit, the first
``train_per_class`` (default 5000) are training and the next ``test_per_class`` (default 1000)
test; each split lists digit 0's images, then digit 1's, and so on. Validation is the test split.
"""

import numpy as np

from datamodules.array_datamodule import ArrayDataModule, Arrays
from datamodules.class_splits import per_class_split
from datamodules.mnist_files import download_mnist, read_mnist


def check_per_class(train_per_class: int, test_per_class: int) -> None:
    for name, value in (("train_per_class", train_per_class), ("test_per_class", test_per_class)):
        if value < 1:
            raise ValueError(f"data.{name} must be at least 1, got {value}")


class MNISTDataModule(ArrayDataModule):
    """10-class MNIST: 784 raw pixels in, one-hot labels (10 outputs), accuracy of the argmax.

    Args:
        seed: the run's seed; it orders the minibatches.
        data_dir: where the datasets live (MNIST in ``<data_dir>/MNIST/raw``).
        download: download missing files in ``prepare_data``.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature.
        train_per_class: training images per digit (the paper: 5000).
        test_per_class: test images per digit, taken after the training ones (the paper: 1000).
    """

    task_name = "mnist"
    metric_name = "accuracy"
    input_dim = 784
    output_dim = 10
    digits: tuple[int, ...] = tuple(range(10))

    def __init__(
        self,
        seed: int = 0,
        data_dir: str = "data/",
        download: bool = True,
        batch_size: int = 0,
        bias: bool = False,
        train_per_class: int = 5000,
        test_per_class: int = 1000,
    ) -> None:
        super().__init__(seed=seed, data_dir=data_dir, download=download, batch_size=batch_size, bias=bias)
        check_per_class(train_per_class, test_per_class)
        self.train_per_class, self.test_per_class = train_per_class, test_per_class

    def fetch(self) -> None:
        download_mnist(self.data_dir)

    def arrays(self) -> Arrays:
        images, labels = read_mnist(self.data_dir)
        train, test = per_class_split(labels, self.digits, self.train_per_class, self.test_per_class, "MNIST")
        pixels = images.reshape(len(images), -1)
        return (
            pixels[train].astype(np.float64),
            self.targets(labels[train]),
            pixels[test].astype(np.float64),
            self.targets(labels[test]),
        )

    def targets(self, digits: np.ndarray) -> np.ndarray:
        """One-hot rows."""
        return np.eye(len(self.digits))[digits]


class BinaryMNISTDataModule(MNISTDataModule):
    """Digits 0 vs 1: 784 raw pixels in, labels 0/1 (scalar output), accuracy of prediction ≥ 0.5."""

    task_name = "binary_mnist"
    output_dim = 1
    digits = (0, 1)

    def targets(self, digits: np.ndarray) -> np.ndarray:
        """The digit itself, 0 or 1."""
        return digits.astype(np.float64)
