"""``fit ... --sweep.dry_run true`` on a half-finished folder: the right counts of finished,
claimed and left points per panel, the time left from the finished points' wall times, and
nothing run or written."""

import json
import os
import socket
import time

from lightning_app.cli import main
from tests.result_helpers import point, point_folder

BASE = [
    "fit",
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=200",
    "--data.input_dim=6",
    "--trainer.max_epochs=15",
    "--sweep.method",
    "aiht",
    "imp",
    "--sweep.mlist",
    "2",
    "3",
    "--sweep.slist",
    "10",
    "20",
]


def finished(root, m: int, s: int, wall_s: float) -> None:
    result = point("aiht", m=m, s=s, metric=12.5, wall_s=wall_s)
    folder = point_folder(root, result)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(result))


def claimed(root, m: int, s: int) -> None:
    """A claim of a live sweep: this test's parent process, on this host, beating now."""
    folder = point_folder(root, point("aiht", m=m, s=s))
    folder.mkdir(parents=True)
    fields = {"host": socket.gethostname(), "pid": os.getppid(), "token": "t", "since": time.time()}
    (folder / "claim.json").write_text(json.dumps(fields))


def snapshot(root) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")}


def test_dry_run_counts_a_half_finished_folder_and_writes_nothing(tmp_path, capsys):
    finished(tmp_path, 2, 10, wall_s=30.0)
    finished(tmp_path, 2, 20, wall_s=50.0)
    claimed(tmp_path, 3, 10)
    failed = point("aiht", m=3, s=20, metric=None, status="failed", wall_s=9.0)
    point_folder(tmp_path, failed).mkdir(parents=True)
    (point_folder(tmp_path, failed) / "result.json").write_text(json.dumps(failed))  # runs again
    before = snapshot(tmp_path)
    main([*BASE, f"--trainer.default_root_dir={tmp_path}", "--sweep.dry_run=true"])
    out = capsys.readouterr().out.splitlines()
    assert snapshot(tmp_path) == before
    aiht = out.index("panel aiht/hidden1: m [2, 3] x s [10, 20] x seed [0] = 4 points")
    assert out[aiht + 1] == "  2 finished, 1 claimed by another sweep, 1 left (1 run)"
    assert out[aiht + 2].startswith("  time left: about 40 s (1 runs x 40.0 s, the mean of its 2 finished")
    imp = out.index("panel imp/hidden1: m [2, 3] x s [10, 20] x seed [0] = 4 points")
    assert out[imp + 1] == "  0 finished, 0 claimed by another sweep, 4 left (4 runs)"
    assert out[imp + 2].startswith("  time left: unknown, no finished run in this panel")
    assert "--sweep.mlist 2 --sweep.slist 10 --sweep.seedlist 0 --sweep.method imp" in out[imp + 2]
    assert out[-1] == (
        "total: 8 points: 2 finished, 1 claimed, 5 left; time left: unknown for the panels without "
        "a finished run"
    )


def test_dry_run_with_overwrite_counts_finished_points_as_left(tmp_path, capsys):
    finished(tmp_path, 2, 10, wall_s=30.0)
    main([*BASE, f"--trainer.default_root_dir={tmp_path}", "--sweep.dry_run=true", "--sweep.overwrite=true"])
    out = capsys.readouterr().out
    assert "  0 finished, 0 claimed by another sweep, 4 left (4 runs)" in out
    assert not (tmp_path / "config.yaml").exists()


def test_calibration_times_one_run_outside_the_folder(tmp_path, capsys):
    root = tmp_path / "run"
    args = [*BASE[:5], "--sweep.method=aiht", "--sweep.mlist", "2", "--sweep.slist", "10", "20"]
    main([*args, f"--trainer.default_root_dir={root}", "--sweep.dry_run=true", "--sweep.calibrate=true"])
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "  0 finished, 0 claimed by another sweep, 2 left (2 runs)"
    timed = float(out[3].split(" runs x ")[1].split(" s,")[0])
    assert out[3].startswith("  time left: at least") and ", its run m=2, s=10 timed now" in out[3]
    assert 0 < timed < 600 and out[-1].startswith(
        "total: 2 points: 0 finished, 0 claimed, 2 left; time left: at least"
    )
    assert not root.exists()
