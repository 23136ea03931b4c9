"""``ArrayFileDataModule``: the formats read the same arrays, every bad file or setting is refused
with a message naming it, the held-out split and the standardisation, the baselines."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.array_file import ArrayFileDataModule
from datamodules.array_files import DataFileError

N, D = 30, 4


def example_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    return x, x @ rng.normal(size=D) + 0.5


def write(path: Path, x: np.ndarray, y: np.ndarray, header: list[str] | None = None, label_at: int = -1):
    """``x`` and ``y`` in the format ``path``'s suffix names; for .npy, y goes to ``<stem>_y.npy``."""
    suffix = path.suffix
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    elif suffix == ".npy":
        np.save(path, x)
        np.save(path.with_name(f"{path.stem}_y.npy"), y)
    elif suffix == ".pt":
        torch.save({"x": torch.as_tensor(x), "y": torch.as_tensor(y)}, path)
    else:
        columns = list(x.T)
        columns.insert(label_at % (D + 1), y)
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            if header:
                writer.writerow(header)
            writer.writerows(np.stack(columns, axis=1).tolist())
    return path


def build(path: Path, **settings) -> ArrayFileDataModule:
    if path.suffix == ".npy" and "labels" not in settings:
        settings["labels"] = str(path.with_name(f"{path.stem}_y.npy"))
    return ArrayFileDataModule(path=str(path), **settings)


@pytest.mark.parametrize("name", ["data.npz", "data.npy", "data.pt", "data.csv"])
def test_each_format_reads_the_same_arrays(tmp_path, name):
    x, y = example_arrays()
    dm = build(write(tmp_path / name, x, y))
    x_train, y_train, x_val, y_val = dm.arrays()
    np.testing.assert_array_equal(x_train, x)  # csv: Python's repr of a float reads back exactly
    np.testing.assert_array_equal(y_train, y)
    assert x_val is x_train and y_val is y_train  # nothing held out: validation is the training set
    assert (dm.input_dim, dm.output_dim, dm.num_train, dm.num_val) == (D, 1, N, N)
    assert (dm.task_name, dm.metric_name, dm.max_label) == ("own_data", "psnr", np.abs(y).max())


def test_csv_label_column_by_index_or_by_header_name(tmp_path):
    x, y = example_arrays()
    header = ["a", "b", "price", "c", "d"]
    path = write(tmp_path / "data.csv", x, y, header=header, label_at=2)
    for column in (2, -3, "price", "2"):
        x_train, y_train, *_ = build(path, label_column=column).arrays()
        np.testing.assert_array_equal(x_train, x)
        np.testing.assert_array_equal(y_train, y)


def test_data_in_float64_becomes_the_trainers_dtype(tmp_path):
    """float64 inputs and integer labels under 32-true: float32 tensors, through ``as_tensor``."""
    from pytorch_lightning import Trainer

    x, y = example_arrays()
    dm = build(write(tmp_path / "data.npz", x, np.round(y).astype(np.int64)))
    dm.trainer = Trainer(precision="32-true", logger=False, enable_progress_bar=False)
    dm.setup("fit")
    assert dm.x_train.dtype == torch.float32 and dm.y_train.dtype == torch.float32
    np.testing.assert_array_equal(dm.x_train.numpy(), x.astype(np.float32))
    assert dm.x_val is dm.x_train


def test_classification_two_classes_scalar_more_classes_one_hot(tmp_path):
    x, _ = example_arrays()
    labels = np.arange(N) % 3
    dm = build(write(tmp_path / "three.npz", x, labels), task="classification")
    assert (dm.metric_name, dm.output_dim) == ("accuracy", 3)
    np.testing.assert_array_equal(dm.arrays()[1], np.eye(3)[labels])
    dm = build(write(tmp_path / "two.npz", x, labels % 2), task="classification")
    assert (dm.metric_name, dm.output_dim) == ("accuracy", 1)
    np.testing.assert_array_equal(dm.arrays()[1], labels % 2)
    assert ArrayFileDataModule.metric_for({"task": "classification"}) == "accuracy"
    assert ArrayFileDataModule.metric_for({}) == "psnr"


