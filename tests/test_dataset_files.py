"""The dataset files of the real-data tasks: missing files with downloads off, downloads that
cannot happen, and damaged files, each a clear error naming the files and what to do."""

import urllib.error

import numpy as np
import pytest

from datamodules.binary_cifar10 import BinaryCIFAR10DataModule
from datamodules.dataset_files import DatasetCorrupt, DatasetNotFound
from datamodules.inr_cifar10 import INRCIFAR10DataModule
from datamodules.inr_mnist import INRMNISTDataModule
from datamodules.mnist import BinaryMNISTDataModule, MNISTDataModule
from tests.fake_datasets import CIFAR10_FILES, MNIST_FILES, write_idx
from tests.real_data_files import MNIST_TEST_LABELS, cifar_folder, mnist_folder


@pytest.fixture
def mnist(tmp_path):
    return mnist_folder(tmp_path)


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    return cifar_folder(tmp_path, monkeypatch)


ALL_TASKS = [
    (BinaryMNISTDataModule, "MNIST", MNIST_FILES, "MNIST/raw"),
    (MNISTDataModule, "MNIST", MNIST_FILES, "MNIST/raw"),
    (INRMNISTDataModule, "MNIST", MNIST_FILES, "MNIST/raw"),
    (BinaryCIFAR10DataModule, "CIFAR10", CIFAR10_FILES, "cifar-10-batches-py"),
    (INRCIFAR10DataModule, "CIFAR10", CIFAR10_FILES, "cifar-10-batches-py"),
]


@pytest.mark.parametrize("cls, dataset, files, folder", ALL_TASKS)
def test_missing_dataset_with_downloads_off(tmp_path, cls, dataset, files, folder):
    dm = cls(data_dir=str(tmp_path), download=False)
    dm.prepare_data()
    assert list(tmp_path.iterdir()) == []  # nothing fetched
    with pytest.raises(DatasetNotFound) as error:
        dm.setup("fit")
    message = str(error.value)
    assert str(tmp_path / folder) in message
    assert all(name in message for name in files)
    assert (
        f'python -c "from torchvision.datasets import {dataset}; {dataset}({str(tmp_path)!r}, download=True)"'
        in message
    )


@pytest.mark.parametrize("cls, dataset, files, folder", [ALL_TASKS[0], ALL_TASKS[3]])
def test_download_impossible_says_what_to_do(tmp_path, monkeypatch, cls, dataset, files, folder):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    dm = cls(data_dir=str(tmp_path), download=True)
    with pytest.raises(DatasetNotFound, match="downloading failed") as error:
        dm.prepare_data()
    message = str(error.value)
    assert "no network here" in message and str(tmp_path / folder) in message
    assert (
        all(name in message for name in files) and f"{dataset}({str(tmp_path)!r}, download=True)" in message
    )


def test_present_files_are_not_downloaded_again(mnist, monkeypatch):
    root, _, _ = mnist
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("tried to download"))
    BinaryMNISTDataModule(data_dir=str(root), download=True).prepare_data()


def truncate(path, nbytes):
    path.write_bytes(path.read_bytes()[:-nbytes])


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda raw: truncate(raw / "train-images-idx3-ubyte", 100), ["train-images-idx3-ubyte"]),
        (lambda raw: truncate(raw / "t10k-labels-idx1-ubyte", 1), ["t10k-labels-idx1-ubyte"]),
        (
            lambda raw: write_idx(raw / "t10k-labels-idx1-ubyte", np.array(MNIST_TEST_LABELS[:-1])),
            ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        ),
        (lambda raw: (raw / "train-labels-idx1-ubyte").write_bytes(b""), ["train-labels-idx1-ubyte"]),
    ],
    ids=["truncated images", "truncated labels", "a label short", "empty labels"],
)
def test_damaged_mnist_is_an_error(mnist, damage, named):
    root, _, _ = mnist
    damage(root / "MNIST" / "raw")
    dm = BinaryMNISTDataModule(data_dir=str(root), download=False, train_per_class=1, test_per_class=1)
    with pytest.raises(DatasetCorrupt) as error:
        dm.setup("fit")
    message = str(error.value)
    assert all(name in message.split(" in ")[0] for name in named)
    assert "download=True" in message


@pytest.mark.parametrize("name", ["data_batch_2", "test_batch"])
def test_damaged_cifar10_fails_its_checksum(cifar, name):
    root, _ = cifar
    truncate(root / "cifar-10-batches-py" / name, 10)
    dm = BinaryCIFAR10DataModule(data_dir=str(root), download=False)
    with pytest.raises(DatasetCorrupt) as error:
        dm.setup("fit")
    assert str(error.value).startswith(f"CIFAR10 file(s) {name} in ")
