"""Peak memory and time of one planted AIHT point as the width m grows: compact, dense and IMP.

Each (m, method) point runs in a fresh subprocess, in two measured steps:

1. the data step: the planted task's draws for its network and its inputs (its
   ``choice(P, c, replace=False)`` permutes all P = d·m positions: 8·P bytes for a moment);
2. training: the point's fit (AIHT for 15 full-batch epochs with the recovery metrics, or IMP's
   rounds down to s), on the data already drawn.

The process's peak resident memory (``VmHWM``) is read after the data step, then reset (Linux's
``/proc/self/clear_refs``), so training's peak is measured on its own; on CUDA also
``torch.cuda.max_memory_allocated`` of training. Writes ``memory_scaling.csv`` and a log-log
plot of peak memory against m, ``memory_scaling.png``, under ``--out``.

    .venv/bin/python benchmarks/memory_scaling.py --m 1000 10000            # a quick look
    .venv/bin/python benchmarks/memory_scaling.py                            # the full table
    .venv/bin/python benchmarks/memory_scaling.py --m 10000000 --methods compact
    .venv/bin/python benchmarks/memory_scaling.py --replot a.csv b.csv      # one plot of several runs
"""

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIELDS = [
    "m",
    "method",
    "status",
    "data_s",
    "data_peak_mb",
    "fit_s",
    "train_peak_mb",
    "train_cuda_peak_mb",
    "whole_peak_mb",
    "total_s",
    "metric",
    "rel_weight_error",
    "nnz",
    "error",
]


def peak_mb() -> float:
    """The process's peak resident memory since start or the last reset, in MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def reset_peak() -> None:
    """Starts a new peak: the kernel's high-water mark becomes the current resident size."""
    Path("/proc/self/clear_refs").write_text("5")


def point_model(args: argparse.Namespace, m: int, method: str) -> tuple:
    """The point's model, its callbacks (the algorithm's, then the recovery metrics for AIHT) and
    its trainer settings."""
    from callbacks.aiht import AIHT
    from callbacks.imp import IMP
    from callbacks.recovery import PlantedRecovery
    from modules.gated_mlp import GatedMLP
    from modules.relu_mlp import ReluMLP
    from modules.sparse_mlp import SparseMLP

    if method == "imp":
        model = SparseMLP(ReluMLP(width=m, input_dim=args.d, seed=args.seed))
        return model, [IMP(targets=[args.s])], dict(precision="32-true", limit_val_batches=0)
    model = SparseMLP(GatedMLP(width=m, input_dim=args.d, seed=args.seed, storage=method))
    callbacks = [AIHT(sparsity=args.s), PlantedRecovery()]
    return model, callbacks, dict(precision="64-true", num_sanity_val_steps=0)


def run_point(args: argparse.Namespace, m: int, method: str) -> dict:
    """One point in this process: the data step, then training; the measurements."""
    import torch
    from pytorch_lightning import Trainer

    from datamodules.planted import PlantedMLPDataModule

    class DrawnData(PlantedMLPDataModule):
        """Planted data drawn once (the data step, before the fit); the fit only moves it to the
        trainer's device and dtype."""

        def setup(self, stage: str) -> None:
            if self.x is None:
                super().setup(stage)
            device, dtype = self.placement()
            self.x, self.y = self.x.to(device, dtype), self.y.to(device, dtype)

    start = time.perf_counter()
    data = DrawnData(width=m, sparsity=args.s, seed=args.seed, nmeasurements=args.n, input_dim=args.d)
    data.setup("fit")
    data_s, data_peak = time.perf_counter() - start, peak_mb()

    reset_peak()
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    fit_start = time.perf_counter()
    quiet = dict(
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    device = dict(accelerator="gpu", devices=1) if cuda else dict(accelerator="cpu")
    model, callbacks, settings = point_model(args, m, method)
    recovery = callbacks[1] if method != "imp" else None
    trainer = Trainer(max_epochs=args.epochs, callbacks=callbacks, **quiet, **device, **settings)
    trainer.fit(model, datamodule=data)
    fit_s = time.perf_counter() - fit_start
    if method == "imp":
        metric = callbacks[0].results.get(args.s, {}).get("metric", float("nan"))
    else:
        metric = float(trainer.callback_metrics["val/psnr"])
    train_peak = peak_mb()
    return {
        "m": m,
        "method": method,
        "status": "done",
        "data_s": round(data_s, 2),
        "data_peak_mb": round(data_peak),
        "fit_s": round(fit_s, 2),
        "train_peak_mb": round(train_peak),
        "train_cuda_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else "",
        "whole_peak_mb": round(max(data_peak, train_peak)),
        "total_s": round(time.perf_counter() - start, 2),
        "metric": metric,
        "rel_weight_error": recovery.metrics.get("rel_weight_error", "") if recovery else "",
        "nnz": model.nnz(),
        "error": "",
    }


def spawn(args: argparse.Namespace, m: int, method: str) -> dict:
    """Runs one point in a fresh interpreter; its measurements, or why it has none."""
    cmd = [sys.executable, __file__, "--point", str(m), method, *point_flags(args)]
    timeout = args.imp_timeout if method == "imp" else args.timeout
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"m": m, "method": method, "status": "timeout", "error": f"over {timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        status = "killed" if done.returncode < 0 else "failed"
        return {"m": m, "method": method, "status": status, "error": error[:300]}
    return json.loads(lines[-1])


def point_flags(args: argparse.Namespace) -> list[str]:
    return [
        f"--n={args.n}",
        f"--d={args.d}",
        f"--s={args.s}",
        f"--seed={args.seed}",
        f"--epochs={args.epochs}",
        f"--device={args.device}",
    ]


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)


