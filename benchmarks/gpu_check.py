"""The checks a machine with a CUDA GPU runs, within a time budget, ending with one table
(check, pass/FAIL/n/a, figure). ``benchmarks/gpu_check.sh`` installs what is missing and runs it.

1. one Figure 1 point (AIHT, m=100, s=100, seed 0) on CUDA and on the CPU: equal to 1e-4 dB;
2. the same point with CuPy's draws (``--sweep.draws cupy``) on CUDA;
3. the same point with compact storage on CUDA: equal to the dense CUDA run to 1e-6 dB;
4. two points on one GPU through Ray (each task pinned to the GPU): equal to the same two points
   run in-process on the GPU to 1e-6 dB;
5. a sweep over two GPUs (``--trainer.devices 0,1``), where the machine has two;
6. the CUDA memory benchmark (``memory_scaling.py --device cuda``, m = 1e3 and 1e5);
7. the ``gpu`` tests (``pytest -m gpu``): every one must pass, none skipped.

Without a CUDA GPU it stops at once with a line that says so and exit status 2; any failed
check gives exit status 1. Logs go to ``$GPU_CHECK_LOGS`` (default: a temporary folder).

    python benchmarks/gpu_check.py            # GPU_CHECK_SECONDS=470 by default
"""

import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = float(os.environ.get("GPU_CHECK_SECONDS", "470"))
START = time.monotonic()
LOGS = Path(os.environ.get("GPU_CHECK_LOGS") or tempfile.mkdtemp(prefix="gpu_check_"))
GPU = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"]
FIGURE1 = ["--config", "configs/figure1.yaml", "--sweep.method", "aiht", "--sweep.num_layers", "1"]
FIGURE1 += ["--sweep.mlist", "100", "--sweep.slist", "100", "--sweep.seedlist", "0"]
QUICK = ["--config", "configs/quickstart.yaml", "--data.nmeasurements", "5000", "--sweep.mlist", "5"]
QUICK += ["--sweep.slist", "10", "50", "--sweep.seedlist", "0"]


def remaining() -> float:
    return BUDGET_S - (time.monotonic() - START)


def run(name: str, command: list[str], timeout: float) -> tuple[int, str]:
    """Runs ``command`` in the repository (rc 124 when stopped by the time limit); its output goes
    to LOGS/<name>.log and is returned."""
    limit = min(timeout, remaining() - 5)
    if limit < 10:
        return 124, "not started: the check's time budget is spent"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}", "PYTHONUNBUFFERED": "1"}
    env["RAY_memory_monitor_refresh_ms"] = "0"  # Ray's monitor may kill workers on a busy machine
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit, check=False
        )
        rc, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = 124, f"{exc.stdout or ''}{exc.stderr or ''}\nstopped after {limit:.0f} s"
    (LOGS / f"{name}.log").write_text(output if isinstance(output, str) else str(output))
    return rc, output


def fit(name: str, *flags: str, timeout: float = 120) -> list[dict]:
    """A sweep through ``cli.py fit`` in its own folder: its results (empty if it failed)."""
    root = LOGS / name
    command = [sys.executable, "cli.py", "fit", *flags, f"--trainer.default_root_dir={root}"]
    rc, output = run(name, [*command, "--trainer.enable_progress_bar=false"], timeout)
    if rc != 0:
        print(f"{name}: exit {rc}; last lines:\n{output[-1500:]}", flush=True)
        return []
    return [json.loads(path.read_text()) for path in sorted(root.rglob("result.json"))]


def metrics(results: list[dict]) -> dict[tuple, float]:
    return {(r["m"], r["s"], r["seed"]): float(r["metric"]) for r in results if r["status"] == "done"}


def close(a: dict, b: dict, tolerance: float, count: int) -> tuple[bool, float]:
    """Whether two runs' metrics agree point by point (``count`` points each), and the largest gap."""
    if len(a) != count or set(a) != set(b):
        return False, math.inf
    gap = max(abs(a[key] - b[key]) for key in a)
    return gap <= tolerance, gap


def figure1_cuda_and_cpu(state: dict) -> tuple[bool, str]:
    cuda = metrics(fit("figure1_cuda", *FIGURE1, *GPU))
    cpu = metrics(fit("figure1_cpu", *FIGURE1, "--trainer.accelerator", "cpu"))
    state["dense_cuda"] = cuda
    ok, gap = close(cuda, cpu, 1e-4, 1)
    shown = ", ".join(
        f"{k} {v:.6f} dB" for k, values in (("cuda", cuda), ("cpu", cpu)) for v in values.values()
    )
    return ok, f"{shown or 'no result'}; |Δ| {gap:.1e} dB (paper's code, CPU: 29.8728 dB)"


def figure1_cupy_draws(state: dict) -> tuple[bool, str]:
    results = fit("figure1_cupy", *FIGURE1, *GPU, "--sweep.draws", "cupy")
    ok = len(results) == 1 and results[0]["status"] == "done" and math.isfinite(results[0]["metric"])
    ok = ok and results[0]["identity"]["sweep"].get("draws") == "cupy"
    return ok, f"{results[0]['metric']:.4f} dB with CuPy's gates" if results else "no result"


