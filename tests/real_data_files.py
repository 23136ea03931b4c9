"""Tiny MNIST and CIFAR-10 folders in torchvision's own formats, shared by the real-data tests:
the labels each file holds and the per-class sizes the tests ask for."""

import numpy as np

from tests.fake_datasets import trust_cifar10_files, write_cifar10, write_mnist

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


def mnist_folder(tmp_path):
    """A tiny MNIST under tmp_path: (root, images, labels)."""
    images, labels = write_mnist(tmp_path, MNIST_TRAIN_LABELS, MNIST_TEST_LABELS)
    return tmp_path, images, labels


def cifar_folder(tmp_path, monkeypatch):
    """A tiny CIFAR-10 under tmp_path, its checksums trusted: (root, data)."""
    data = write_cifar10(tmp_path, CIFAR_TRAIN, CIFAR_TEST, bright=CIFAR_BRIGHT)
    trust_cifar10_files(monkeypatch, tmp_path)
    return tmp_path, data
