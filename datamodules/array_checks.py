"""Checks of a user's inputs and labels, their split into training and validation examples, and
the inputs' standardisation, for ``datamodules.array_file``.

Each check returns the array as float64 in the shape the task needs, or raises ``DataFileError``
with a message that names the setting or the array at fault and says what to do. Rows and
columns in the messages are counted from 0, as numpy counts them.
"""

import numpy as np

from datamodules.array_files import DataFileError

MAX_CLASSES = 1000


def as_numbers(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as float64; it must hold real numbers (booleans and integers included)."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise DataFileError(
            f"data.path: {name} holds {array.dtype} values; give real numbers (float or integer arrays)"
        )
    return array.astype(np.float64)


def check_finite(array: np.ndarray, name: str) -> None:
    """No NaN or infinite entry; the message says how many and where the first one is."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.argwhere(bad)[0]
        where = f"row {first[0]}, column {first[1]}" if array.ndim == 2 else f"example {first[0]}"
        raise DataFileError(
            f"data.path: {name} has {int(bad.sum())} NaN or infinite value(s), the first at {where}; "
            "remove those examples or fill the values in before training"
        )


def check_inputs(x: np.ndarray) -> np.ndarray:
    """x as an n × d float64 matrix, n ≥ 1 and d ≥ 1, all finite."""
    x = as_numbers(x, "x")
    if x.ndim != 2:
        hint = " (one feature per example: x.reshape(-1, 1))" if x.ndim == 1 else ""
        raise DataFileError(
            f"data.path: x has shape {x.shape}; the inputs must be 2-D, one row per example and one "
            f"column per feature (n × d){hint}"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataFileError(f"data.path: x has shape {x.shape}; it needs examples and features")
    check_finite(x, "x")
    return x


def regression_targets(y: np.ndarray, n: int) -> np.ndarray:
    """y as n float64 values (scalar output) or an n × k matrix (k outputs), all finite."""
    y = as_numbers(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != n:
        hint = " (transpose it: y.T)" if y.ndim == 2 and y.shape[1] == n else ""
        raise DataFileError(
            f"data.path: y has shape {y.shape} for {n} examples in x; give one label per example "
            f"(shape ({n},)) or one row of k outputs per example (shape ({n}, k)){hint}"
        )
    check_finite(y, "y")
    if not np.abs(y).max() > 0:
        raise DataFileError(
            "data.path: every label in y is 0, so there is nothing to fit and PSNR (whose peak is the "
            "largest |label|) is undefined; check that y holds the labels"
        )
    return y


def class_targets(y: np.ndarray, n: int) -> np.ndarray:
    """Integer classes 0 … k−1 as targets: 0/1 values for two classes (scalar output, accuracy of
    the output ≥ 0.5), one-hot n × k rows for more (accuracy of the argmax)."""
    y = as_numbers(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise DataFileError(
            f"data.path: y has shape {y.shape} for {n} examples in x; --data.task classification takes "
            f"one integer class per example (shape ({n},)); for one-hot rows give y.argmax(1)"
        )
    check_finite(y, "y")
    for wrong, what in ((y != np.round(y), "not an integer"), (y < 0, "negative")):
        if wrong.any():
            first = int(np.argmax(wrong))
            raise DataFileError(
                f"data.path: y[{first}] = {y[first]:g} is {what}; --data.task classification takes "
                "classes numbered 0, 1, …, k−1 (np.unique(y, return_inverse=True)[1] renumbers "
                "them), or use --data.task regression for real-valued labels"
            )
    classes = int(y.max()) + 1
    if classes > MAX_CLASSES:
        raise DataFileError(
            f"data.path: the largest class in y is {classes - 1}; classes must be numbered 0, 1, …, "
            f"k−1 with k at most {MAX_CLASSES} (np.unique(y, return_inverse=True)[1] renumbers them)"
        )
    if classes <= 2:
        return y
    return np.eye(classes)[y.astype(np.int64)]


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(training rows, held-out rows) in file order; None held out for ``val_fraction`` 0 (the
    training set validates itself). The held-out rows are round(val_fraction · n) rows drawn by
    ``numpy.random.default_rng(seed)``."""
    if not 0 <= val_fraction < 1:
        raise DataFileError(
            f"data.val_fraction={val_fraction}: give a fraction in [0, 1): 0 validates on the training "
            "set itself (as the planted task does), 0.2 holds out a fifth of the examples"
        )
    if val_fraction == 0:
        return np.arange(n), None
    held_out = int(round(val_fraction * n))
    if held_out == 0 or held_out == n:
        which = "no validation" if held_out == 0 else "no training"
        raise DataFileError(
            f"data.val_fraction={val_fraction} of {n} examples leaves {which} example; give a fraction "
            f"between {0.5 / n:.3g} and {1 - 0.5 / n:.3g}, or 0 to validate on the training set"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def standardizer(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training inputs' per-feature mean and standard deviation (1 where a feature is constant)."""
    std = x_train.std(axis=0)
    return x_train.mean(axis=0), np.where(std > 0, std, 1.0)