def test_vector_labels_give_vector_outputs(tmp_path):
    x, y = example_arrays()
    dm = build(write(tmp_path / "data.npz", x, np.stack([y, -y], axis=1)))
    assert dm.output_dim == 2 and dm.max_label == np.abs(y).max()


def _saved(tmp_path, name, save):
    path = tmp_path / name
    save(path)
    return path


def bad_files(tmp_path: Path):
    """(path, settings, what the message must say) for each file the datamodule refuses."""
    x, y = example_arrays()
    nan_x, inf_y = x.copy(), y.copy()
    nan_x[4, 1], inf_y[7] = np.nan, np.inf
    dense = np.zeros(N)
    csv_path = tmp_path / "bad.csv"
    return [
        (
            tmp_path / "missing.npz",
            {},
            "data.path=" + str(tmp_path / "missing.npz") + ": the file does not exist",
        ),
        (_saved(tmp_path, "data.txt", lambda p: p.write_text("1,2")), {}, "unknown format '.txt'"),
        (_saved(tmp_path, "noy.npz", lambda p: np.savez(p, x=x, labels=y)), {}, "no arrays named y"),
        (_saved(tmp_path, "nox.pt", lambda p: torch.save({"y": torch.ones(3)}, p)), {}, "no tensors named x"),
        (
            _saved(tmp_path, "list.pt", lambda p: torch.save([torch.ones(3)], p)),
            {},
            "holds a list, not a dict",
        ),
        (_saved(tmp_path, "alone.npy", lambda p: np.save(p, x)), {"labels": None}, "--data.labels y.npy"),
        (write(tmp_path / "a.npz", x, y), {"labels": "y.npy"}, "data.labels=y.npy: a separate labels file"),
        (
            _saved(tmp_path, "word.csv", lambda p: p.write_text("a,b\n1,2\n3,x\n")),
            {},
            "row 3, column 2 is 'x'",
        ),
        (_saved(tmp_path, "ragged.csv", lambda p: p.write_text("1,2,3\n4,5\n")), {}, "row 2 has 2 columns"),
        (
            write(csv_path, x, y, header=list("abcde")),
            {"label_column": "z"},
            "data.label_column=z: no column",
        ),
        (write(csv_path, x, y), {"label_column": 5}, "data.label_column=5: bad.csv has 5 columns"),
        (write(tmp_path / "flat.npz", x[:, 0], y), {}, "x has shape (30,)"),
        (write(tmp_path / "short.npz", x, y[:-1]), {}, "y has shape (29,) for 30 examples"),
        (write(tmp_path / "wide.npz", x, np.stack([y] * 3)), {}, "y has shape (3, 30) for 30 examples"),
        (
            write(tmp_path / "nan.npz", nan_x, y),
            {},
            "x has 1 NaN or infinite value(s), the first at row 4, column 1",
        ),
        (
            write(tmp_path / "inf.npz", x, inf_y),
            {},
            "y has 1 NaN or infinite value(s), the first at example 7",
        ),
        (write(tmp_path / "zero.npz", x, dense), {}, "every label in y is 0"),
        (write(tmp_path / "text.npz", x, np.array(["a"] * N)), {}, "y holds <U1 values"),
        (
            write(tmp_path / "half.npz", x, np.arange(N) / 2),
            {"task": "classification"},
            "y[1] = 0.5 is not an integer",
        ),
        (
            write(tmp_path / "neg.npz", x, np.arange(N) - 1),
            {"task": "classification"},
            "y[0] = -1 is negative",
        ),
        (
            write(tmp_path / "years.npz", x, np.arange(N) + 2000),
            {"task": "classification"},
            "largest class in y is 2029",
        ),
        (
            write(tmp_path / "ok.npz", x, y),
            {"val_fraction": 0.01},
            "of 30 examples leaves no validation example",
        ),
        (
            write(tmp_path / "ok.npz", x, y),
            {"val_fraction": 0.99},
            "of 30 examples leaves no training example",
        ),
        (
            write(tmp_path / "ok.npz", x, y),
            {"val_fraction": 1.0},
            "data.val_fraction=1.0: give a fraction in [0, 1)",
        ),
        (write(tmp_path / "ok.npz", x, y), {"task": "ranking"}, "data.task='ranking'"),
    ]


