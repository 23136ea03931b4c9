"""Per-point ``result.json`` files and the grid's ``results.csv``."""

import csv
import json
import os
from pathlib import Path

RESULT_FILE = "result.json"
CSV_COLUMNS = [
    "task",
    "method",
    "num_layers",
    "m",
    "s",
    "s_effective",
    "seed",
    "metric_name",
    "metric",
    "nnz",
    "epochs",
    "batch_size",
    "wall_s",
    "status",
    "error",
]


def _tmp_path(path: Path) -> Path:
    """A temporary name next to ``path`` that no other process writes (sweeps may share a folder)."""
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def _write_atomically(path: Path, text: str) -> None:
    tmp = _tmp_path(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def write_result(folder: Path, result: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")


def read_result(folder: Path) -> dict | None:
    path = folder / RESULT_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_csv(path: Path, results: list[dict]) -> None:
    """One row per point; columns beyond the fixed ones (recovery metrics, …) follow them."""
    extra = sorted({k for r in results for k in r} - set(CSV_COLUMNS))
    columns = CSV_COLUMNS + extra
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow({k: r.get(k, "") for k in columns})
    os.replace(tmp, path)
