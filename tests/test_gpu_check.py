"""benchmarks/gpu_check.sh on a machine without a CUDA GPU: it fails loudly (a FAIL line, exit
status 2) before installing or running anything, rather than skipping its checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_check.py"])
def test_without_a_gpu_the_check_fails_loudly(script):
    command = (
        ["bash", f"benchmarks/{script}"]
        if script.endswith(".sh")
        else [sys.executable, f"benchmarks/{script}"]
    )
    env = {**os.environ, "PY": sys.executable}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "FAIL: no CUDA GPU here (torch.cuda.is_available() is False)" in done.stdout
    assert "=== checks" not in done.stdout and "pip" not in done.stdout + done.stderr
