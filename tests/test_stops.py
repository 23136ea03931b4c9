"""Stops (issue 25): Ctrl-C and SIGTERM end a sweep within seconds in one line with their own exit
status; a full disk is named with its path and phase and the next run resumes; temporaries and
scratch folders of killed processes are removed; reruns do not pile up figure events."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_app.files.safe_write import host_tag
from tests.helpers import run_fit
from tests.robust_helpers import ROOT, fit_command, session_processes

GRID = ["--sweep.method", "aiht", "--sweep.mlist", "2", "3", "--sweep.slist", "3", "5"]  # 4 points


def leftovers(root: Path) -> list[Path]:
    """Temporaries, claims and takeover locks under ``root``."""
    return sorted(
        p for p in root.rglob("*") if p.name.endswith((".tmp", ".takeover")) or p.name == "claim.json"
    )


def wait_gone(session: int, seconds: float = 10) -> list[int]:
    """The session's processes still alive after up to ``seconds`` (multiprocessing's resource
    tracker ends a moment after the sweep)."""
    deadline = time.monotonic() + seconds
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_processes(session)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("signum, status, workers", [(signal.SIGINT, 130, 1), (signal.SIGTERM, 143, 2)])
def test_an_interrupted_sweep_ends_within_seconds_in_one_line(tmp_path, signum, status, workers):
    root = tmp_path / "run"
    command = fit_command(root, *GRID, f"--sweep.workers={workers}", "--trainer.max_epochs=10")
    sweep = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        while not list(root.rglob("result.json")) and sweep.poll() is None:
            time.sleep(0.05)
        sent = time.monotonic()
        sweep.send_signal(signum)
        err = sweep.communicate(timeout=60)[1]
        stopped_s = time.monotonic() - sent
        left = wait_gone(sweep.pid)
    finally:
        for pid in session_processes(sweep.pid):
            os.kill(pid, signal.SIGKILL)
    assert sweep.returncode == status and stopped_s < 15 and left == []
    kept = len(list(root.rglob("result.json")))
    name = signal.Signals(signum).name
    assert err.strip().splitlines()[-1] == (
        f"interrupted by {name} during the points: {kept} of 4 points have their result kept under {root}; "
        f"resume with: python cli.py fit {' '.join(command[3:])}"
    )
    assert "Traceback" not in err and leftovers(root) == []


def test_an_interrupt_while_starting_says_nothing_ran(tmp_path):
    sweep = subprocess.Popen(fit_command(tmp_path / "run"), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # loading the libraries
    sweep.send_signal(signal.SIGINT)
    err = sweep.communicate(timeout=60)[1]
    assert sweep.returncode == 130
    assert err.strip().splitlines()[-1].startswith("interrupted by SIGINT while starting: ")
    assert "Traceback" not in err


DISK_FULL = """
mount="$1"
mount -t tmpfs -o size=2m tmpfs "$mount" || exit 99
head -c $(( 2048 * 1024 - $2 * 1024 )) /dev/zero > "$mount/filler"
shift 2
"$@" 2> "$OUT/first.err"; echo $? > "$OUT/first.rc"
find "$mount" -name "*.tmp" > "$OUT/first.tmp"
rm "$mount/filler"
"$@" 2> "$OUT/second.err"; echo $? > "$OUT/second.rc"
cp -r "$mount/run" "$OUT/run"
"""


def mount_allowed() -> str | None:
    """Why a tmpfs cannot be mounted here, or None if it can."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", "tmpfs", "/mnt"], capture_output=True)
    return (
        None if probe.returncode == 0 else f"mounting a tmpfs is not allowed: {probe.stderr.decode().strip()}"
    )


