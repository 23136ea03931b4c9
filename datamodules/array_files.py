"""Reading a user's inputs x and labels y from a file, for ``datamodules.array_file``.

Four formats, told apart by the file's suffix:

- ``.npz``: arrays named ``x`` and ``y`` (``np.savez(path, x=inputs, y=labels)``);
- ``.npy``: the inputs, with the labels in a second ``.npy`` file (``data.labels``);
- ``.csv``: numbers separated by commas, one example per row, an optional header row; the labels
  are one column (``data.label_column``: its index, negative counting from the end, or its name
  in the header), the inputs every other column;
- ``.pt`` / ``.pth``: ``torch.save({"x": inputs, "y": labels}, path)`` with tensors, read with
  ``weights_only=True`` (no code in the file runs).

Every error names the setting that points at the problem and says what to do. The arrays come
back as they are stored; ``datamodules.array_checks`` checks their shapes and values.
"""

import csv
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

FORMATS = (".npz", ".npy", ".csv", ".pt", ".pth")
SAVE_HINT = {
    ".npz": "np.savez(path, x=inputs, y=labels)",
    ".pt": 'torch.save({"x": torch.as_tensor(inputs), "y": torch.as_tensor(labels)}, path)',
}


class DataFileError(ValueError):
    """A data file that cannot be read as inputs and labels; the message says what to do."""


def existing_file(path: str, setting: str) -> Path:
    """``path`` as a file that exists, or an error naming ``setting``."""
    file = Path(path).expanduser()
    if not file.is_file():
        where = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise DataFileError(
            f"{setting}={path}: the file {where} (looked for {file.resolve()}); give the path of "
            "your data file, absolute or relative to the folder you run from"
        )
    return file


def read_arrays(path: str, labels: str | None = None, label_column: int | str = -1) -> tuple[np.ndarray, ...]:
    """(x, y) as stored in ``path`` (and ``labels`` for a ``.npy`` pair)."""
    file = existing_file(path, "data.path")
    suffix = file.suffix.lower()
    if suffix not in FORMATS:
        raise DataFileError(
            f"data.path={path}: unknown format {suffix or '(no suffix)'!r}; use .npz (arrays x and y), "
            ".npy (inputs, with --data.labels for the labels' .npy), .csv (numbers, the label "
            "column chosen by --data.label_column) or .pt (a dict of tensors x and y)"
        )
    if labels is not None and suffix != ".npy":
        raise DataFileError(
            f"data.labels={labels}: a separate labels file goes with a .npy data.path only; "
            f"{file.name} holds its labels itself: leave data.labels unset"
        )
    if suffix == ".npz":
        return read_npz(file)
    if suffix == ".npy":
        return read_npy_pair(file, labels)
    if suffix == ".csv":
        return read_csv(file, label_column)
    return read_torch(file)


def _check_names(names, file: Path, kind: str) -> None:
    """``names`` (what the file holds) must include x and y."""
    missing = [key for key in ("x", "y") if key not in names]
    if missing:
        held = ", ".join(sorted(map(str, names))) or "nothing"
        hint = SAVE_HINT[".npz" if kind == "arrays" else ".pt"]
        raise DataFileError(
            f"data.path={file}: no {kind} named {' or '.join(missing)} (it holds: {held}); save the "
            f"inputs as x (n × d) and the labels as y (n values, or n × k): {hint}"
        )


def read_npz(file: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        held = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        hint = SAVE_HINT[".npz"]
        raise DataFileError(f"data.path={file}: not a readable .npz file ({exc}); {hint}") from None
    with held:
        _check_names(held.files, file, "arrays")
        try:
            return held["x"], held["y"]
        except ValueError as exc:  # object arrays need pickle, which is never allowed here
            why = f"holds arrays of Python objects ({exc}); save numbers"
            raise DataFileError(f"data.path={file}: {why}") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataFileError(f"data.path={file}: a damaged .npz file ({exc}); save it again") from None


def _read_npy(file: Path, setting: str) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as exc:
        raise DataFileError(f"{setting}={file}: not a numeric .npy array ({exc}); use np.save") from None
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{setting}={file}: not a readable .npy file ({exc}); use np.save") from None


def read_npy_pair(file: Path, labels: str | None) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        raise DataFileError(
            f"data.path={file}: a .npy file holds one array, the inputs; give the labels' .npy "
            "with --data.labels (e.g. --data.path x.npy --data.labels y.npy), or save both in "
            f"one .npz: {SAVE_HINT['.npz']}"
        )
    labels_file = existing_file(labels, "data.labels")
    if labels_file.suffix.lower() != ".npy":
        raise DataFileError(f"data.labels={labels}: the labels of a .npy data.path must be a .npy file too")
    return _read_npy(file, "data.path"), _read_npy(labels_file, "data.labels")


def read_csv(file: Path, label_column: int | str) -> tuple[np.ndarray, np.ndarray]:
    with open(file, newline="") as handle:
        numbered = enumerate(csv.reader(handle), 1)
        rows = [(number, row) for number, row in numbered if any(cell.strip() for cell in row)]
    if not rows:
        raise DataFileError(f"data.path={file}: the file is empty; write one example per row")
    header = None if _numeric(rows[0][1]) else [cell.strip() for cell in rows[0][1]]
    body = rows[1:] if header is not None else rows
    if not body:
        raise DataFileError(f"data.path={file}: a header row and no examples; write one example per row")
    width = len(header) if header is not None else len(body[0][1])
    values = np.empty((len(body), width))
    for i, (number, row) in enumerate(body):
        if len(row) != width:
            raise DataFileError(
                f"data.path={file}: row {number} has {len(row)} columns, the file's first row {width}; "
                "every row needs the same columns"
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise DataFileError(
                    f"data.path={file}: row {number}, column {j + 1} is {cell!r}, not a number; only "
                    "the first row may hold names (a header)"
                ) from None
    column = _label_index(label_column, header, width, file)
    return np.delete(values, column, axis=1), values[:, column]


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def _label_index(label_column: int | str, header: list[str] | None, width: int, file: Path) -> int:
    """The index of the label column: an index (negative from the end) or a header name."""
    if isinstance(label_column, str) and label_column.lstrip("-").isdigit():
        label_column = int(label_column)
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            names = ", ".join(header) if header is not None else "none: the file has no header row"
            raise DataFileError(
                f"data.label_column={label_column}: no column of {file.name} has that name (names: "
                f"{names}); give the column's name or its index (0 is the first, -1 the last)"
            )
        return header.index(label_column)
    if width < 2:
        raise DataFileError(f"data.path={file}: one column only; a row needs its inputs and its label")
    if not -width <= label_column < width:
        raise DataFileError(
            f"data.label_column={label_column}: {file.name} has {width} columns (indices 0 to "
            f"{width - 1}, or -{width} to -1 from the end)"
        )
    return label_column % width


def read_torch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        held = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise DataFileError(
            f"data.path={file}: not readable as a dict of tensors with weights_only=True ({exc}); "
            f"save tensors, not other objects: {SAVE_HINT['.pt']}"
        ) from None
    if not isinstance(held, dict):
        raise DataFileError(
            f"data.path={file}: holds a {type(held).__name__}, not a dict; {SAVE_HINT['.pt']}"
        )
    _check_names(held, file, "tensors")
    out = []
    for key in ("x", "y"):
        value = held[key]
        if not isinstance(value, torch.Tensor):
            raise DataFileError(f"data.path={file}: {key} is a {type(value).__name__}, not a tensor")
        value = value.detach()
        out.append((value.double() if value.is_floating_point() else value).numpy())
    return out[0], out[1]
