"""The scripts of examples/ run as a newcomer runs them (``python examples/<name>.py --quick`` from
the repository root, no PYTHONPATH) and reach their verdicts; their printed numbers are checked
against the run folders and against independent computations."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def run_example(name: str, *args: str) -> str:
    """The script's standard output; it must exit with status 0."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, f"examples/{name}", "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def verdict(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("verdict: ")]
    return line


def test_planted_recovery_recovers_on_new_inputs(tmp_path):
    output = run_example("planted_recovery.py", "--out", str(tmp_path))
    assert verdict(output).startswith("verdict: good: the planted network is recovered")
    psnr = float(re.search(r"PSNR on 1000 new inputs: ([\d.]+) dB", output).group(1))
    assert psnr > 100  # the quick problem (n=1000, d=20, m=5, s=5, seed 0) is recovered exactly
    result = json.loads(next(tmp_path.rglob("result.json")).read_text())
    assert f"training PSNR {result['metric']:.2f} dB" in output
    assert result["nnz"] <= 5


def test_own_arrays_prints_the_sweeps_table_and_the_baselines(tmp_path):
    output = run_example("own_arrays.py", "--out", str(tmp_path))
    assert verdict(output).startswith("verdict: good: ")
    results = {
        (r["m"], r["s"]): r["metric"]
        for r in map(json.loads, map(Path.read_text, tmp_path.rglob("result.json")))
    }
    assert set(results) == {(5, 10), (5, 40)}
    assert f"       5{results[5, 10]:>10.3f}{results[5, 40]:>10.3f}" in output
    # The baseline of predicting the training labels' mean, computed here from the file written.
    with np.load(tmp_path / "example_regression.npz") as held:
        y = held["y"]
    held_out = np.zeros(len(y), bool)
    held_out[np.random.default_rng(0).permutation(len(y))[: round(0.2 * len(y))]] = True
    mse = np.mean((y[held_out] - y[~held_out].mean()) ** 2)
    assert f"mean {20 * np.log10(np.abs(y).max()) - 10 * np.log10(mse):.3f}" in output
    assert min(results.values()) > 30  # far above that baseline (about 17 dB)


def test_aiht_in_your_trainer_explains_the_held_out_labels():
    output = run_example("aiht_in_your_trainer.py")
    assert verdict(output).startswith("verdict: good: ")
    r2 = float(re.search(r"R² on 250 held-out examples: ([\d.]+)", output).group(1))
    assert r2 > 0.99
    assert "nonzero weights 10 of s=10" in output


def test_how_many_examples_prints_its_table(tmp_path):
    output = run_example("how_many_examples.py", "--out", str(tmp_path))
    assert verdict(output) == "verdict: good: at n=1000, 1 of 1 points recovered (good: at least half)"
    row = re.search(r"^\s+1000\s+([\d.]+) \(1/1\)$", output, re.MULTILINE)
    assert row is not None and float(row.group(1)) > 100
