"""Wall time of a grid through Ray (a local Ray, ``--sweep.launcher ray``) against local worker
processes (``--sweep.workers N``), whole ``cli.py fit`` processes in fresh folders, and the
per-point overhead of each: slot-seconds per point not spent in the points' own runs,
(wall × slots − Σ point wall_s) / points, where a point's ``wall_s`` is its job's own time.

Goal on a 2-core CPU (Figure 1's quick grid, configs/quickstart.yaml): Ray within 1.3× of
``--sweep.workers 2``.

    python benchmarks/ray_overhead.py                       # quickstart, 2 slots, 1 repeat
    python benchmarks/ray_overhead.py --repeats 3 -- --sweep.seedlist 0 1 2

It runs itself in a private network namespace with only the loopback interface (``unshare -n``,
as root), so that Ray stays on 127.0.0.1.
"""

import argparse
import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSIDE = "SPARSE_MLP_PRIVATE_NETWORK"


def in_private_network() -> None:
    """Runs this script again inside ``unshare -n`` unless it already is there."""
    if os.environ.get(INSIDE) == "1":
        if [name for _, name in socket.if_nameindex()] != ["lo"]:
            sys.exit("the private network namespace has more than the loopback interface")
        return
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, *sys.argv]
    try:
        done = subprocess.run(command, env={**os.environ, INSIDE: "1"})
    except FileNotFoundError:
        sys.exit("needs unshare (util-linux) to keep Ray on the loopback interface")
    sys.exit(done.returncode)


def run(label: str, args: list[str], folder: Path) -> tuple[float, list[float]]:
    """The whole process's wall time, and each point's own wall_s from results.csv."""
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "cli.py", "fit", *args, f"--trainer.default_root_dir={folder}"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{label} failed:\n{done.stderr[-4000:]}")
    rows = list(csv.DictReader((folder / "results.csv").open()))
    if any(r["status"] != "done" for r in rows):
        sys.exit(f"{label}: not every point is done, see {folder}/results.csv")
    return wall, [float(r["wall_s"]) for r in rows]


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--slots", type=int, default=2, help="Local workers, and Ray's CPUs in use.")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="More cli.py fit flags (after --).")
    options = parser.parse_args()
    in_private_network()
    common = [
        "--config",
        options.config,
        "--trainer.enable_progress_bar=false",
        "--sweep.overwrite=true",
        *options.extra,
    ]
    launchers = {
        f"local --sweep.workers {options.slots}": [f"--sweep.workers={options.slots}"],
        "ray (local Ray)": ["--sweep.launcher=ray", "--sweep.ray_address=local"],
    }
    cores = os.cpu_count()
    print(f"{options.config}, {options.slots} slots, {cores} cores, load {os.getloadavg()[0]:.1f}")
    if cores != options.slots:
        print(f"note: a local Ray uses all {cores} cores, the local launcher {options.slots} workers")
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(options.repeats):
            for label, args in launchers.items():
                wall, points = run(label, [*common, *args], Path(scratch) / "run")
                overhead = (wall * options.slots - sum(points)) / len(points)
                best[label] = min(best.get(label, wall), wall)
                print(
                    f"[{repeat + 1}] {label}: {wall:.1f} s for {len(points)} points "
                    f"(points' own time {sum(points):.1f} s; overhead {overhead:.2f} slot-s per point)"
                )
    local, ray = best.values()
    print(f"ray / local (best of {options.repeats}): {ray / local:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