def test_every_bad_file_or_setting_is_refused_with_what_to_do(tmp_path):
    for path, settings, message in bad_files(tmp_path):
        with pytest.raises(DataFileError) as refused:
            build(path, **settings)
        assert message in str(refused.value), (path.name, settings)


def test_a_bad_file_stops_the_command_line_with_its_message(tmp_path, capsys):
    from lightning_app.cli import main

    missing = tmp_path / "missing.npz"
    args = ["fit", "--data", "datamodules.array_file.ArrayFileDataModule", f"--data.path={missing}"]
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--sweep.mlist", "2", "--sweep.slist", "2", f"--trainer.default_root_dir={tmp_path}"])
    assert str(stopped.value.code).startswith(f"error: data.path={missing}: the file does not exist")


def test_the_split_is_drawn_from_the_seed_disjoint_and_complete(tmp_path):
    x, y = example_arrays()
    path = write(tmp_path / "data.npz", x, y)
    dm = build(path, val_fraction=0.2, seed=3)
    assert (dm.num_train, dm.num_val) == (24, 6)  # round(0.2 · 30) held out
    train, val = dm.train_index, dm.val_index
    assert not set(train) & set(val) and sorted({*train, *val}) == list(range(N))
    np.testing.assert_array_equal(val, np.sort(np.random.default_rng(3).permutation(N)[:6]))
    x_train, y_train, x_val, y_val = dm.arrays()
    np.testing.assert_array_equal(x_val, x[val])
    np.testing.assert_array_equal(y_train, y[train])
    np.testing.assert_array_equal(build(path, val_fraction=0.2, seed=3).val_index, val)
    assert not np.array_equal(build(path, val_fraction=0.2, seed=4).val_index, val)


def test_standardisation_uses_the_training_examples_only(tmp_path):
    x, y = example_arrays()
    x[:, 2] = 7.0  # a constant feature: scale 1, shifted to 0
    dm = build(write(tmp_path / "data.npz", x, y), val_fraction=0.3, standardize=True, seed=1)
    rows = x[dm.train_index]
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std[2] = 1.0
    x_train, _, x_val, _ = dm.arrays()
    np.testing.assert_allclose(x_train, (rows - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_allclose(x_val, (x[dm.val_index] - mean) / std, rtol=0, atol=1e-12)
    # The held-out inputs changed a hundredfold: the training inputs do not move.
    far = x.copy()
    far[dm.val_index] *= 100
    moved = build(write(tmp_path / "far.npz", far, y), val_fraction=0.3, standardize=True, seed=1)
    np.testing.assert_array_equal(moved.arrays()[0], x_train)


def test_baselines_are_the_metrics_of_simple_predictions(tmp_path):
    x, y = example_arrays()  # y is exactly linear in x: the linear fit predicts held-out labels
    dm = build(write(tmp_path / "data.npz", x, y), val_fraction=0.5, seed=2)
    y_train, y_val, peak = y[dm.train_index], y[dm.val_index], np.abs(y).max()
    baselines = dm.baselines()
    assert baselines["zero"] == pytest.approx(10 * np.log10(peak**2 / np.mean(y_val**2)), abs=1e-12)
    expected_mean = 10 * np.log10(peak**2 / np.mean((y_val - y_train.mean()) ** 2))
    assert baselines["mean"] == pytest.approx(expected_mean, abs=1e-12)
    assert baselines["linear"] > 200  # exact to rounding
    labels = (np.arange(N) % 3 == 0).astype(int)  # class 0 in two thirds of the examples
    dm = build(write(tmp_path / "cls.npz", x, labels), task="classification", val_fraction=0.5, seed=2)
    assert dm.baselines()["majority"] == np.mean(labels[dm.val_index] == 0)
    three = x[:, :3].argmax(axis=1)  # the largest of three inputs: linear scores separate the classes
    dm = build(write(tmp_path / "three.npz", x, three), task="classification", val_fraction=0.5, seed=2)
    majority = np.bincount(three[dm.train_index]).argmax()
    assert dm.baselines()["majority"] == np.mean(three[dm.val_index] == majority)
    assert dm.baselines()["linear"] > dm.baselines()["majority"]
