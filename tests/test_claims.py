"""Claims on grid points (lightning_app/store/claims.py): one claimant at a time, dead claims taken over
(process gone, heartbeat stale), and sweeps sharing one folder running every point once."""

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lightning_app.cli import SweepCLI
from lightning_app.store import claims
from lightning_app.store.claims import CLAIM_FILE, try_claim
from tests.claim_holders import claim_and_wait, race
from tests.helpers import run_fit
from tests.run_log import read_log, runs_per_point

ROOT = Path(__file__).resolve().parent.parent


def fake_claim(folder: Path, host: str, pid: int, age_s: float) -> Path:
    """A claim file as another sweep would have left it, its heartbeat ``age_s`` seconds old."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CLAIM_FILE
    path.write_text(json.dumps({"host": host, "pid": pid, "token": "other", "since": 0.0}))
    beat = time.time() - age_s
    os.utime(path, (beat, beat))
    return path


def test_one_claimant_at_a_time(tmp_path):
    first = try_claim(tmp_path / "p")
    assert first is not None
    assert try_claim(tmp_path / "p") is None
    first.beat()
    assert try_claim(tmp_path / "p") is None
    first.release()
    assert not (tmp_path / "p" / CLAIM_FILE).exists()
    second = try_claim(tmp_path / "p")
    assert second is not None
    second.release()


def test_a_claim_left_by_a_killed_process_is_taken_over(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    holder = context.Process(target=claim_and_wait, args=(str(tmp_path / "p"), ready))
    holder.start()
    try:
        assert ready.get(timeout=120) is True
        assert try_claim(tmp_path / "p") is None  # its process is alive
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        owner = json.loads((tmp_path / "p" / CLAIM_FILE).read_text())
        assert owner["pid"] == holder.pid and owner["host"] == socket.gethostname()
        claim = try_claim(tmp_path / "p")
        assert claim is not None
        assert json.loads((tmp_path / "p" / CLAIM_FILE).read_text())["pid"] == os.getpid()
        claim.release()
    finally:
        if holder.is_alive():
            holder.kill()


def test_another_hosts_claim_counts_until_its_heartbeat_is_stale(tmp_path):
    fake_claim(tmp_path / "fresh", "another-host", 1, age_s=5)
    assert try_claim(tmp_path / "fresh", stale_after=60) is None
    fake_claim(tmp_path / "stale", "another-host", 1, age_s=61)
    claim = try_claim(tmp_path / "stale", stale_after=60)
    assert claim is not None
    claim.release()


def test_of_several_processes_taking_over_one_dead_claim_one_wins(tmp_path):
    fake_claim(tmp_path / "p", "another-host", 1, age_s=3600)
    context = multiprocessing.get_context("spawn")
    start, wins = context.Event(), context.Queue()
    racers = [context.Process(target=race, args=(str(tmp_path / "p"), start, wins)) for _ in range(6)]
    for racer in racers:
        racer.start()
    start.set()
    outcomes = [wins.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join()
    assert sorted(outcomes) == [False] * 5 + [True]


GRID = ["--sweep.mlist", "2", "5", "--sweep.slist", "3", "40", "--sweep.seedlist", "0", "1"]


def fit_args(root: Path, log: Path, *extra: str) -> list[str]:
    return [
        "fit",
        "--data",
        "tests.run_log.LoggedPlanted",
        f"--data.run_log={log}",
        "--data.nmeasurements=300",
        "--data.input_dim=8",
        "--trainer.max_epochs=3",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        *GRID,
        *extra,
    ]


def test_a_live_claim_is_waited_for_then_taken_over_when_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "POLL_S", 0.2)
    held = fake_claim(tmp_path / "run" / "mlp_planted/aiht/hidden1/m2_s3_seed0", "another-host", 1, 0)
    stale_at = held.stat().st_mtime + 4
    run_fit(fit_args(tmp_path / "run", tmp_path / "runs.log", "--sweep.claim_stale_s=4"))
    assert not held.exists()
    runs = runs_per_point(tmp_path / "runs.log")
    assert len(runs) == 8 and all(events == ["start", "end"] for events in runs.values())
    log = read_log(tmp_path / "runs.log")
    (start,) = [e for e in log if e["point"] == [2, 3, 0] and e["event"] == "start"]
    assert start["time"] >= stale_at  # run only once its claim went stale


def other_result(root: Path, log: Path) -> dict:
    """The point m=2, s=3, seed 0 as another sweep with the same settings records it (its
    identity that of this sweep's point), with a metric this sweep would not compute."""
    plan = SweepCLI(fit_args(root, log)[1:]).plan
    point = next(p for p in plan.points if (p.m, p.s, p.seed) == (2, 3, 0))
    return {**plan.base_result(point), "status": "done", "metric": 12.5}


def test_a_point_finished_by_another_sweep_while_claimed_is_kept(tmp_path, monkeypatch):
    """The claim's owner writes the point's result.json and releases the claim: the waiting sweep
    keeps that result and never runs the point."""
    monkeypatch.setattr(claims, "POLL_S", 0.2)
    folder = tmp_path / "run" / "mlp_planted/aiht/hidden1/m2_s3_seed0"
    expected = other_result(tmp_path / "run", tmp_path / "runs.log")
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import json, sys, time\n"
            "from pathlib import Path\n"
            "from lightning_app.store.claims import try_claim\n"
            "from lightning_app.store.results import write_result\n"
            "folder = Path(sys.argv[1]); claim = try_claim(folder); print('claimed', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "write_result(folder, json.loads(sys.argv[3])); claim.release()\n",
            str(folder),
            "8",
            json.dumps(expected),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "claimed"
        results = run_fit(fit_args(tmp_path / "run", tmp_path / "runs.log"))
    finally:
        other.communicate(timeout=60)  # the rest of its output, and its pipe closed
    by_point = {(r["m"], r["s"], r["seed"]): r for r in results}
    assert by_point[(2, 3, 0)] == expected
    assert table_of(tmp_path / "run")[0, 0, 0] == 12.5
    runs = runs_per_point(tmp_path / "runs.log")
    assert (2, 3, 0) not in runs
    assert len(runs) == 7 and all(events == ["start", "end"] for events in runs.values())


def table_of(root: Path) -> np.ndarray:
    (npy,) = (root / "tables").rglob("*.npy")
    return np.load(npy)


@pytest.mark.slow
def test_two_sweeps_on_one_folder_run_every_point_once(tmp_path):
    log = tmp_path / "runs.log"
    command = [sys.executable, "cli.py", *fit_args(tmp_path / "shared", log, "--data.nmeasurements=3000")]
    sweeps = [subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [sweep.communicate(timeout=600)[1] for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0], errors
    runs = runs_per_point(log)
    assert len(runs) == 8 and all(events == ["start", "end"] for events in runs.values()), runs
    assert {e["pid"] for e in read_log(log)} == {sweep.pid for sweep in sweeps}  # both took a share
    run_fit(fit_args(tmp_path / "alone", tmp_path / "alone.log", "--data.nmeasurements=3000"))
    shared, alone = table_of(tmp_path / "shared"), table_of(tmp_path / "alone")
    assert shared.shape == (2, 2, 2) and not np.isnan(shared).any()
    assert np.array_equal(shared, alone)


def test_a_killed_sweep_is_resumed_and_its_claim_taken_over(tmp_path):
    log = tmp_path / "runs.log"
    args = fit_args(tmp_path / "run", log, "--data.nmeasurements=3000")
    killed = subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            events = [e["event"] for e in read_log(log)] if log.exists() else []
            if events.count("end") >= 2 and events[-1] == "start":
                break
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    finally:
        killed.kill()
    cut_short = tuple(read_log(log)[-1]["point"])
    held = list((tmp_path / "run").rglob(CLAIM_FILE))
    assert len(held) == 1 and json.loads(held[0].read_text())["pid"] == killed.pid
    run_fit(args)
    runs = runs_per_point(log)
    assert len(runs) == 8 and not list((tmp_path / "run").rglob(CLAIM_FILE))
    for point, events in runs.items():
        assert events.count("end") == 1 and events[-1] == "end", (point, events)  # none ran again once done
    if runs[cut_short] != ["start", "end"]:  # unless it ended between the last look and the kill
        assert runs[cut_short] == ["start", "start", "end"]
