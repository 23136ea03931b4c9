"""Per-point ``result.json`` files and the grid's ``results.csv``.

``result.json`` is always strict JSON: a number that is not finite is written as null. The
CSV's fixed columns are followed by the other fields of the results and by the settings of the
points' identities (``lightning_app/plan/identity.py``) that vary between them, e.g.
``data.nmeasurements`` when two panels differ in it.
"""

import csv
import io
import json
import math
from pathlib import Path

from lightning_app.files.safe_write import write_text
from lightning_app.plan.identity import flat_settings

RESULT_FILE = "result.json"
NOT_IN_CSV = {"identity", "versions", "export_bytes", "export_sha256"}  # in result.json only
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


def json_safe(value):
    """``value`` with every non-finite float (NaN, ±inf) replaced by None, at any depth."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_result(folder: Path, result: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(result), indent=2, sort_keys=True, allow_nan=False)
    write_text(folder / RESULT_FILE, text + "\n")


def varying_settings(results: list[dict]) -> dict[str, list]:
    """Per result, the identity settings that take more than one value over ``results``."""
    flats = [flat_settings(r["identity"]) if isinstance(r.get("identity"), dict) else {} for r in results]
    names = sorted({k for f in flats for k in f})
    varying = [n for n in names if len({json.dumps(f[n], sort_keys=True) for f in flats if n in f}) > 1]
    return {n: [f.get(n, "") for f in flats] for n in varying}


def write_csv(path: Path, results: list[dict]) -> None:
    """One row per point; columns beyond the fixed ones (recovery metrics, …) follow them, then
    the settings that vary between the points."""
    settings = varying_settings(results)
    extra = sorted({k for r in results for k in r} - set(CSV_COLUMNS) - NOT_IN_CSV - set(settings))
    columns = CSV_COLUMNS + extra + list(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for i, r in enumerate(results):
        row = {k: r.get(k, "") for k in columns}
        row.update({name: values[i] for name, values in settings.items()})
        writer.writerow(row)
    write_text(path, text.getvalue())
