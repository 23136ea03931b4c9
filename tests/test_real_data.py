"""The real-data tasks (docs/algorithms.md), loaded through the real code from tiny files in torchvision's
own formats: split sizes and order, pixel values, the INR image and its Fourier features,
normalisation from the training subset, and the errors for missing or corrupt files."""

import json
import math
import urllib.error

import numpy as np
import pytest
import torch
from pytorch_lightning import Trainer
from torch.utils.data import DataLoader, TensorDataset

from datamodules.binary_cifar10 import BinaryCIFAR10DataModule
from datamodules.dataset_files import DatasetCorrupt, DatasetNotFound
from datamodules.inr_cifar10 import INRCIFAR10DataModule
from datamodules.inr_mnist import INRMNISTDataModule
from datamodules.mnist import BinaryMNISTDataModule, MNISTDataModule
from tests.fake_datasets import (
    CIFAR10_FILES,
    MNIST_FILES,
    trust_cifar10_files,
    write_cifar10,
    write_idx,
    write_mnist,
)
from tests.helpers import run_fit

# Each digit appears 3 times in each file, shuffled: with 4 training images per digit, a digit's
# training images span the train and test files.
TRAIN_PER_CLASS, TEST_PER_CLASS = 4, 2
MNIST_TRAIN_LABELS = list(np.random.default_rng(1).permutation(np.repeat(np.arange(10), 3)))
MNIST_TEST_LABELS = list(np.random.default_rng(2).permutation(np.repeat(np.arange(10), 3)))

# Classes 0/1 interleaved with others across batches; 2 and 3 are bright, so statistics that
# include them differ from the training subset's.
CIFAR_TRAIN = [[0, 2, 1, 5], [3, 3, 1, 0], [9, 0, 0, 4], [1, 7, 8, 2], [6, 1, 3, 0]]
CIFAR_TEST = [3, 1, 5, 0, 0, 9, 1, 2]
CIFAR_BRIGHT = (2, 3)


@pytest.fixture
def mnist(tmp_path):
    images, labels = write_mnist(tmp_path, MNIST_TRAIN_LABELS, MNIST_TEST_LABELS)
    return tmp_path, images, labels


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    data = write_cifar10(tmp_path, CIFAR_TRAIN, CIFAR_TEST, bright=CIFAR_BRIGHT)
    trust_cifar10_files(monkeypatch, tmp_path)
    return tmp_path, data


def spec_mnist_split(labels, digits):
    """Per digit in turn, the first TRAIN_PER_CLASS of its images train, the next TEST_PER_CLASS test."""
    train, test = [], []
    for digit in digits:
        members = [i for i, label in enumerate(labels) if label == digit]
        train += members[:TRAIN_PER_CLASS]
        test += members[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS]
    return train, test


def mnist_module(cls, data_dir, **kwargs):
    dm = cls(
        data_dir=str(data_dir),
        download=False,
        train_per_class=TRAIN_PER_CLASS,
        test_per_class=TEST_PER_CLASS,
        **kwargs,
    )
    dm.setup("fit")
    return dm


def spec_fourier(coords, b):
    """The paper's formula, one coordinate at a time."""
    rows = []
    for c in coords:
        projection = (2.0 * np.pi * np.asarray(c)) @ b.T
        rows.append(np.concatenate([np.sin(projection), np.cos(projection)]).astype(np.float32))
    return np.stack(rows)


def test_mnist_splits_order_and_raw_pixels(mnist):
    root, images, labels = mnist
    dm = mnist_module(MNISTDataModule, root)
    train, test = spec_mnist_split(labels, range(10))
    assert dm.x_train.shape == (40, 784) and dm.x_val.shape == (20, 784)
    assert torch.equal(dm.x_train, torch.from_numpy(images[train].reshape(40, 784).astype(np.float64)))
    assert torch.equal(dm.x_val, torch.from_numpy(images[test].reshape(20, 784).astype(np.float64)))
    assert dm.x_train.max() > 1  # raw 0–255, not scaled
    assert torch.equal(dm.y_train, torch.eye(10, dtype=torch.float64)[np.repeat(np.arange(10), 4)])
    assert torch.equal(dm.y_val, torch.eye(10, dtype=torch.float64)[np.repeat(np.arange(10), 2)])
    assert (dm.task_name, dm.metric_name, dm.output_dim, dm.num_features) == ("mnist", "accuracy", 10, 784)


def test_binary_mnist_keeps_zeros_then_ones(mnist):
    root, images, labels = mnist
    dm = mnist_module(BinaryMNISTDataModule, root)
    train, test = spec_mnist_split(labels, (0, 1))
    assert torch.equal(dm.x_train, torch.from_numpy(images[train].reshape(8, 784).astype(np.float64)))
    assert torch.equal(dm.x_val, torch.from_numpy(images[test].reshape(4, 784).astype(np.float64)))
    assert dm.y_train.tolist() == [0.0] * 4 + [1.0] * 4
    assert dm.y_val.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert (dm.task_name, dm.output_dim, dm.max_label) == ("binary_mnist", 1, 1.0)


