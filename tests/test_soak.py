"""A sweep with worker processes, killed with SIGKILL at random moments five times and resumed
each time, ends with the results of a clean run, and leaves no process behind."""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from lightning_app.report.events import results_from_events
from tests.result_helpers import csv_rows
from tests.robust_helpers import ROOT, fit_command, session_processes

GRID = ["--sweep.workers=2", "--sweep.method", "aiht", "imp", "--sweep.mlist", "2", "3"]
GRID += ["--sweep.slist", "3", "5", "--sweep.seedlist", "0", "1"]  # 16 points
TIMING = {"wall_s", "fit_s"}


def rows(root: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in csv_rows(root / "results.csv")]


def tables(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.load(p) for p in sorted((root / "tables").rglob("*.npy"))}


def wait_gone(session: int, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_processes(session)


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two workers need two CPU cores")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_sweep_killed_five_times_ends_as_a_clean_run(tmp_path):
    clean, soaked = tmp_path / "clean", tmp_path / "soaked"
    subprocess.run(fit_command(clean, *GRID), cwd=ROOT, check=True, capture_output=True)
    rng = random.Random(15)
    kills = 0
    for attempt in range(5):
        finished = len(list(soaked.rglob("result.json")))
        sweep = subprocess.Popen(
            fit_command(soaked, *GRID), cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL
        )
        try:
            if attempt == 0:  # a moment during start-up: imports, parsing, workers starting
                time.sleep(rng.uniform(1, 6))
            else:  # a moment while points run
                while len(list(soaked.rglob("result.json"))) == finished and sweep.poll() is None:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0, 1.5))
            if sweep.poll() is None:
                sweep.send_signal(signal.SIGKILL)
                kills += 1
            sweep.wait()
            assert wait_gone(sweep.pid) == [], f"processes left after kill {attempt + 1}"
        finally:
            for pid in session_processes(sweep.pid):
                subprocess.run(["kill", "-9", str(pid)], check=False)
    assert kills >= 3
    subprocess.run(fit_command(soaked, *GRID), cwd=ROOT, check=True, capture_output=True)
    assert len(rows(clean)) == 16 and rows(soaked) == rows(clean)
    clean_tables, soaked_tables = tables(clean), tables(soaked)
    assert clean_tables.keys() == soaked_tables.keys() and len(clean_tables) == 2
    for name, values in clean_tables.items():
        assert np.array_equal(soaked_tables[name], values, equal_nan=True), name
    from_events = {(r["method"], r["m"], r["s"], r["seed"]): r["metric"] for r in results_from_events(soaked)}
    assert from_events == {
        (r["method"], int(r["m"]), int(r["s"]), int(r["seed"])): float(r["metric"]) for r in rows(clean)
    }