def compact_on_cuda(state: dict) -> tuple[bool, str]:
    compact = metrics(fit("figure1_compact_cuda", *FIGURE1, *GPU, "--model.net.storage", "compact"))
    ok, gap = close(compact, state.get("dense_cuda", {}), 1e-6, 1)
    shown = ", ".join(f"{v:.6f} dB" for v in compact.values()) or "no result"
    return ok, f"compact {shown}; |Δ| to dense {gap:.1e} dB"


def ray_one_gpu(state: dict) -> tuple[bool, str]:
    ray = fit("ray_one_gpu", *QUICK, "--sweep.launcher", "ray", "--sweep.ray_address", "local",
              "--sweep.ray_batch", "1", "--trainer.accelerator", "gpu", timeout=180)  # fmt: skip
    local = metrics(fit("quick_cuda", *QUICK, *GPU))
    state["quick_cuda"] = local
    ok, gap = close(metrics(ray), local, 1e-6, 2)
    return ok, f"{len(metrics(ray))} of 2 points done through Ray; |Δ| to in-process {gap:.1e} dB"


def two_gpus(state: dict) -> tuple[bool | None, str]:
    count = torch.cuda.device_count()
    if count < 2:
        return None, f"{count} GPU here: needs two"
    both = metrics(fit("two_gpus", *QUICK, "--trainer.accelerator", "gpu", "--trainer.devices", "0,1"))
    ok, gap = close(both, state.get("quick_cuda", {}), 1e-6, 2)
    return ok, f"{len(both)} of 2 points on GPUs 0 and 1; |Δ| to one GPU {gap:.1e} dB"


def memory_benchmark(state: dict) -> tuple[bool, str]:
    out = LOGS / "memory"
    command = [sys.executable, "benchmarks/memory_scaling.py", "--device", "cuda", "--m", "1000", "100000"]
    rc, _ = run("memory", [*command, "--methods", "compact", "dense", "--out", str(out)], 150)
    rows = (
        list(csv.DictReader(open(out / "memory_scaling.csv")))
        if (out / "memory_scaling.csv").exists()
        else []
    )
    done = [r for r in rows if r["status"] == "done"]
    shown = "; ".join(f"{r['method']} m={r['m']}: {r['train_cuda_peak_mb']} MB" for r in done)
    return rc == 0 and len(done) == 4, f"CUDA peak {shown or 'none'}"


def gpu_tests(state: dict) -> tuple[bool, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests", "-p", "no:cacheprovider"]
    rc, output = run("pytest_gpu", command, 260)
    counts = dict((word, int(n)) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", output))
    if rc != 0:
        print(f"pytest -m gpu: exit {rc}; last lines:\n{output[-3000:]}", flush=True)
    summary = ", ".join(f"{n} {word}" for word, n in counts.items()) or f"exit {rc}"
    return rc == 0 and counts.get("passed", 0) > 0 and not counts.get("skipped"), summary


CHECKS = [
    ("Figure 1 point, CUDA = CPU", figure1_cuda_and_cpu),
    ("same point, CuPy draws", figure1_cupy_draws),
    ("compact storage on CUDA = dense", compact_on_cuda),
    ("two points on one GPU through Ray", ray_one_gpu),
    ("sweep over two GPUs", two_gpus),
    ("CUDA memory benchmark", memory_benchmark),
    ("pytest -m gpu", gpu_tests),
]


def main() -> int:
    if not torch.cuda.is_available():
        print(
            "FAIL: no CUDA GPU here (torch.cuda.is_available() is False): the GPU checks need one", flush=True
        )
        return 2
    gpus = f"{torch.cuda.get_device_name(0)} × {torch.cuda.device_count()}"
    print(f"{gpus}, torch {torch.__version__}, CUDA {torch.version.cuda}; logs in {LOGS}", flush=True)
    state: dict = {}
    rows = []
    for name, check in CHECKS:
        began = time.monotonic()
        try:
            ok, figure = check(state)
        except Exception as exc:  # noqa: BLE001 - any error fails its check, the others still run
            ok, figure = False, f"{type(exc).__name__}: {exc}"
        result = "n/a" if ok is None else ("pass" if ok else "FAIL")
        rows.append((name, result, f"{figure} ({time.monotonic() - began:.0f} s)"))
        print(f"{name}: {rows[-1][1]}, {rows[-1][2]}", flush=True)
    width = max(len(name) for name, _, _ in rows)
    print(f"\n| {'check'.ljust(width)} | result | figure |\n|{'-' * (width + 2)}|--------|--------|")
    for name, result, figure in rows:
        print(f"| {name.ljust(width)} | {result.ljust(6)} | {figure} |")
    failed = [name for name, result, _ in rows if result == "FAIL"]
    print(f"\n{len(failed)} check(s) failed" + (f": {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
