"""Result dicts rebuilt from TensorBoard event files alone, read with TensorBoard's own reader.

Every grid point's folder holds an events file in which the sweep called Lightning's
``TensorBoardLogger.log_hyperparams(result_fields, metrics={"hp_metric": metric})``: the fields
land in the hparams plugin's session start info, the metric in the ``hp_metric`` scalar. Walking a
directory for such files is enough to rebuild the results table, so logs from several machines
can be merged by copying their folders side by side.

What comes back from the events is what went in, up to the hparams plugin's types: numbers are
doubles (so integer fields are turned back into ints, ``convex``/``bias`` into bools) and a None
was logged as the string "None" (turned back into None). The metric is the hparams' own ``metric``
field where the sweep logged one (a double, so exact), else the last ``hp_metric`` scalar (a
float32 in the event file). A point's status is its ``status`` field; without one a point with a
finite metric counts as done, otherwise as failed. Events files without hparams (training curves,
logged images) are ignored. Where the same point (panel, m, s, seed) appears more than once, the
copy with the newest hparams event wins; copies in different folders that
differ in metric or status are named.

A damaged events file (cut short, or bytes changed: its records do not cover the whole file) is
reported to ``on_damaged`` with its path and the byte where its readable records stop; what was
readable before that is used, and the other files are read as usual. TensorBoard's own reader
stops at such a place silently.
"""

import logging
import math
from collections.abc import Callable
from pathlib import Path

from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing import event_file_loader, io_wrapper
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.util import tensor_util

from lightning_app.files.bounded_read import UnreadableFile, regular_file_size
from lightning_app.report.tables import panel_of

HP_METRIC = "hp_metric"
INT_FIELDS = {
    "num_layers",
    "m",
    "s",
    "seed",
    "epochs",
    "batch_size",
    "s_effective",
    "nnz",
    "updates",
    "imp_round",
}
BOOL_FIELDS = {"convex", "bias"}
RECORD_FRAMING = 16  # bytes around each record of an events file: length, its crc, the data's crc
OnDamaged = Callable[[Path, str], None]
OnDuplicate = Callable[[Path, Path, str], None]
MAX_EVENTS_BYTES = 1 << 30  # a point's events (curves and hparams) are kilobytes to megabytes

log = logging.getLogger("lightning_app.report.events")


def _warn_damaged(path: Path, reason: str) -> None:
    log.warning("damaged events file %s: %s", path, reason)


def find_event_files(logdir: Path) -> list[Path]:
    """Every TensorBoard events file under ``logdir`` (recursively), in sorted order."""
    logdir = Path(logdir)
    return sorted(p for p in logdir.rglob("*") if p.is_file() and io_wrapper.IsTensorFlowEventsFile(str(p)))


def _hparam_value(name: str, value):
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if name in BOOL_FIELDS:
            return bool(number)
        if name in INT_FIELDS and math.isfinite(number) and number.is_integer():
            return int(number)
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "string_value":
        text = value.string_value
        if text == "None":
            return None
        if name in BOOL_FIELDS and text in ("True", "False"):
            return text == "True"
        return text
    return None


def _scalar(value) -> float:
    if value.WhichOneof("value") == "simple_value":
        return float(value.simple_value)
    return float(tensor_util.make_ndarray(value.tensor).item())


def load_events(path: Path) -> tuple[list[event_pb2.Event], str | None]:
    """The events of one file in order, and why the file is damaged (None if it is whole). A file
    that is not a regular file, or larger than ``MAX_EVENTS_BYTES``, is not read."""
    offset, events = 0, []
    try:
        size = regular_file_size(Path(path))
    except UnreadableFile as exc:
        return events, f"not read: {exc}"
    if size > MAX_EVENTS_BYTES:
        return (
            events,
            f"not read: {size} bytes, more than the {MAX_EVENTS_BYTES} an events file may hold here",
        )
    if size == 0:
        return events, "it is empty"
    for record in event_file_loader.RawEventFileLoader(str(path)).Load():
        try:
            events.append(event_pb2.Event.FromString(record))
        except DecodeError:
            return events, f"the record at byte {offset} is not an event"
        offset += len(record) + RECORD_FRAMING
    if offset != size:
        return events, f"its records stop at byte {offset} of {size} (cut short or corrupt)"
    return events, None


