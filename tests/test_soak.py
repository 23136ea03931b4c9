"""A sweep with worker processes, stopped ten times at random moments — SIGKILL and SIGINT, during
start-up, while points run and while the final outputs are written — and resumed each time, ends
with the results of a clean run, and leaves no process, temporary file or claim behind."""

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
POINTS = 16


def rows(root: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in csv_rows(root / "results.csv")]


def tables(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.load(p) for p in sorted((root / "tables").rglob("*.npy"))}


def wait_gone(session: int, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_processes(session)


def results(root: Path) -> int:
    return len(list(root.rglob("result.json")))


def outputs_since(root: Path, start: float) -> bool:
    """Whether the sweep began writing its final outputs (a table) after ``start``."""
    return (
        any(p.stat().st_mtime > start for p in (root / "tables").rglob("*.npy"))
        if (root / "tables").is_dir()
        else False
    )


def wait_for_moment(sweep: subprocess.Popen, root: Path, attempt: int, rng: random.Random) -> str:
    """Waits for a random moment of the named kind; returns the kind."""
    if attempt == 0:  # start-up: imports, parsing, workers starting
        time.sleep(rng.uniform(1, 6))
        return "start-up"
    finished, start = results(root), time.time()
    if finished < POINTS:  # while points run
        while results(root) == finished and sweep.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.5))
        return "points"
    while not outputs_since(root, start) and sweep.poll() is None:  # while the outputs are written
        time.sleep(0.02)
    time.sleep(rng.uniform(0, 0.4))
    return "outputs"


def leftovers(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.name.endswith((".tmp", ".takeover")) or p.name == "claim.json"
    )


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="two workers need two CPU cores")
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_sweep_stopped_ten_times_ends_as_a_clean_run(tmp_path):
    clean, soaked = tmp_path / "clean", tmp_path / "soaked"
    subprocess.run(fit_command(clean, *GRID), cwd=ROOT, check=True, capture_output=True)
    rng = random.Random(25)
    stops: dict[tuple[str, str], int] = {}
    for attempt in range(10):
        signum = signal.SIGKILL if attempt % 2 == 0 else signal.SIGINT
        sweep = subprocess.Popen(
            fit_command(soaked, *GRID), cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True
        )
        try:
            moment = wait_for_moment(sweep, soaked, attempt, rng)
            if sweep.poll() is None:
                sweep.send_signal(signum)
                stops[moment, signum.name] = stops.get((moment, signum.name), 0) + 1
            err = sweep.communicate(timeout=60)[1]
            assert wait_gone(sweep.pid) == [], f"processes left after stop {attempt + 1}"
        finally:
            for pid in session_processes(sweep.pid):
                subprocess.run(["kill", "-9", str(pid)], check=False)
        if signum == signal.SIGINT and sweep.returncode != 0:
            assert sweep.returncode == 130, err
            assert err.strip().splitlines()[-1].startswith("interrupted by SIGINT "), err
    assert sum(stops.values()) >= 7 and {m for m, _ in stops} == {"start-up", "points", "outputs"}, stops
    subprocess.run(fit_command(soaked, *GRID), cwd=ROOT, check=True, capture_output=True)
    assert len(rows(clean)) == POINTS and rows(soaked) == rows(clean)
    clean_tables, soaked_tables = tables(clean), tables(soaked)
    assert clean_tables.keys() == soaked_tables.keys() and len(clean_tables) == 2
    for name, values in clean_tables.items():
        assert np.array_equal(soaked_tables[name], values, equal_nan=True), name
    from_events = {(r["method"], r["m"], r["s"], r["seed"]): r["metric"] for r in results_from_events(soaked)}
    assert from_events == {
        (r["method"], int(r["m"]), int(r["s"]), int(r["seed"])): float(r["metric"]) for r in rows(clean)
    }
    assert leftovers(soaked) == []
    assert len(list((soaked / "figures").glob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in soaked.rglob("*.ckpt") if "-v" in p.name) == []
