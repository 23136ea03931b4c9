"""Every point's result found under a run folder, whichever sweep wrote it, so that the folder's
outputs (``results.csv``, the tables, heatmaps, figures, curves and ``summary.md``) cover the
whole folder: an AIHT sweep and an IMP sweep run into one folder give one set of outputs.

A ``result.json`` is taken when it is a JSON object with a known status and the point's
coordinates (task, method, depth, m, s, seed, epochs, batch size); anything else is named in a
warning and left where it is (a sweep that runs that point sets it aside). A claim or a file
being written is not a result and is not read.
"""

import json
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from lightning_app.files.bounded_read import read_bounded
from lightning_app.store.finished import COORDINATES, MAX_BYTES, STATUSES
from lightning_app.store.results import RESULT_FILE

PANEL_FIELDS = ("epochs", "batch_size")  # what tells panels apart besides the coordinates


def read_folder_result(path: Path) -> dict | None:
    """``path`` read as a result, or None where it cannot be one (see the module docstring)."""
    try:
        result = json.loads(read_bounded(path, MAX_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):  # OSError: UnreadableFile too
        return None
    if not isinstance(result, dict) or result.get("status") not in STATUSES:
        return None
    if any(result.get(key) is None for key in (*COORDINATES, *PANEL_FIELDS)):
        return None
    return result


def folder_results(
    root: Path, warn: Callable[[str], None] = print, skip: Collection[str] = ()
) -> dict[str, dict]:
    """Every readable result under ``root``, by its point folder relative to ``root``; the point
    folders in ``skip`` (a sweep's own, which it reads itself) are not read."""
    root = Path(root)
    found: dict[str, dict] = {}
    for path in sorted(root.rglob(RESULT_FILE)):
        folder = path.parent.relative_to(root).as_posix()
        if folder in skip or not path.is_file():
            continue
        result = read_folder_result(path)
        if result is None:
            warn(f"{path} is not a point's result: left out of the folder's outputs")
            continue
        found[folder] = result
    return found


def with_folder_results(
    root: Path, results: Iterable[tuple[str, dict]], warn: Callable[[str], None] = print
) -> list[dict]:
    """The results of every point under ``root``, where ``results`` (point folder, result) of
    this sweep replace what the folder holds for the same point."""
    ours = dict(results)
    merged = folder_results(root, warn, skip=ours.keys())
    merged.update(ours)
    return list(merged.values())
