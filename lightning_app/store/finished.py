"""Which points of a grid are finished before it runs: each point's ``result.json`` read back.

A point whose result is ``done`` or ``diverged`` (outcomes of the algorithm) is kept, unless
``--sweep.overwrite``; its recorded identity must equal this sweep's, or the sweep stops before
anything runs, naming every setting that changed. A point ``failed``, ``skipped`` or without a
result runs. A ``result.json`` that cannot be a result of its point (not a regular file, not JSON,
not an object, a status, a metric or a coordinate that is wrong or missing, larger than any
result), or whose point's export is not the file it recorded (size and SHA-256: another run of
the point, killed before its own ``result.json``, replaced it), is named in a warning, set aside
as ``result.json.damaged-<time>`` (never deleted) and its point runs again. A point folder that
is a dangling symlink, a symlink loop or a file is set aside the same way.
"""

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lightning_app.files.bounded_read import UnreadableFile, read_bounded
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.grid import GridPoint
from lightning_app.plan.identity import identity_changes
from lightning_app.plan.job import Job
from lightning_app.store.results import RESULT_FILE

STATUSES = ("done", "diverged", "skipped", "failed")
KEPT = ("done", "diverged")
COORDINATES = ("task", "method", "num_layers", "m", "s", "seed")
MAX_BYTES = 1 << 20  # a result is about 1 kB


class Damaged(Exception):
    """Why a ``result.json`` cannot be read as its point's result."""


@dataclass
class GridState:
    """The grid's points in order, the finished ones kept, and the jobs (with the points of each
    that must run) still to run."""

    order: list[GridPoint]
    kept: dict[GridPoint, dict] = field(default_factory=dict)
    todo: list[tuple[Job, list[GridPoint]]] = field(default_factory=list)


def scan_finished(
    jobs: list[Job], root: Path, overwrite: bool = False, warn: Callable[[str], None] = print
) -> GridState:
    """The state of ``jobs``' points under ``root`` (module docstring); SettingsError if a kept
    point was run with other settings than its job's identity."""
    state = GridState([p for job in jobs for p in job])
    changed: dict[str, list[GridPoint]] = {}
    for job in jobs:
        todo = []
        for point in job:
            set_aside_unusable_folder(root / point.folder, warn)
            previous = None if overwrite else previous_result(root / point.folder, point, warn)
            if previous is None or previous["status"] not in KEPT:
                todo.append(point)
                continue
            for change in identity_changes(previous["identity"], job.identity):
                changed.setdefault(change, []).append(point)
            state.kept[point] = previous
        if todo:
            state.todo.append((job, todo))
    if changed:
        points = {p for ps in changed.values() for p in ps}
        lines = "\n".join(
            f"  {change}  ({len(ps)} point(s), e.g. {ps[0].folder})" for change, ps in changed.items()
        )
        raise SettingsError(
            f"{len(points)} finished point(s) under {root} were run with other settings "
            f"(setting: theirs → this sweep's):\n{lines}\nrerun with --sweep.overwrite true to redo "
            "them, or choose another --trainer.default_root_dir"
        )
    return state


def previous_result(folder: Path, point: GridPoint, warn: Callable[[str], None] = print) -> dict | None:
    """The result in ``folder``, None if there is none or it was damaged (then set aside)."""
    path = folder / RESULT_FILE
    if not os.path.lexists(path):
        return None
    try:
        return load_result(path, point)
    except Damaged as reason:
        aside = set_aside(path)
        warn(f"{path} is damaged: {reason}; set aside as {aside.name}, the point runs again")
        return None


def set_aside_unusable_folder(folder: Path, warn: Callable[[str], None] = print) -> None:
    """A point folder that is a dangling symlink, a symlink loop or not a folder is named and set
    aside (renamed, never deleted), so that the point runs in a folder of its own."""
    if os.path.isdir(folder) or not (os.path.lexists(folder)):
        return
    what = "a symlink to nothing or a symlink loop" if os.path.islink(folder) else "not a folder"
    aside = set_aside(folder)
    warn(f"{folder} is {what}; set aside as {aside.name}, the point runs again")


def load_result(path: Path, point: GridPoint) -> dict:
    """``path`` read as ``point``'s result; Damaged if it cannot be one."""
    try:
        raw = read_bounded(path, MAX_BYTES)
    except UnreadableFile as exc:
        raise Damaged("it " + str(exc).removeprefix(f"{path} ")) from None
    try:
        result = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise Damaged("it is not text (random bytes?)") from None
    except json.JSONDecodeError as exc:
        raise Damaged(f"it is not valid JSON ({exc})") from None
    except RecursionError:
        raise Damaged("it is nested too deeply to be a result") from None
    except ValueError as exc:  # NaN or Infinity, which strict JSON has no literal for
        raise Damaged(str(exc)) from None
    check_result(result, point)
    if result["status"] in KEPT:
        check_export(path.parent, result)
    return result


def check_export(folder: Path, result: dict) -> None:
    """Damaged unless the export ``result`` records (name, size, SHA-256) is in ``folder`` as it
    was written: another run of the point, killed before its ``result.json``, may have replaced
    it. Results written before the checksum was recorded are not checked."""
    name, size, digest = result.get("export"), result.get("export_bytes"), result.get("export_sha256")
    if digest is None:
        return
    if not isinstance(name, str) or Path(name).name != name or not isinstance(size, int):
        raise Damaged(f"its export record {name!r} ({size!r} bytes) is not a file of its folder")
    try:
        data = read_bounded(folder / name, size)
    except UnreadableFile as exc:
        raise Damaged(f"its export does not match it: {exc}") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise Damaged(
            f"its export {name} is not the network it recorded ({len(data)} bytes, checksum differs): "
            "written by another run of the point"
        )


def _reject_constant(name: str):
    raise ValueError(f"it holds {name}, which JSON does not allow")


def check_result(result, point: GridPoint) -> None:
    """Damaged unless ``result`` is a result of ``point`` that a sweep could have written."""
    if not isinstance(result, dict):
        raise Damaged(f"it holds a JSON {type(result).__name__}, where a result is an object")
    status = result.get("status")
    if status not in STATUSES:
        raise Damaged(f"its status {status!r} is not one of {', '.join(STATUSES)}")
    missing = [k for k in COORDINATES if k not in result]
    if status in KEPT and not isinstance(result.get("identity"), dict):
        missing.append("identity (results written before identities were recorded have none)")
    if missing:
        raise Damaged(f"it has no {', '.join(missing)}")
    for key in COORDINATES:
        value, expected = result[key], getattr(point, key)
        if type(value) is not type(expected) or value != expected:
            raise Damaged(f"it records {key}={value!r}, but its folder is the point with {key}={expected!r}")
    metric = result.get("metric")
    if status == "done" and not _finite_number(metric):
        raise Damaged(f"it is done with metric {metric!r}, which is not a finite number")


def _finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def set_aside(path: Path) -> Path:
    """Renames a damaged file to ``<name>.damaged-<time>`` next to it; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        path.rename(target)
    except OSError as exc:
        raise SettingsError(f"{path} is damaged and cannot be set aside ({exc}): move it away") from None
    return target
