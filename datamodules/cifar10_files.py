"""CIFAR-10 in torchvision's on-disk layout (``<data_dir>/cifar-10-batches-py``): fetching it,
reading a split through torchvision (which checks every file's md5), and the binary subset
(airplane vs automobile) that the binary and INR tasks use."""

from pathlib import Path

import numpy as np
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import check_integrity

from datamodules.dataset_files import DatasetFiles

BINARY_CLASSES = (0, 1)  # airplane, automobile: relabelled 0 and 1


def _checksums() -> list[tuple[str, str]]:
    """(file name, md5) of every file, as torchvision lists them."""
    pairs = [(name, md5) for name, md5 in CIFAR10.train_list + CIFAR10.test_list]
    return pairs + [(CIFAR10.meta["filename"], CIFAR10.meta["md5"])]


def cifar10_files(data_dir: str) -> DatasetFiles:
    names = tuple(name for name, _ in _checksums())
    return DatasetFiles("CIFAR10", data_dir, Path(data_dir) / CIFAR10.base_folder, names)


def download_cifar10(data_dir: str) -> None:
    """Downloads CIFAR-10 with torchvision unless its files are already there."""
    cifar10_files(data_dir).fetch(lambda: CIFAR10(data_dir, train=False, download=True))


def read_cifar10(data_dir: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """One split in file order: images (uint8, n × 3 × 32 × 32, channel-major) and labels (int64)."""
    files = cifar10_files(data_dir)
    files.require()
    try:
        dataset = CIFAR10(data_dir, train=train, download=False)
    except Exception as exc:  # a checksum that differs, or a file that does not unpickle
        failing = [name for name, md5 in _checksums() if not check_integrity(str(files.folder / name), md5)]
        raise files.corrupt(failing or files.names, f"{type(exc).__name__}: {exc}") from exc
    images = np.asarray(dataset.data).transpose(0, 3, 1, 2)  # torchvision holds H × W × C
    labels = np.asarray(dataset.targets, dtype=np.int64)
    if len(labels) != len(images):
        split = "training" if train else "test"
        raise files.corrupt(files.names, f"{len(images)} {split} images but {len(labels)} labels")
    return images, labels


def read_binary_cifar10(data_dir: str, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """The split's airplanes and automobiles in file order, with labels 0/1: (images, labels)."""
    images, labels = read_cifar10(data_dir, train)
    keep = np.isin(labels, BINARY_CLASSES)
    relabel = np.searchsorted(np.asarray(BINARY_CLASSES), labels[keep])
    return images[keep], relabel
