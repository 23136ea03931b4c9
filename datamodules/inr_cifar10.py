"""The inr_cifar10 task (docs/algorithms.md): one CIFAR-10 image as a function of pixel coordinates and
channel.

The image is the one at ``image_index`` (default 1000) of the binary (airplane vs automobile)
test subset, in torchvision's file order. Its 3072 values, channel-major (C, H, W), are the
examples: input the Fourier features of the integer coordinates (row, col, channel)
(``datamodules.fourier_features``), target the value scaled to [0, 1] (float32, as torchvision's
ToTensor gives it; not normalised). Training and validation are the same set; PSNR with
max_label 1.
"""

import numpy as np

from datamodules.array_datamodule import ArrayDataModule, Arrays
from datamodules.cifar10_files import download_cifar10, read_binary_cifar10
from datamodules.fourier_features import (
    FOURIER_FEATURES,
    cifar10_fourier_matrix,
    fourier_features,
    pixel_coordinates,
)


class INRCIFAR10DataModule(ArrayDataModule):
    """Fits one CIFAR-10 image: 1500 Fourier features of (row, col, channel) in, the value in [0, 1] out.

    Args:
        seed: the run's seed; it draws the Fourier matrix B and orders the minibatches.
        data_dir: where the datasets live (CIFAR-10 in ``<data_dir>/cifar-10-batches-py``).
        download: download missing files in ``prepare_data``.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature.
        image_index: which image of the binary test subset (the paper: 1000).
    """

    task_name = "inr_cifar10"
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
        image_index: int = 1000,
    ) -> None:
        super().__init__(seed=seed, data_dir=data_dir, download=download, batch_size=batch_size, bias=bias)
        if image_index < 0:
            raise ValueError(f"data.image_index must be at least 0, got {image_index}")
        self.image_index = image_index
        self.image: np.ndarray | None = None
        self.fourier_matrix = cifar10_fourier_matrix(seed)

    def fetch(self) -> None:
        download_cifar10(self.data_dir)

    def arrays(self) -> Arrays:
        images, _ = read_binary_cifar10(self.data_dir, train=False)
        if self.image_index >= len(images):
            raise ValueError(
                f"data.image_index is {self.image_index} but the binary CIFAR-10 test subset has "
                f"{len(images)} images"
            )
        self.image = images[self.image_index]
        channel_row_col = pixel_coordinates(self.image.shape)
        x = fourier_features(channel_row_col[:, [1, 2, 0]], self.fourier_matrix)
        y = self.image.reshape(-1).astype(np.float32) / np.float32(255)
        return x, y, x, y
