"""Where a small point's time goes: a sweep of tiny planted points run in this process, its time
split by phase (data, building the Trainer, fit loop, the training step itself, validation,
logging, checkpointing, export, result files, the sweep's own bookkeeping and its tables and
figures), per point and per training step, printed as a markdown table.

Each phase is timed exclusively: a wrapped function's time excludes the phases it calls (the fit
loop's row is what Lightning's loop costs around the steps, validation, logging and checkpoints).

    python benchmarks/overhead.py                       # AIHT and IMP, on the CPU and on CUDA if present
    python benchmarks/overhead.py --method imp --device cpu
    python benchmarks/overhead.py --aiht-n 50000 --imp-n 200
    python benchmarks/overhead.py --method aiht --aiht-slist 1 2 5

Defaults: AIHT at Figure 1's settings (n=50000, d=100, 15 epochs, float64) with m=1,
s=1, 2, 5, 10, 20, 50, seed 0 (the first point draws the planted inputs X, the others reuse
them); IMP at m=2, n=200, s=1 (38 rounds of 15 full-batch epochs: 570 steps of microseconds).
Run it on an idle machine; with other jobs on the cores, small steps slow down most.
"""

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402
from pytorch_lightning import LightningModule, Trainer  # noqa: E402

from lightning_app import cli  # noqa: E402
from lightning_app.launch.allocator import keep_freed_memory  # noqa: E402

IMPORT_S = time.perf_counter() - START


class PhaseClock:
    """Exclusive time per phase: time goes to the innermost phase being run."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.stack: list[str] = []
        self.last = time.perf_counter()
        self.steps = 0

    def enter(self, phase: str) -> None:
        now = time.perf_counter()
        if self.stack:
            self.totals[self.stack[-1]] += now - self.last
        self.stack.append(phase)
        self.last = now

    def leave(self) -> None:
        now = time.perf_counter()
        self.totals[self.stack.pop()] += now - self.last
        self.last = now

    def wrap(self, owner, name: str, phase: str) -> None:
        """Times ``owner.name`` (a function or method) as ``phase``; absent ones are skipped."""
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None or not callable(original):
            return

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self.enter(phase)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(owner, name, timed)


def instrument(clock: PhaseClock) -> None:
    """Wraps the functions of each phase (those of older or newer code that are absent are skipped)."""
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import TensorBoardLogger
    from pytorch_lightning.loops.evaluation_loop import _EvaluationLoop
    from pytorch_lightning.trainer.connectors.logger_connector.logger_connector import _LoggerConnector
    from torch.utils.tensorboard import SummaryWriter

    import lightning_app.launch.jobs as jobs
    import lightning_app.launch.sweep as sweep
    import lightning_app.report.figures as figures
    import lightning_app.run.point_run as point_run
    from callbacks.recovery import PlantedRecovery
    from datamodules.planted import PlantedMLPDataModule
    from lightning_app.plan.sweep_plan import SweepPlan
    from modules.sparse_mlp import SparseMLP

    wraps = [
        (PlantedMLPDataModule, "setup", "data"),
        (SweepPlan, "build", "building the Trainer"),
        (point_run, "build_run", "building the Trainer"),
        (Trainer, "__init__", "building the Trainer"),
        (SparseMLP, "training_step", "training step (the work)"),
        (torch.optim.Adam, "step", "training step (the work)"),
        (_EvaluationLoop, "run", "validation (Lightning's loop)"),
        (SparseMLP, "validation_step", "validation step (the work)"),
        (SparseMLP, "on_validation_epoch_end", "validation step (the work)"),
        (LightningModule, "log", "logging"),
        (LightningModule, "log_dict", "logging"),
        (_LoggerConnector, "update_train_step_metrics", "logging"),
        (_LoggerConnector, "update_train_epoch_metrics", "logging"),
        (TensorBoardLogger, "log_metrics", "logging"),
        (TensorBoardLogger, "log_hyperparams", "logging"),
        (TensorBoardLogger, "finalize", "logging"),
        (SummaryWriter, "__init__", "logging"),
        (SummaryWriter, "add_scalar", "logging"),
        (sweep, "log_point_hparams", "logging"),
        (ModelCheckpoint, "on_train_batch_end", "checkpointing"),
        (ModelCheckpoint, "on_train_epoch_end", "checkpointing"),
        (ModelCheckpoint, "on_validation_end", "checkpointing"),
        (ModelCheckpoint, "on_train_end", "checkpointing"),
        (PlantedRecovery, "on_train_end", "result fields"),
        (point_run.PointRunner, "export", "export"),
        (jobs, "write_result", "result files"),
        (jobs, "write_csv", "result files"),
        (figures, "export_figures", "sweep end: tables and figures"),
    ]
    for owner, name, phase in wraps:
        clock.wrap(owner, name, phase)
    fit = Trainer.fit

    @functools.wraps(fit)
    def counted_fit(trainer, *args, **kwargs):
        clock.enter("fit loop (Lightning)")
        try:
            return fit(trainer, *args, **kwargs)
        finally:
            clock.leave()
            clock.steps += trainer.global_step

    Trainer.fit = counted_fit


def sweep_args(method: str, n: int, device: str, root: Path, slist: list[str]) -> list[str]:
    """The command line (after ``fit``) of the measured sweep."""
    grid = ["--sweep.mlist", "1", "--sweep.slist", *slist]
    if method == "imp":
        grid = ["--sweep.mlist", "2", "--sweep.slist", "1"]
    where = ["--trainer.accelerator", "gpu", "--trainer.devices", "1"] if device == "cuda" else []
    return [
        "--config",
        "configs/figure1.yaml",
        "--sweep.method",
        method,
        "--sweep.num_layers",
        "1",
        *grid,
        "--sweep.seedlist",
        "0",
        "--data.init_args.nmeasurements",
        str(n),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.default_root_dir",
        str(root),
        *where,
    ]


AIHT_SLIST = ["1", "2", "5", "10", "20", "50"]
PHASES = [
    "data",
    "building the Trainer",
    "fit loop (Lightning)",
    "training step (the work)",
    "validation (Lightning's loop)",
    "validation step (the work)",
    "logging",
    "checkpointing",
    "result fields",
    "export",
    "result files",
    "sweep bookkeeping",
    "sweep end: tables and figures",
]


def measure(clock: PhaseClock, method: str, n: int, device: str, slist: list[str] = AIHT_SLIST) -> dict:
    """Runs the sweep once and returns the per-phase totals, points, steps and the points' wall_s."""
    clock.reset()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sweep"
        start = time.perf_counter()
        clock.enter("sweep bookkeeping")
        try:
            results = cli.fit(sweep_args(method, n, device, root, slist))
        finally:
            clock.leave()
        whole = time.perf_counter() - start
        walls = [json.loads(p.read_text())["wall_s"] for p in sorted(root.rglob("result.json"))]
    statuses = {r["status"] for r in results}
    return {
        "totals": dict(clock.totals),
        "whole": whole,
        "points": len(results),
        "steps": clock.steps,
        "wall_s": walls,
        "statuses": statuses,
    }


