"""Random Fourier features of integer pixel coordinates for the INR tasks (docs/algorithms.md: the tasks),
drawn as the paper's loaders draw them.

B has 750 rows drawn from numpy's legacy generator seeded with the run's seed; the features of
coordinates c are [sin(2π·c·Bᵀ), cos(2π·c·Bᵀ)], 1500 values, rounded to float32 as the paper's
loaders return them. MNIST: B = 2·N(0, 1) draws of shape (750, 2), float64. CIFAR-10: a float32
B whose two spatial columns are 5·N(0, 1) draws of shape (750, 2) and whose channel column is
the next 750 draws times 0.05.
"""

import numpy as np

FOURIER_ROWS = 750
FOURIER_FEATURES = 2 * FOURIER_ROWS


def mnist_fourier_matrix(seed: int) -> np.ndarray:
    """B for inr_mnist: (750, 2), float64, columns (row, col)."""
    return np.random.RandomState(seed).normal(size=(FOURIER_ROWS, 2)) * 2


def cifar10_fourier_matrix(seed: int) -> np.ndarray:
    """B for inr_cifar10: (750, 3), float32, columns (row, col, channel)."""
    rng = np.random.RandomState(seed)
    b = np.zeros((FOURIER_ROWS, 3), dtype=np.float32)
    b[:, :2] = rng.normal(size=(FOURIER_ROWS, 2)) * 5
    b[:, 2] = rng.normal(size=FOURIER_ROWS) * 0.05
    return b


def pixel_coordinates(shape: tuple[int, ...]) -> np.ndarray:
    """Integer coordinates of every position of an array of ``shape``, in row-major order: (n, len(shape))."""
    return np.indices(shape).reshape(len(shape), -1).T


def fourier_features(coords: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[sin(2π·c·Bᵀ), cos(2π·c·Bᵀ)] per row c of ``coords``, computed in float64, returned as float32.

    The projection is summed column by column in a fixed order (no BLAS), so it is the same
    numbers on every machine.
    """
    scaled = 2.0 * np.pi * coords
    b = b.astype(np.float64)
    projection = np.zeros((len(coords), len(b)))
    for k in range(b.shape[1]):
        projection += scaled[:, k : k + 1] * b[:, k]
    return np.concatenate([np.sin(projection), np.cos(projection)], axis=1).astype(np.float32)
