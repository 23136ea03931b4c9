"""AIHT runs written the paper's way, for the real-digit tests: MNIST read from the idx files with
numpy, the per-digit splits, the INR Fourier features, a torch ``DataLoader(shuffle=True)`` on the
global generator with one batch taken before training, the random gates and the update loops, on
top of the plain updates of tests/reference.py (scalar) and tests/reference_vector.py (vector).
No project code is imported."""

import contextlib
import math
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.reference import dense_a, spec_gates, spec_update
from tests.reference_vector import SketchAccumulator, spec_vector_update


def read_idx(path: Path, header: int) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header)


def read_mnist(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's training file, then its test file: images (n, 28, 28) and labels."""
    raw = Path(root) / "MNIST" / "raw"
    images, labels = [], []
    for kind in ("train", "t10k"):
        images.append(read_idx(raw / f"{kind}-images-idx3-ubyte", 16).reshape(-1, 28, 28))
        labels.append(read_idx(raw / f"{kind}-labels-idx1-ubyte", 8))
    return np.concatenate(images), np.concatenate(labels)


def digit_split(labels: np.ndarray, train_per_class: int, test_per_class: int):
    """Per digit 0…9 in turn: its first images train, the next ones test (indices, digit-major)."""
    train, test = [], []
    for digit in range(10):
        where = [i for i, label in enumerate(labels.tolist()) if label == digit]
        train += where[:train_per_class]
        test += where[train_per_class : train_per_class + test_per_class]
    return train, test


def ten_class_mnist(root: Path, train_per_class: int, test_per_class: int):
    """(x_train, y_train, x_test, y_test): raw pixels as float64, one-hot labels."""
    images, labels = read_mnist(root)
    train, test = digit_split(labels, train_per_class, test_per_class)
    pixels = torch.from_numpy(images.reshape(len(images), -1).astype(np.float64))
    onehot = torch.eye(10, dtype=torch.float64)[torch.from_numpy(labels.astype(np.int64))]
    return pixels[train], onehot[train], pixels[test], onehot[test]


def inr_mnist(root: Path, seed: int, train_per_class: int, test_per_class: int, image_index: int):
    """The image's 784 pixels as (Fourier features of (row, col), pixel / 255), float64."""
    images, labels = read_mnist(root)
    _, test = digit_split(labels, train_per_class, test_per_class)
    image = images[test[image_index]]
    np.random.seed(seed)
    b = np.random.normal(size=(750, 2)) * 2
    rows, cols = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    angle = 2 * np.pi * rows.reshape(-1, 1) * b[:, 0] + 2 * np.pi * cols.reshape(-1, 1) * b[:, 1]
    features = np.concatenate([np.sin(angle), np.cos(angle)], axis=1).astype(np.float32)
    target = image.reshape(-1).astype(np.float32) / np.float32(255)
    return torch.from_numpy(features).double(), torch.from_numpy(target).double()


@contextlib.contextmanager
def one_thread():
    """Torch on one thread: the reference's many small products are far faster so on a shared,
    busy machine (threads waiting for each other), and give the same numbers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def paper_vector_aiht(x, y, m, s, seed, epochs, batch_size, crossentropy=True, start_rows="max_zero"):
    """Minibatch vector AIHT (sequential convex mode, count sketch): the final (W1, W2)."""
    with one_thread():
        return _paper_vector_aiht(x, y, m, s, seed, epochs, batch_size, crossentropy, start_rows)


def _paper_vector_aiht(x, y, m, s, seed, epochs, batch_size, crossentropy, start_rows):
    n, d = x.shape
    k = y.shape[1]
    s = min(s, m * d + m * k)
    torch.manual_seed(seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    next(iter(loader))  # the batch the paper's AIHT takes before training
    gates = torch.from_numpy(spec_gates(m, d, seed))
    w1, w2 = torch.zeros(m, d, dtype=torch.float64), torch.zeros(m, k, dtype=torch.float64)
    importance = SketchAccumulator(m * d + m * k, s)
    for epoch in range(epochs):
        for batch_index, (xb, yb) in enumerate(loader):
            start = batch_index == 0
            w1, w2 = spec_vector_update(xb, yb, w1, w2, gates, s, importance, start, crossentropy, start_rows)
            if epoch >= 1:  # the random gates stay for epoch 0 and the first batch of epoch 1
                gates = w1.clone()
    return w1, w2


def relu_mlp_output(x, w1, w2):
    """The trained network with h = w: sum_j relu(x·w1_j) w2_j."""
    return torch.relu(x @ w1.T) @ w2


def paper_scalar_aiht(x, y, m, s, seed, epochs, steps=10):
    """Full-batch scalar AIHT (sequential convex mode) on the explicit matrix A: the final w."""
    d = x.shape[1]
    gates = torch.from_numpy(spec_gates(m, d, seed))
    w = torch.zeros(m * d, dtype=torch.float64)
    for t in range(epochs):
        w = spec_update(dense_a(x, gates), y, w, min(s, m * d), steps)
        if t >= 1:
            gates = w.view(m, d).clone()
    return w.view(m, d)


def psnr(prediction, y, max_label: float = 1.0) -> float:
    """PSNR over all examples; the INR tasks' max_label is 1."""
    mse = float((prediction - y).square().mean())
    return 20 * math.log10(max_label) - 10 * math.log10(mse)
