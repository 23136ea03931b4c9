"""Your own data, read from a file, as a task of the sweep: no code to write.

``--data datamodules.array_file.ArrayFileDataModule --data.path my.npz`` trains on the inputs x
and labels y in ``my.npz`` (``.npz``, a ``.npy`` pair, ``.csv`` or ``.pt``: see
``datamodules/array_files.py``). The file is read and checked when the datamodule is built, so a
wrong file stops the sweep before any point runs, with a message naming the setting at fault.

The task is named ``own_data`` in results, tables and run folders (one data file per run folder:
give each its own ``--trainer.default_root_dir``). Its metric follows ``task``: PSNR for
regression (peak: the largest |label| in the file, as on the planted task), accuracy for
classification.
"""

from typing import Literal

import numpy as np

from datamodules.array_checks import (
    check_inputs,
    class_targets,
    regression_targets,
    split_indices,
    standardizer,
)
from datamodules.array_datamodule import ArrayDataModule, Arrays
from datamodules.array_files import DataFileError, read_arrays

TASKS = {"regression": "psnr", "classification": "accuracy"}


class ArrayFileDataModule(ArrayDataModule):
    """Inputs and labels from a file, a held-out split drawn from the seed, optional standardisation.

    Args:
        path: the data file: ``.npz`` (arrays ``x`` and ``y``), ``.npy`` (the inputs; the labels in
            ``labels``), ``.csv`` (numbers, one example per row, an optional header row) or ``.pt``
            (``torch.save`` of a dict of tensors ``x`` and ``y``).
        labels: with a ``.npy`` ``path`` only: the labels' ``.npy`` file.
        label_column: ``.csv`` only: the labels' column, its index (negative from the end; -1, the
            default, is the last) or its name in the header row.
        task: ``regression`` (labels are real values, one per example or k per example; PSNR) or
            ``classification`` (integer classes 0 … k−1; accuracy; two classes give a scalar
            output thresholded at 0.5, more give k one-hot outputs, for which
            ``--model.loss crossentropy`` is the paper's choice).
        val_fraction: the share of examples held out for validation, drawn from ``seed``; 0 (the
            default) validates on the training set itself, as the planted task does.
        standardize: shift and scale each input feature by the training examples' mean and
            standard deviation (the held-out examples take the training statistics).
        seed: the run's seed (set per point by the sweep); it draws the split and orders the
            minibatches.
        batch_size: 0 for full batch, else the minibatch size.
        bias: append a constant-1 input feature.
    """

    task_name = "own_data"
    metric_name = TASKS["regression"]

    def __init__(
        self,
        path: str,
        labels: str | None = None,
        label_column: int | str = -1,
        task: Literal["regression", "classification"] = "regression",
        val_fraction: float = 0.0,
        standardize: bool = False,
        seed: int = 0,
        batch_size: int = 0,
        bias: bool = False,
    ) -> None:
        super().__init__(seed=seed, download=False, batch_size=batch_size, bias=bias)
        if task not in TASKS:
            raise DataFileError(f"data.task={task!r}: give regression (PSNR) or classification (accuracy)")
        self.path, self.labels, self.label_column = str(path), labels, label_column
        self.task, self.val_fraction, self.standardize = task, val_fraction, standardize
        self.metric_name = TASKS[task]
        x, y = read_arrays(self.path, labels, label_column)
        x = check_inputs(x)
        n = x.shape[0]
        y = regression_targets(y, n) if task == "regression" else class_targets(y, n)
        self.train_index, self.val_index = split_indices(n, val_fraction, seed)
        self.input_dim = x.shape[1]
        self.output_dim = 1 if y.ndim == 1 else y.shape[1]
        self.max_label = float(np.abs(y).max()) if task == "regression" else 1.0
        self._arrays = self._prepare(x, y)

    @classmethod
    def metric_for(cls, init_args) -> str:
        return TASKS.get(init_args.get("task", "regression"), cls.metric_name)

    def _prepare(self, x: np.ndarray, y: np.ndarray) -> Arrays:
        """(x_train, y_train, x_val, y_val); the validation pair is the training pair itself when
        nothing is held out."""
        x_train, y_train = x[self.train_index], y[self.train_index]
        if self.standardize:
            self.input_mean, self.input_scale = standardizer(x_train)
            x_train = (x_train - self.input_mean) / self.input_scale
        if self.val_index is None:
            return x_train, y_train, x_train, y_train
        x_val, y_val = x[self.val_index], y[self.val_index]
        if self.standardize:
            x_val = (x_val - self.input_mean) / self.input_scale
        return x_train, y_train, x_val, y_val

    @property
    def num_train(self) -> int:
        return len(self.train_index)

    @property
    def num_val(self) -> int:
        """Validation examples (all training examples when nothing is held out)."""
        return self.num_train if self.val_index is None else len(self.val_index)

    def fetch(self) -> None:
        """Nothing to download: the file is read when the datamodule is built."""

    def arrays(self) -> Arrays:
        return self._arrays

    def baselines(self) -> dict[str, float]:
        """The metric on the validation examples of simple predictions, to compare a trained
        network with: predictions that use no input (regression: ``zero``, 0, and ``mean``, the
        training labels' mean; classification: ``majority``, the training set's most frequent
        class) and ``linear``, a dense linear fit: least squares with an intercept on the training
        examples (for classification its output thresholded at 0.5, or its largest entry)."""
        x_train, y_train, x_val, y_val = self._arrays
        design = np.column_stack([x_train, np.ones(len(x_train))])
        coefficients = np.linalg.lstsq(design, y_train, rcond=None)[0]
        linear = np.column_stack([x_val, np.ones(len(x_val))]) @ coefficients
        if self.task == "regression":
            mean = np.broadcast_to(y_train.mean(axis=0), y_val.shape)
            return {
                name: self._psnr(pred, y_val)
                for name, pred in (("zero", 0 * y_val), ("mean", mean), ("linear", linear))
            }
        if y_train.ndim == 1:
            majority = np.full(y_val.shape, float(y_train.mean() >= 0.5))
            return {"majority": _accuracy(majority, y_val), "linear": _accuracy(linear, y_val)}
        majority = np.broadcast_to(np.eye(self.output_dim)[np.argmax(y_train.sum(axis=0))], y_val.shape)
        return {"majority": _accuracy(majority, y_val), "linear": _accuracy(linear, y_val)}

    def _psnr(self, pred: np.ndarray, target: np.ndarray) -> float:
        """PSNR with the task's peak, as the trained network is measured."""
        mse = max(float(np.mean((pred - target) ** 2)), np.finfo(float).tiny)  # an exact fit: no log of 0
        return float(20 * np.log10(self.max_label) - 10 * np.log10(mse))


def _accuracy(pred: np.ndarray, target: np.ndarray) -> float:
    """The share of examples classified right: output ≥ 0.5 against 0/1 labels, or the largest of
    k outputs against one-hot rows."""
    if target.ndim == 1:
        return float(np.mean((pred >= 0.5) == (target == 1)))
    return float(np.mean(pred.argmax(axis=1) == target.argmax(axis=1)))