def read_event_file(path: Path, on_damaged: OnDamaged = _warn_damaged) -> tuple[dict, float] | None:
    """The result dict logged in one events file and the wall time of its hparams, or None if
    the file holds no hparams. With several hparams events in a file, the last one counts."""
    hparams, wall_time, hp_metric = None, 0.0, None
    events, damage = load_events(path)
    if damage is not None:
        on_damaged(Path(path), damage)
    for event in events:
        if not event.HasField("summary"):
            continue
        for value in event.summary.value:
            if value.tag == HP_METRIC:
                hp_metric = _scalar(value)
            elif (
                value.tag == hparams_metadata.SESSION_START_INFO_TAG
                and value.metadata.plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME
            ):
                content = value.metadata.plugin_data.content
                info = hparams_metadata.parse_session_start_info_plugin_data(content)
                hparams = {k: _hparam_value(k, v) for k, v in info.hparams.items()}
                wall_time = event.wall_time
    if hparams is None:
        return None
    return _as_result(hparams, hp_metric), wall_time


def _as_result(hparams: dict, hp_metric: float | None) -> dict:
    result = dict(hparams)
    metric = result.get("metric")
    if not isinstance(metric, float | int) or isinstance(metric, bool):
        metric = hp_metric
    if metric is not None and not math.isfinite(metric):
        metric = None
    status = result.get("status") or ("done" if metric is not None else "failed")
    result["status"] = status
    result["metric"] = 0.0 if status == "skipped" else metric if status == "done" else None
    return result


def _point_key(result: dict) -> tuple:
    return panel_of(result), int(result["m"]), int(result["s"]), int(result["seed"])


def _warn_duplicate(first: Path, second: Path, point: str) -> None:
    log.warning("%s", duplicate_message(first, second, point))


def duplicate_message(first: Path, second: Path, point: str) -> str:
    return (
        f"the point {point} is found twice with different results: in {first} and in {second} "
        "(the newer wins)"
    )


def _differ(a: dict, b: dict) -> bool:
    def same(x, y) -> bool:
        both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        return x == y or both_nan

    return not (same(a.get("metric"), b.get("metric")) and a.get("status") == b.get("status"))


def results_from_events(
    logdir: Path, on_damaged: OnDamaged = _warn_damaged, on_duplicate: OnDuplicate = _warn_duplicate
) -> list[dict]:
    """The result dicts of every grid point logged under ``logdir``, one per point (the newest
    copy of a point wins), sorted by panel, m, s and seed; damaged files go to ``on_damaged``,
    a point found in files of two folders with different metric or status to
    ``on_duplicate(older file, newer file, point)`` (in one folder, the point was run again)."""
    newest: dict[tuple, tuple[float, dict, Path]] = {}
    for path in find_event_files(logdir):
        found = read_event_file(path, on_damaged)
        if found is None:
            continue
        result, wall_time = found
        if not {"task", "method", "num_layers", "m", "s", "seed", "epochs", "batch_size"} <= set(result):
            continue  # hparams of something other than a grid point
        key = _point_key(result)
        if key in newest:
            seen_time, seen, seen_path = newest[key]
            if seen_path.parent != path.parent and _differ(seen, result):  # same folder: a rerun
                older, newer = (seen_path, path) if wall_time >= seen_time else (path, seen_path)
                on_duplicate(older, newer, _point_name(result))
        if key not in newest or wall_time >= newest[key][0]:
            newest[key] = (wall_time, result, path)
    return [newest[key][1] for key in sorted(newest)]


def _point_name(result: dict) -> str:
    coordinates = ("num_layers", "m", "s", "seed")
    return f"{result['task']} {result['method']} " + " ".join(f"{k}={result[k]}" for k in coordinates)
