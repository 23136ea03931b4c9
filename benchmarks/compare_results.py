"""Compares two run folders bit for bit: every ``result.json`` (all fields but the timings), every
``results.csv`` (all columns but the timings), every exported network (``sparse_network.pt``,
its tensors and its info but the timings) and every point's TensorBoard curves (each scalar tag's
steps and values, in order). Prints each difference; exits 1 if there is any, or if a file is in
one folder only.

    python benchmarks/compare_results.py OLD_DIR NEW_DIR

Floats are compared by their exact value (JSON and the CSV hold Python's shortest round-trip form,
so equal text is equal bits); tensors by ``torch.equal`` with the same dtype, shape and layout.
"""

import csv
import json
import sys
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# how long a point took: the one thing allowed to change; and the size and checksum result.json
# records of its export, whose header holds fit_s too (the export's tensors are compared directly)
TIMINGS = {"wall_s", "fit_s", "export_bytes", "export_sha256"}
FILES = ("result.json", "results.csv", "sparse_network.pt")
EVENTS = "events.out.tfevents.*"  # a point's TensorBoard events; compared as the folder's curves
CURVES = "curves"  # the name under which a folder's events are compared


def files_of(root: Path) -> dict[str, Path]:
    files = {str(p.relative_to(root)): p for name in FILES for p in root.rglob(name)}
    folders = {p.parent for p in root.rglob(EVENTS)}
    return files | {str((folder / CURVES).relative_to(root)): folder for folder in folders}


def curves(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Each scalar tag's (step, value) pairs, in the order written."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def curve_differences(old: Path, new: Path) -> list[str]:
    a, b = curves(old), curves(new)
    return [f"curve {tag} differs" for tag in sorted(set(a) | set(b)) if a.get(tag) != b.get(tag)]


def strip_timings(value):
    """``value`` without the timing fields, at any depth of dicts, lists and JSON text (an exported
    network's header)."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {k: strip_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value


def json_differences(old: Path, new: Path) -> list[str]:
    a, b = strip_timings(json.loads(old.read_text())), strip_timings(json.loads(new.read_text()))
    return [
        f"{key}: {a.get(key)!r} != {b.get(key)!r}"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def csv_differences(old: Path, new: Path) -> list[str]:
    with old.open() as f:
        a = list(csv.DictReader(f))
    with new.open() as f:
        b = list(csv.DictReader(f))
    if len(a) != len(b):
        return [f"{len(a)} rows != {len(b)} rows"]
    out = []
    for i, (row_a, row_b) in enumerate(zip(a, b, strict=True)):
        for key in sorted((set(row_a) | set(row_b)) - TIMINGS):
            if row_a.get(key) != row_b.get(key):
                out.append(f"row {i} {key}: {row_a.get(key)!r} != {row_b.get(key)!r}")
    return out


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape or a.layout != b.layout:
        return False
    if a.is_sparse:
        a, b = a.coalesce(), b.coalesce()
        return torch.equal(a.indices(), b.indices()) and torch.equal(a.values(), b.values())
    return torch.equal(a, b)


def network_differences(old: Path, new: Path) -> list[str]:
    a = torch.load(old, map_location="cpu", weights_only=True)
    b = torch.load(new, map_location="cpu", weights_only=True)
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor):
            equal = same_tensor(va, vb)
        else:
            equal = strip_timings(va) == strip_timings(vb)
        if not equal:
            out.append(f"{key} differs")
    return out


def compare(old_root: Path, new_root: Path) -> list[str]:
    """Every difference between the two folders, one line each."""
    old, new = files_of(old_root), files_of(new_root)
    problems = [f"{name}: only in {old_root}" for name in sorted(set(old) - set(new))]
    problems += [f"{name}: only in {new_root}" for name in sorted(set(new) - set(old))]
    check = {"result.json": json_differences, "results.csv": csv_differences, CURVES: curve_differences}
    for name in sorted(set(old) & set(new)):
        differences = check.get(Path(name).name, network_differences)(old[name], new[name])
        problems += [f"{name}: {d}" for d in differences]
    return problems


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python benchmarks/compare_results.py OLD_DIR NEW_DIR")
    old_root, new_root = Path(sys.argv[1]), Path(sys.argv[2])
    for root in (old_root, new_root):
        if not root.is_dir():
            sys.exit(f"error: {root} is not a folder")
    problems = compare(old_root, new_root)
    if not list(old_root.rglob("result.json")):
        problems.append(f"{old_root} holds no result.json: nothing was compared")
    counts = {name: len(list(old_root.rglob(name))) for name in FILES}
    counts["curves"] = len({p.parent for p in old_root.rglob(EVENTS)})
    for line in problems:
        print(line)
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    if problems:
        print(f"DIFFERENT: {len(problems)} differences ({summary} in {old_root})")
        sys.exit(1)
    print(f"IDENTICAL: {summary}, all fields but {', '.join(sorted(TIMINGS))}")


if __name__ == "__main__":
    main()
