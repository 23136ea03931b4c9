"""AIHT on arrays of your own: a small sweep over widths m and budgets s, from a data file.

Run from the repository root:

    python examples/own_arrays.py                          # writes an example regression file first
    python examples/own_arrays.py --kind classification    # ... or a classification one
    python examples/own_arrays.py --path my.npz            # your file: .npz (x, y), .csv, .pt
    python examples/own_arrays.py --path my.csv --task classification --label-column label

The file is read by ``datamodules.array_file.ArrayFileDataModule``, exactly as the command line
reads it with ``--data datamodules.array_file.ArrayFileDataModule --data.path my.npz``; this
script only runs that sweep (``cli.py fit``, called from Python) and prints its results: one
metric per (m, s) on the held-out examples (a fifth of them), next to what predictions that use no
input at all give. The inputs are standardised by the training examples' mean and spread.

What good looks like: on a regression, PSNR clearly above predicting the training labels' mean
(3 dB above halves the squared error); on a classification, accuracy clearly above always
predicting the most frequent class. Near those baselines the network has learned little: try
larger m and s, more epochs, or a look at docs/own_data.md. The script also prints a dense
linear fit (least squares on every input) as a second yardstick: a sparse network that beats it
has found structure a linear model misses.
"""

import argparse
import sys
from pathlib import Path

# Let `python examples/own_arrays.py` import the project whether or not it is installed: put the
# repository root (the folder above this one) first on Python's import path.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from datamodules.array_file import ArrayFileDataModule  # noqa: E402
from lightning_app.cli import fit  # noqa: E402

MARGIN = {"psnr": 3.0, "accuracy": 0.05}  # how far above the input-free baseline counts as good


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", help="your data file; without it an example file is written first")
    parser.add_argument("--kind", choices=["regression", "classification"], default="regression")
    parser.add_argument("--task", choices=["regression", "classification"], help="default: --kind")
    parser.add_argument("--label-column", default="-1", help=".csv: the label column, index or name")
    parser.add_argument("--mlist", type=int, nargs="+", default=[5, 20], help="hidden widths m")
    parser.add_argument("--slist", type=int, nargs="+", default=[10, 40], help="budgets s (nonzeros)")
    parser.add_argument("--epochs", type=int, default=15, help="full-batch AIHT updates")
    parser.add_argument("--out", default="runs/examples/own_arrays", help="the run folder")
    parser.add_argument("--quick", action="store_true", help="fewer examples and points, for tests")
    args = parser.parse_args(argv)
    args.task = args.task or args.kind
    if args.quick:
        args.mlist, args.slist = args.mlist[:1], args.slist[:2]
    return args


def write_example(folder: Path, kind: str, n: int) -> Path:
    """An example file like many real ones: 8 features on very different scales, a label made by
    a few ReLU units of some of them, plus noise (and thresholded, for a classification)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)) * [1, 10, 0.1, 1000, 1, 5, 0.5, 100] + [0, 50, 0, -300, 2, 0, 1, 0]
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    y = np.maximum(z[:, 0] + z[:, 1], 0) + np.maximum(z[:, 3] - 0.5 * z[:, 5], 0) + 0.1 * rng.normal(size=n)
    if kind == "classification":
        y = (y > np.median(y)).astype(np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"example_{kind}.npz"
    np.savez(path, x=x, y=y)  # the format: arrays x (n × d) and y (n)
    return path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    path = (
        Path(args.path)
        if args.path
        else write_example(Path(args.out), args.kind, 600 if args.quick else 2000)
    )
    data = {
        "path": str(path),
        "task": args.task,
        "label_column": args.label_column,
        "val_fraction": 0.2,
        "standardize": True,
    }
    task = ArrayFileDataModule(**data)  # reads and checks the file: a clear error if it does not fit
    command = ["--data=datamodules.array_file.ArrayFileDataModule"]
    command += [f"--data.{key}={value}" for key, value in data.items()]
    if task.task == "classification" and task.output_dim > 1:
        command.append("--model.loss=crossentropy")  # several classes: one-hot outputs, softmax
    command += [
        f"--trainer.max_epochs={args.epochs}",
        f"--trainer.default_root_dir={args.out}",
        "--trainer.enable_progress_bar=false",
        "--sweep.overwrite=true",  # train again when this script is run again
        "--sweep.method=aiht",
        "--sweep.num_layers=1",
        "--sweep.mlist",
        *map(str, args.mlist),
        "--sweep.slist",
        *map(str, args.slist),
    ]
    results = fit(command)
    report(results, task, args)


def report(results: list[dict], task: ArrayFileDataModule, args: argparse.Namespace) -> None:
    """The table of held-out metrics per (m, s), the baselines, and the verdict."""
    metric = task.metric_name
    print(f"\n{path_line(task)}\n{metric} on {task.num_val} held-out examples (rows m, columns s):")
    print("m \\ s".rjust(8) + "".join(f"{s:>10}" for s in args.slist))
    value = {(r["m"], r["s"]): r["metric"] for r in results if r["status"] == "done"}
    for m in args.mlist:
        cells = [f"{value[m, s]:>10.3f}" if (m, s) in value else f"{'-':>10}" for s in args.slist]
        print(f"{m:>8}" + "".join(cells))
    baselines = task.baselines()
    linear = baselines.pop("linear")  # the others use no input at all
    print("baselines (no input used): " + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()))
    print(f"a dense linear fit (least squares, every input): {linear:.3f}")
    best_point = max(value, key=value.get)
    best, floor = value[best_point], max(baselines.values())
    m, s = best_point
    if best >= floor + MARGIN[metric]:
        print(f"verdict: good: m={m}, s={s} gives {metric} {best:.3f}, above the best baseline {floor:.3f}")
    else:
        print(
            f"verdict: not reached: the best, {metric} {best:.3f} (m={m}, s={s}), is within {MARGIN[metric]} "
            f"of the best baseline {floor:.3f}; try larger --mlist and --slist or more --epochs"
        )


def path_line(task: ArrayFileDataModule) -> str:
    return (
        f"data: {task.path} ({task.task}: {task.num_train} training examples, {task.input_dim} "
        f"features, {task.output_dim} output{'s' if task.output_dim > 1 else ''})"
    )


if __name__ == "__main__":
    main()
