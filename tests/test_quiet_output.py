"""Piped, a sweep is quiet: no progress bars, one line per finished point (status, metric, time,
points left) and the summary at the end."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_piped_output_is_one_line_per_point_and_the_summary(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "cli.py"),
        "fit",
        "--data=datamodules.planted.PlantedMLPDataModule",
        "--data.nmeasurements=200",
        "--data.input_dim=6",
        "--trainer.max_epochs=3",
        f"--trainer.default_root_dir={tmp_path}",
        "--sweep.mlist",
        "2",
        "3",
        "--sweep.slist",
        "3",
        "6",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    points = [line for line in lines if line.startswith("mlp_planted/aiht/hidden1/")]
    assert [line.split(":")[0].rsplit("/", 1)[1] for line in points] == [
        "m2_s3_seed0",
        "m2_s6_seed0",
        "m3_s3_seed0",
        "m3_s6_seed0",
    ]
    assert [line.split(", ")[-1] for line in points] == ["3 left)", "2 left)", "1 left)", "0 left)"]
    assert all(": done psnr=" in line for line in points)
    assert "Epoch" not in done.stdout and "\r" not in done.stdout
    assert len(lines) == len(points) + 3  # the outputs written, the counts, where the summary is
    assert lines[-2] == "sweep: 4 points: 4 done, 0 diverged, 0 skipped, 0 failed"
