"""The binary_cifar10 task (docs/algorithms.md): CIFAR-10 airplanes (0) vs automobiles (1), 3072 inputs.

Both splits keep torchvision's file order (classes interleaved, 10000 training and 2000 test
images). Pixels are scaled to [0, 1], flattened channel-major (C, H, W) and normalised per
channel by the mean and (population) standard deviation of the training subset only, in
float64. The paper's code meant this but wrote the floats into a uint8 array, which wraps;
this module does the intended thing. Validation is the test split.
"""

import numpy as np

from datamodules.array_datamodule import ArrayDataModule, Arrays
from datamodules.cifar10_files import download_cifar10, read_binary_cifar10


def normalise_per_channel(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, C, H, W) in [0, 1] → (n, C·H·W), minus the training mean, over the training std."""
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True)
    return (
        ((train - mean) / std).reshape(len(train), -1),
        ((test - mean) / std).reshape(len(test), -1),
    )


class BinaryCIFAR10DataModule(ArrayDataModule):
    """Airplane vs automobile: labels 0/1 (scalar output), accuracy of prediction ≥ 0.5.

    Args:
        seed: the run's seed; it orders the minibatches.
        data_dir: where the datasets live (CIFAR-10 in ``<data_dir>/cifar-10-batches-py``).
        download: download missing files in ``prepare_data``.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature (after normalisation).
    """

    task_name = "binary_cifar10"
    metric_name = "accuracy"
    input_dim = 3072

    def fetch(self) -> None:
        download_cifar10(self.data_dir)

    def arrays(self) -> Arrays:
        train_images, train_labels = read_binary_cifar10(self.data_dir, train=True)
        test_images, test_labels = read_binary_cifar10(self.data_dir, train=False)
        x_train, x_test = normalise_per_channel(train_images / 255.0, test_images / 255.0)
        return x_train, train_labels.astype(np.float64), x_test, test_labels.astype(np.float64)
