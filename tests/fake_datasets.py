"""Tiny MNIST and CIFAR-10 datasets written in torchvision's own on-disk formats, so that tests
load them through the real reading code: MNIST's big-endian IDX files in ``<root>/MNIST/raw``,
CIFAR-10's pickled batches in ``<root>/cifar-10-batches-py``."""

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
from torchvision.datasets import CIFAR10

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, the sizes as big-endian uint32, the data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(
    root: Path, train_labels: list[int], test_labels: list[int], seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random 28 × 28 images with these labels: (images, labels), the train file's then the test file's."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for prefix, split_labels in (("train", train_labels), ("t10k", test_labels)):
        x = rng.integers(0, 256, size=(len(split_labels), 28, 28), dtype=np.uint8)
        y = np.asarray(split_labels, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def write_cifar10(
    root: Path, train_batches: list[list[int]], test_labels: list[int], seed: int = 0, bright: tuple = ()
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Five training batches and a test batch of random images with these labels, and batches.meta.

    Images of a label in ``bright`` take values 128–255, the others 0–127 (so statistics over
    the wrong subset differ visibly). Returns {"train": (images, labels), "test": (images,
    labels)}, images as uint8 n × 3 × 32 × 32 (channel-major, as stored), batches concatenated.
    """
    assert len(train_batches) == 5
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    splits = {
        "train": list(zip(CIFAR10_FILES[:5], train_batches, strict=True)),
        "test": [("test_batch", test_labels)],
    }
    for split, batches in splits.items():
        images, labels = [], []
        for name, batch_labels in batches:
            x = rng.integers(0, 128, size=(len(batch_labels), 3, 32, 32), dtype=np.uint8)
            x[np.isin(batch_labels, bright)] += 128
            entry = {
                "batch_label": name,
                "labels": list(batch_labels),
                "data": x.reshape(len(batch_labels), 3072),
                "filenames": [f"{name}_{i}.png" for i in range(len(batch_labels))],
            }
            (folder / name).write_bytes(pickle.dumps(entry))
            images.append(x)
            labels.append(np.asarray(batch_labels, dtype=np.int64))
        out[split] = (np.concatenate(images), np.concatenate(labels))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = {"num_cases_per_batch": len(train_batches[0]), "label_names": names, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return out


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def trust_cifar10_files(monkeypatch, root: Path) -> None:
    """Makes torchvision's CIFAR10 expect the md5s of the tiny files now in ``root`` (in place of
    the real dataset's), so its integrity check runs on them unchanged."""
    folder = root / "cifar-10-batches-py"
    monkeypatch.setattr(
        CIFAR10, "train_list", [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
    )
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(folder / "batches.meta")})
