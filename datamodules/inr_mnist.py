"""The inr_mnist task (docs/algorithms.md): one MNIST image as a function of its pixel coordinates.

The image is the one at ``image_index`` (default 1000) of the 10-class test split that
``datamodules.mnist`` makes: with the default 1000 test images per digit, the first test image
of digit 1. Its 784 pixels, row-major, are the examples: input the Fourier features of the
integer coordinates (row, col) (``datamodules.fourier_features``), target pixel / 255 (a float32
value, as the paper's loader gives it). Training and validation are the same set; PSNR with
max_label 1.
"""

import numpy as np

from datamodules.array_datamodule import ArrayDataModule, Arrays
from datamodules.class_splits import per_class_split
from datamodules.fourier_features import (
    FOURIER_FEATURES,
    fourier_features,
    mnist_fourier_matrix,
    pixel_coordinates,
)
from datamodules.mnist import check_per_class
from datamodules.mnist_files import download_mnist, read_mnist


class INRMNISTDataModule(ArrayDataModule):
    """Fits one MNIST image: 1500 Fourier features of (row, col) in, the pixel in [0, 1] out.

    Args:
        seed: the run's seed; it draws the Fourier matrix B and orders the minibatches.
        data_dir: where the datasets live (MNIST in ``<data_dir>/MNIST/raw``).
        download: download missing files in ``prepare_data``.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature.
        train_per_class: training images per digit of the split the image comes from.
        test_per_class: test images per digit of that split.
        image_index: which image of the 10-class test split (the paper: 1000).
    """

    task_name = "inr_mnist"
    metric_name = "psnr"
    input_dim = FOURIER_FEATURES
    # The paper's minibatch AIHT draws this task's random gates with seed 0 whatever the run's
    # seed (docs/algorithms.md: scalar AIHT); None would mean the run's seed, as on the classification tasks.
    paper_minibatch_gate_seed = 0
    imp_shuffles_full_batch = True  # the paper's INR training loader shuffles even its one batch

    def __init__(
        self,
        seed: int = 0,
        data_dir: str = "data/",
        download: bool = True,
        batch_size: int = 0,
        bias: bool = False,
        train_per_class: int = 5000,
        test_per_class: int = 1000,
        image_index: int = 1000,
    ) -> None:
        super().__init__(seed=seed, data_dir=data_dir, download=download, batch_size=batch_size, bias=bias)
        check_per_class(train_per_class, test_per_class)
        if not 0 <= image_index < 10 * test_per_class:
            raise ValueError(
                f"data.image_index must be in 0..{10 * test_per_class - 1} (the 10-class test split "
                f"has 10 × data.test_per_class images), got {image_index}"
            )
        self.train_per_class, self.test_per_class = train_per_class, test_per_class
        self.image_index = image_index
        self.image: np.ndarray | None = None
        self.fourier_matrix = mnist_fourier_matrix(seed)

    def fetch(self) -> None:
        download_mnist(self.data_dir)

    def arrays(self) -> Arrays:
        images, labels = read_mnist(self.data_dir)
        _, test = per_class_split(labels, range(10), self.train_per_class, self.test_per_class, "MNIST")
        self.image = images[test[self.image_index]]
        x = fourier_features(pixel_coordinates(self.image.shape), self.fourier_matrix)
        y = self.image.reshape(-1).astype(np.float32) / np.float32(255)
        return x, y, x, y
