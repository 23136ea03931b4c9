"""Time one Gaussian sensing point (AIHT, full batch) in one process: the data step (x*, A's
columns for y = A x*) and the fit, each best of ``--repeats``, with the relative error reached.

The defaults are the largest point of configs/gaussian_sparse.yaml's grid: N = 10000, s = 30,
200 measurements, 15 steps, 3 refinement steps, float64.

    .venv/bin/python benchmarks/gaussian_point.py
    .venv/bin/python benchmarks/gaussian_point.py --n-cols 1000 --s 10 --repeats 5
    .venv/bin/python benchmarks/gaussian_point.py --sensing-memory-mb 0   # A streamed, never kept
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytorch_lightning import Trainer  # noqa: E402

from callbacks.aiht import AIHT  # noqa: E402
from datamodules.gaussian_sparse import GaussianSparseDataModule  # noqa: E402
from modules.linear_sensing import LinearSensing  # noqa: E402
from modules.sparse_mlp import SparseMLP  # noqa: E402

QUIET = dict(
    logger=False,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    num_sanity_val_steps=0,
)


def one_point(args: argparse.Namespace) -> tuple[float, float, float]:
    """(seconds of the data step, seconds of the fit, relative error) of one fresh point."""
    memory = {} if args.sensing_memory_mb is None else {"sensing_memory_mb": args.sensing_memory_mb}
    dm = GaussianSparseDataModule(
        width=args.n_cols, sparsity=args.s, seed=args.seed, nmeasurements=args.n_rows, **memory
    )
    start = time.perf_counter()
    dm.setup("fit")
    data_s = time.perf_counter() - start
    model = SparseMLP(LinearSensing(width=args.n_cols, seed=args.seed))
    trainer = Trainer(
        max_epochs=args.epochs,
        precision="64-true",
        callbacks=[AIHT(sparsity=args.s, refine_steps=3)],
        **QUIET,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    fit_s = time.perf_counter() - start
    return data_s, fit_s, float(trainer.callback_metrics["val/rel_error"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cols", type=int, default=10000, help="signal length N (the grid's m)")
    parser.add_argument("--n-rows", type=int, default=200, help="measurements")
    parser.add_argument("--s", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sensing-memory-mb", type=float, default=None, help="the datamodule's (default: its own)"
    )
    args = parser.parse_args()
    runs = [one_point(args) for _ in range(args.repeats)]
    data_s, fit_s = min(r[0] for r in runs), min(r[1] for r in runs)
    print(
        f"N={args.n_cols} s={args.s} n={args.n_rows} seed={args.seed} epochs={args.epochs}: "
        f"data {data_s:.3f} s, fit {fit_s:.3f} s (best of {args.repeats}), "
        f"relative error {runs[0][2]:.3e}"
    )


if __name__ == "__main__":
    main()