@pytest.mark.parametrize(
    "free_kb, points, phase",
    [
        (12, ["2"], "during the point mlp_planted/aiht/hidden1/m2_s3_seed0"),
        (100, ["2", "3"], "during the final outputs"),
    ],
)
def test_a_full_disk_is_named_with_its_path_and_phase_and_the_next_run_resumes(
    tmp_path, free_kb, points, phase
):
    reason = mount_allowed()
    if reason is not None:
        pytest.skip(reason)
    mount = tmp_path / "mnt"
    mount.mkdir()
    command = fit_command(mount / "run", "--sweep.method=aiht", "--sweep.mlist", *points, "--sweep.slist=3")
    script = ["unshare", "-m", "sh", "-c", DISK_FULL, "sh", str(mount), str(free_kb), *command]
    subprocess.run(script, cwd=ROOT, check=True, env={**os.environ, "OUT": str(tmp_path)}, timeout=300)
    first = (tmp_path / "first.err").read_text().strip().splitlines()[-1]
    assert (tmp_path / "first.rc").read_text().strip() == "1"
    assert first.startswith(f"error: no space left on the device at {mount}/run") or first.startswith(
        f"error: no space left on the device writing under {mount}/run"
    )
    assert f" {phase}. Finished points are kept" in first and first.endswith(
        "run the same command again to resume"
    )
    assert (tmp_path / "first.tmp").read_text() == ""  # no temporary left by the failed writes
    assert (tmp_path / "second.rc").read_text().strip() == "0"
    assert len(list((tmp_path / "run").rglob("result.json"))) == len(points)
    assert len(list((tmp_path / "run").rglob("*.npy"))) == 1


def test_temporaries_of_dead_processes_go_and_reruns_keep_one_figures_events_file(tmp_path):
    args = ["fit", *fit_command(tmp_path, "--sweep.method=aiht", "--sweep.mlist=2", "--sweep.slist=3")[3:]]
    run_fit(args)
    pid = dead_pid()
    planted = [
        tmp_path / f"figure_mlp_planted.png.{host_tag()}.{pid}.0123abcd.tmp",
        tmp_path / "mlp_planted" / f"results.csv.{pid}.tmp",  # as earlier versions named them
        tmp_path / f"results.csv.{host_tag()}.{os.getpid()}.0123abcd.tmp",  # a live process's: kept
        tmp_path / "tables" / f"x.npy.otherhost.{pid}.0123abcd.tmp",  # another host's: kept
    ]
    for path in planted:
        path.write_bytes(b"partial")
    run_fit(args)
    assert [p.exists() for p in planted] == [False, False, True, True]
    assert len(list((tmp_path / "figures").glob("events.out.tfevents.*"))) == 1


def test_a_point_run_again_keeps_only_its_new_events(tmp_path):
    """An overwritten point, or one rerun after an interrupted run (whose events are planted here),
    has the curves of its last run only, not those of every run appended."""
    args = ["fit", *fit_command(tmp_path, "--sweep.method=aiht", "--sweep.mlist=2", "--sweep.slist=3")[3:]]
    run_fit(args)
    (folder,) = {p.parent for p in tmp_path.rglob("result.json")}
    first = sorted(p.name for p in folder.glob("events.out.tfevents.*"))
    steps = [e.step for e in curve(folder, "train/nnz")]
    assert len(first) == 2 and steps == list(range(len(steps))) and len(steps) > 1
    shutil.copy(folder / first[0], folder / "events.out.tfevents.1.interrupted.0")
    run_fit([*args, "--sweep.overwrite=true"])
    again = sorted(p.name for p in folder.glob("events.out.tfevents.*"))
    assert len(again) == 2 and not set(again) & set(first)
    assert [e.step for e in curve(folder, "train/nnz")] == steps


def curve(folder: Path, tag: str) -> list:
    events = EventAccumulator(str(folder))
    events.Reload()
    return events.Scalars(tag)


def test_scratch_folders_of_dead_ray_workers_are_removed(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    from lightning_app.launch import ray_launcher
    from lightning_app.launch.ray_tasks import SCRATCH_PREFIX

    monkeypatch.setattr(ray_launcher.tempfile, "gettempdir", lambda: str(tmp_path))
    dead, alive = tmp_path / f"{SCRATCH_PREFIX}{dead_pid()}", tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}"
    for folder in (dead, alive):
        (folder / "m2_s3_seed0").mkdir(parents=True)
    ray_launcher.remove_scratch_folders(wait_s=0)
    assert (dead.exists(), alive.exists()) == (False, True)
