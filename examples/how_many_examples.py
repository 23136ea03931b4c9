"""How many examples n does AIHT need to recover a planted network with s nonzero weights?

Run from the repository root (the default grid: 120 points, a few minutes on two CPU cores):

    python examples/how_many_examples.py
    python examples/how_many_examples.py --nlist 500 2000 --slist 10 40 --seeds 0 1 2 --m 50

For each n it runs one sweep of the planted task (``cli.py fit``, called from Python) over the
budgets s and the seeds, at a fixed width m and input dimension d. Each trained network (its
exported ``sparse_network.pt``) then predicts 1000 new inputs, and the script prints, per (n, s),
the median PSNR on those new inputs over the seeds and how many seeds reached 30 dB (recovered).

What to expect: the paper's guarantee asks for n growing like s times log factors; below that, a
sparse network fits the n training examples without being the planted one, and new inputs show
it. Recovery also depends on the seed (where AIHT starts), so look at the count, not one run.
"""

import argparse
import json
import sys
from pathlib import Path

# Let `python examples/how_many_examples.py` import the project whether or not it is installed:
# put the repository root (the folder above this one) first on Python's import path.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datamodules.planted import draw_planted_weights  # noqa: E402
from lightning_app.cli import fit  # noqa: E402
from sparse_export import load_sparse_mlp  # noqa: E402

GOOD_DB = 30.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlist", type=int, nargs="+", default=[100, 250, 500, 1000, 2000, 4000])
    parser.add_argument("--slist", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--m", type=int, default=20, help="hidden width, planted and trained")
    parser.add_argument("--d", type=int, default=50, help="input features")
    parser.add_argument("--epochs", type=int, default=15, help="full-batch AIHT updates")
    parser.add_argument("--out", default="runs/examples/how_many_examples", help="the run folder")
    parser.add_argument("--quick", action="store_true", help="a 2-point grid, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.nlist, args.slist, args.seeds, args.m, args.d = [100, 1000], [5], [0], 5, 20
    return args


def new_input_psnr(folder: Path, d: int, m: int, s: int, seed: int) -> float:
    """PSNR of the point's exported network against the planted one on 1000 new inputs."""
    (layer,) = draw_planted_weights(1, d, m, 1, s, seed)
    x = np.random.default_rng(seed + 1000).normal(size=(1000, d))
    truth = np.maximum(x @ layer.toarray(), 0).sum(axis=1)
    net = load_sparse_mlp(folder / "sparse_network.pt")
    pred = net(torch.from_numpy(x)).double().numpy()
    error = max(float(np.mean((pred - truth) ** 2)), 1e-30)
    return float(20 * np.log10(np.abs(truth).max()) - 10 * np.log10(error))


def sweep(args: argparse.Namespace, n: int) -> dict[tuple[int, int], float]:
    """The planted task with n examples over the budgets and seeds; PSNR on new inputs per (s, seed)."""
    root = Path(args.out) / f"n{n}"
    fit(
        [
            "--data=datamodules.planted.PlantedMLPDataModule",
            f"--data.nmeasurements={n}",
            f"--data.input_dim={args.d}",
            f"--trainer.max_epochs={args.epochs}",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            "--sweep.method=aiht",
            "--sweep.num_layers=1",
            f"--sweep.mlist={args.m}",
            "--sweep.slist",
            *map(str, args.slist),
            "--sweep.seedlist",
            *map(str, args.seeds),
        ]
    )
    out = {}
    for s in args.slist:
        for seed in args.seeds:
            folder = root / "mlp_planted" / "aiht" / "hidden1" / f"m{args.m}_s{s}_seed{seed}"
            if json.loads((folder / "result.json").read_text())["status"] == "done":
                out[s, seed] = new_input_psnr(folder, args.d, args.m, s, seed)
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    table = {n: sweep(args, n) for n in args.nlist}
    print(f"\nm={args.m}, d={args.d}, {args.epochs} epochs, seeds {args.seeds}: median PSNR on new inputs")
    print(f"(seeds at {GOOD_DB:.0f} dB or more), per n (rows) and s (columns)")
    print("n \\ s".rjust(8) + "".join(f"{s:>16}" for s in args.slist))
    for n, psnrs in table.items():
        cells = []
        for s in args.slist:
            values = [psnrs[s, seed] for seed in args.seeds if (s, seed) in psnrs]
            good = sum(v >= GOOD_DB for v in values)
            cells.append(f"{np.median(values):7.1f} ({good}/{len(args.seeds)})" if values else "-")
        print(f"{n:>8}" + "".join(f"{c:>16}" for c in cells))
    largest = table[max(args.nlist)]
    recovered = sum(v >= GOOD_DB for v in largest.values())
    verdict = "good" if recovered * 2 >= len(largest) else "not reached"
    print(
        f"verdict: {verdict}: at n={max(args.nlist)}, {recovered} of {len(largest)} points recovered "
        f"(good: at least half)"
    )


if __name__ == "__main__":
    main()