def test_asking_more_than_a_class_has_says_how_many(mnist):
    root, _, _ = mnist
    dm = BinaryMNISTDataModule(data_dir=str(root), download=False, train_per_class=5, test_per_class=2)
    with pytest.raises(ValueError, match=r"class 0 has 6 examples.* 5 \+ 2 = 7"):
        dm.setup("fit")


def test_bias_appends_a_one_and_keeps_the_pixels(mnist):
    root, _, _ = mnist
    plain = mnist_module(BinaryMNISTDataModule, root)
    dm = mnist_module(BinaryMNISTDataModule, root, bias=True)
    assert dm.num_features == 785
    assert torch.equal(dm.x_train[:, :784], plain.x_train)
    assert torch.equal(dm.x_val[:, -1], torch.ones(4, dtype=torch.float64))


def test_minibatches_follow_the_seed_and_validation_stays_in_order(mnist):
    root, _, _ = mnist
    dm = mnist_module(MNISTDataModule, root, batch_size=16, seed=5)
    batches = list(dm.train_dataloader())
    assert [len(x) for x, _ in batches] == [16, 16, 8]
    torch.manual_seed(5)  # the paper's loaders: torch.manual_seed(seed), then a shuffled DataLoader
    loader = DataLoader(TensorDataset(dm.x_train, dm.y_train), batch_size=16, shuffle=True)
    next(iter(loader))  # the paper's binaryExperiment takes one batch before training
    expected = torch.cat([x for x, _ in loader])
    assert torch.equal(torch.cat([x for x, _ in batches]), expected)
    assert not torch.equal(expected, dm.x_train)
    assert torch.equal(torch.cat([x for x, _ in dm.val_dataloader()]), dm.x_val)


def test_tensors_follow_the_trainer_precision(mnist):
    root, _, _ = mnist
    dm = BinaryMNISTDataModule(data_dir=str(root), download=False, train_per_class=4, test_per_class=2)
    dm.trainer = Trainer(precision="32-true", logger=False, enable_progress_bar=False)
    dm.setup("fit")
    assert dm.x_train.dtype == dm.y_val.dtype == torch.float32