def table(title: str, run: dict) -> str:
    points, steps = run["points"], max(run["steps"], 1)
    walls = ", ".join(f"{w:.3f}" for w in run["wall_s"])
    lines = [
        f"### {title}",
        "",
        f"{points} points, {run['steps']} training steps, sweep {run['whole']:.2f} s in this process "
        f"(imports before it: {IMPORT_S:.2f} s); points' wall_s: {walls}, "
        f"median {statistics.median(run['wall_s']):.3f} "
        f"(status {', '.join(sorted(run['statuses']))})",
        "",
        "| phase | total s | per point ms | per step µs | share |",
        "|---|---:|---:|---:|---:|",
    ]
    totals = run["totals"]
    for phase in PHASES + sorted(set(totals) - set(PHASES)):
        t = totals.get(phase, 0.0)
        share = 100 * t / run["whole"]
        lines.append(f"| {phase} | {t:.3f} | {1e3 * t / points:.1f} | {1e6 * t / steps:.0f} | {share:.0f}% |")
    lines.append(
        f"| **whole sweep** | {run['whole']:.3f} | {1e3 * run['whole'] / points:.1f} | "
        f"{1e6 * run['whole'] / steps:.0f} | 100% |"
    )
    fit_part = sum(
        totals.get(p, 0.0)
        for p in (
            "fit loop (Lightning)",
            "training step (the work)",
            "logging",
            "checkpointing",
            "validation (Lightning's loop)",
            "validation step (the work)",
        )
    )
    lines.append("")
    lines.append(
        f"Per training step inside the fit (loop, step, logging, checkpoints, validation): "
        f"{1e3 * fit_part / steps:.3f} ms"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", choices=["aiht", "imp", "both"], default="both")
    parser.add_argument("--device", choices=["cpu", "cuda", "both"], default="both")
    parser.add_argument("--aiht-n", type=int, default=50000)
    parser.add_argument("--imp-n", type=int, default=200)
    parser.add_argument("--aiht-slist", nargs="+", default=AIHT_SLIST, help="AIHT's budgets s (m = 1)")
    args = parser.parse_args()
    methods = ["aiht", "imp"] if args.method == "both" else [args.method]
    devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, devices {', '.join(devices)}\n")
    keep_freed_memory()  # as cli.py does before any work
    clock = PhaseClock()
    instrument(clock)
    for device in devices:
        for method in methods:
            n = args.aiht_n if method == "aiht" else args.imp_n
            run = measure(clock, method, n, device, args.aiht_slist)
            print(table(f"{method.upper()} on {device}, n={n}", run), "\n", flush=True)


if __name__ == "__main__":
    main()
