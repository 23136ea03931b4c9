"""MNIST in torchvision's on-disk layout (``<data_dir>/MNIST/raw/*-ubyte``): fetching it and
reading all 70000 images, torchvision's training file first, then its test file."""

from pathlib import Path

import numpy as np
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from datamodules.dataset_files import DatasetFiles

# (images, labels) of torchvision's train split, then of its test split: the order of the 70000.
SPLIT_FILES = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)
IMAGE_SHAPE = (28, 28)


def mnist_files(data_dir: str) -> DatasetFiles:
    names = tuple(name for pair in SPLIT_FILES for name in pair)
    return DatasetFiles("MNIST", data_dir, Path(data_dir) / MNIST.__name__ / "raw", names)


def download_mnist(data_dir: str) -> None:
    """Downloads MNIST with torchvision unless its files are already there."""
    mnist_files(data_dir).fetch(lambda: MNIST(data_dir, train=True, download=True))


def read_mnist(data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """All images (uint8, n × 28 × 28) and labels (int64, n): the train file's, then the test file's."""
    files = mnist_files(data_dir)
    files.require()
    images, labels = [], []
    for image_name, label_name in SPLIT_FILES:
        x = _read(files, image_name, read_image_file)
        y = _read(files, label_name, read_label_file)
        if tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise files.corrupt([image_name], f"images of shape {tuple(x.shape[1:])}, not {IMAGE_SHAPE}")
        if len(x) != len(y):
            raise files.corrupt([image_name, label_name], f"{len(x)} images but {len(y)} labels")
        if len(y) and not 0 <= int(y.min()) <= int(y.max()) <= 9:
            raise files.corrupt([label_name], f"labels outside 0..9 (max {int(y.max())})")
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def _read(files: DatasetFiles, name: str, reader) -> np.ndarray:
    try:
        return reader(str(files.folder / name)).numpy()
    except Exception as exc:  # torchvision raises assertion, value and runtime errors on bad files
        raise files.corrupt([name], f"{type(exc).__name__}: {exc}") from exc