def test_binary_cifar10_order_scaling_and_train_only_statistics(cifar):
    root, data = cifar
    dm = BinaryCIFAR10DataModule(data_dir=str(root), download=False)
    dm.setup("fit")
    train_images, train_labels = data["train"]
    test_images, test_labels = data["test"]
    keep_train, keep_test = np.isin(train_labels, (0, 1)), np.isin(test_labels, (0, 1))
    assert dm.y_train.tolist() == [0, 1, 1, 0, 0, 0, 1, 1, 0]  # file order, classes interleaved
    assert dm.y_val.tolist() == [1, 0, 0, 1]
    scaled = train_images[keep_train] / 255.0
    mean, std = scaled.mean(axis=(0, 2, 3)), scaled.std(axis=(0, 2, 3))
    expected_train = ((scaled - mean[:, None, None]) / std[:, None, None]).reshape(9, 3072)
    expected_test = ((test_images[keep_test] / 255.0 - mean[:, None, None]) / std[:, None, None]).reshape(
        4, 3072
    )
    assert np.allclose(dm.x_train.numpy(), expected_train, rtol=0, atol=1e-12)
    assert np.allclose(dm.x_val.numpy(), expected_test, rtol=0, atol=1e-12)
    # channel-major layout: channel c is columns c*1024 .. c*1024+1023, standardised
    per_channel = dm.x_train.numpy().reshape(9, 3, 1024)
    assert np.allclose(per_channel.mean(axis=(0, 2)), 0) and np.allclose(per_channel.std(axis=(0, 2)), 1)
    # the bright images of other classes would have moved the statistics
    assert not np.allclose(mean, (train_images / 255.0).mean(axis=(0, 2, 3)), atol=0.05)
    assert (dm.task_name, dm.metric_name, dm.output_dim, dm.num_features) == (
        "binary_cifar10",
        "accuracy",
        1,
        3072,
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_inr_mnist_image_and_fourier_features(mnist, seed):
    root, images, labels = mnist
    dm = mnist_module(INRMNISTDataModule, root, seed=seed, image_index=TEST_PER_CLASS)
    # index TEST_PER_CLASS of the 10-class test split: the first test image of digit 1
    first_test_of_one = [i for i, label in enumerate(labels) if label == 1][TRAIN_PER_CLASS]
    image = images[first_test_of_one]
    assert np.array_equal(dm.image, image)
    coords = [(idx // 28, idx % 28) for idx in range(784)]
    assert torch.equal(  # exact: the same one float32 division of each pixel by 255
        dm.y_train,
        torch.from_numpy(
            np.array([image[r, c] for r, c in coords], dtype=np.float32) / np.float32(255)
        ).double(),
    )
    np.random.seed(seed)
    b = np.random.normal(size=(750, 2)) * 2
    assert np.allclose(
        dm.x_train.numpy(), spec_fourier(coords, b), rtol=0, atol=1.2e-7
    )  # 2 float32 ulps near 1
    assert dm.x_val is dm.x_train and dm.y_val is dm.y_train
    assert (dm.task_name, dm.metric_name, dm.num_features, dm.max_label) == ("inr_mnist", "psnr", 1500, 1.0)


@pytest.mark.parametrize("seed", [0, 2])
def test_inr_cifar10_image_and_fourier_features(cifar, seed):
    root, data = cifar
    dm = INRCIFAR10DataModule(data_dir=str(root), download=False, seed=seed, image_index=1)
    dm.setup("fit")
    test_images, test_labels = data["test"]
    image = test_images[np.flatnonzero(np.isin(test_labels, (0, 1)))[1]]  # raw test index 3
    assert np.array_equal(dm.image, image)
    coords = [((idx % 1024) // 32, idx % 32, idx // 1024) for idx in range(3072)]  # (row, col, channel)
    targets = np.array([image[ch, r, c] for r, c, ch in coords], dtype=np.float32) / np.float32(255)
    assert torch.equal(dm.y_train, torch.from_numpy(targets).double())  # exact: the same float32 division
    np.random.seed(seed)
    b = np.zeros((750, 3), dtype=np.float32)
    b[:, 0:2] = np.random.normal(size=(750, 2)) * 5
    b[:, 2] = np.random.normal(size=(750,)) * 0.05
    assert np.allclose(
        dm.x_train.numpy(), spec_fourier(coords, b), rtol=0, atol=1.2e-7
    )  # 2 float32 ulps near 1
    assert dm.x_val is dm.x_train
    assert (dm.task_name, dm.metric_name, dm.num_features) == ("inr_cifar10", "psnr", 1500)


def test_defaults_are_the_papers():
    assert (MNISTDataModule().train_per_class, MNISTDataModule().test_per_class) == (5000, 1000)
    assert INRMNISTDataModule().image_index == 1000 == INRMNISTDataModule().test_per_class  # digit 1's first
    assert INRCIFAR10DataModule().image_index == 1000
    dm = BinaryCIFAR10DataModule()
    assert (dm.data_dir, dm.download, dm.batch_size, dm.bias) == ("data/", True, 0, False)


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


def test_inr_mnist_runs_through_the_cli(mnist):
    root, _, _ = mnist
    out = root / "runs"
    run_fit(
        [
            "fit",
            "--data=datamodules.inr_mnist.INRMNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            f"--data.image_index={TEST_PER_CLASS}",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            "--sweep.mlist=2",
            "--sweep.slist=6",
        ]
    )
    result = json.loads((out / "inr_mnist/aiht/hidden1/m2_s6_seed0/result.json").read_text())
    assert result["status"] == "done", result.get("error")
    assert result["metric_name"] == "psnr" and math.isfinite(result["metric"]) and result["nnz"] == 6


@pytest.mark.parametrize("method", ["aiht", "imp"])
def test_binary_mnist_accuracy_through_the_cli(mnist, method):
    root, _, _ = mnist
    out = root / "runs"
    run_fit(
        [
            "fit",
            "--data=datamodules.mnist.BinaryMNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            f"--sweep.method={method}",
            "--sweep.mlist=2",
            "--sweep.slist",
            "6",
            "50",
        ]
    )
    for s in (6, 50):
        result = json.loads((out / f"binary_mnist/{method}/hidden1/m2_s{s}_seed0/result.json").read_text())
        assert result["status"] == "done", result.get("error")
        assert result["metric_name"] == "accuracy" and result["nnz"] <= s
        # 2 test images per digit: the accuracy is a multiple of 1/4
        assert result["metric"] * 2 * TEST_PER_CLASS == pytest.approx(
            round(result["metric"] * 2 * TEST_PER_CLASS)
        )
    if method == "imp":
        assert (out / "binary_mnist/imp/hidden1/m2_seed0_trajectory").is_dir()


@pytest.mark.parametrize("method", ["aiht", "imp"])
def test_ten_class_mnist_with_cross_entropy_through_the_cli(mnist, method):
    root, _, _ = mnist
    out = root / "runs10"
    run_fit(
        [
            "fit",
            "--data=datamodules.mnist.MNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            "--model.loss=crossentropy",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            f"--sweep.method={method}",
            "--sweep.mlist=3",
            "--sweep.slist=40",
        ]
    )
    result = json.loads((out / f"mnist/{method}/hidden1/m3_s40_seed0/result.json").read_text())
    assert result["status"] == "done", result.get("error")
    assert result["metric_name"] == "accuracy" and 0 < result["nnz"] <= 40
    # 2 test images per digit, 20 in all: the accuracy is a multiple of 1/20
    assert result["metric"] * 20 == pytest.approx(round(result["metric"] * 20))