def dense_fits(args: argparse.Namespace, m: int) -> bool:
    """Whether the dense state (``modules/storage.py``'s estimate) stays under --dense-limit-mb."""
    from modules.storage import dense_state_bytes

    return dense_state_bytes(m, args.d, 1, 1) <= args.dense_limit_mb * 2**20


def plot(rows: list[dict], path: Path) -> None:
    """Log-log peak memory against m: training per method, and the data step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    done = [r for r in rows if r["status"] == "done"]
    for method in dict.fromkeys(r["method"] for r in done):
        points = sorted((r["m"], r["train_peak_mb"]) for r in done if r["method"] == method)
        ax.plot(*zip(*points, strict=True), marker="o", label=f"{method}: training")
    data = sorted({r["m"]: r["data_peak_mb"] for r in done}.items())
    if data:
        ax.plot(
            *zip(*data, strict=True),
            marker="s",
            linestyle="--",
            color="gray",
            label="data step (the planted task's draws)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hidden width m")
    ax.set_ylabel("peak resident memory (MB)")
    ax.set_title("One planted AIHT/IMP point (n=5000, d=100, s=100, 15 epochs)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    parser.add_argument("--methods", nargs="+", default=["compact", "dense", "imp"])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--s", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dense-limit-mb", type=float, default=8192, help="skip dense points above this")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per AIHT point")
    parser.add_argument("--imp-timeout", type=float, default=600, help="seconds per IMP point")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--replot", type=Path, nargs="+", help="only plot the rows of these CSVs")
    parser.add_argument("--point", nargs=2, metavar=("M", "METHOD"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.point:
        print(json.dumps(run_point(args, int(args.point[0]), args.point[1])))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        rows = [row for path in args.replot for row in csv.DictReader(path.open())]
        for row in rows:
            for key in ("m", "train_peak_mb", "data_peak_mb"):
                row[key] = int(float(row[key])) if row[key] else ""
        write_csv(rows, args.out / "memory_scaling.csv")
        plot(rows, args.out / "memory_scaling.png")
        return
    rows = []
    for m in args.m:
        for method in args.methods:
            if method == "dense" and not dense_fits(args, m):
                row = {
                    "m": m,
                    "method": method,
                    "status": "skipped",
                    "error": "dense state over --dense-limit-mb",
                }
            else:
                row = spawn(args, m, method)
            rows.append(row)
            print(", ".join(f"{k}={row[k]}" for k in FIELDS if row.get(k, "") != ""), flush=True)
            write_csv(rows, args.out / "memory_scaling.csv")
    plot(rows, args.out / "memory_scaling.png")
    print(f"wrote {args.out / 'memory_scaling.csv'} and {args.out / 'memory_scaling.png'}")


if __name__ == "__main__":
    main()
