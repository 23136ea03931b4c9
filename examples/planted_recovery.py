"""Recover a sparse planted network of your own size with AIHT, then use the trained network.

Run from the repository root (small defaults, about half a minute on a laptop CPU):

    python examples/planted_recovery.py                      # n=2000 examples, d=20, m=5, s=5
    python examples/planted_recovery.py --n 5000 --d 100 --m 20 --s 20

What it does:

1. The planted problem: n random Gaussian inputs of d features, labelled by a random one-hidden-
   layer ReLU network of width m with s nonzero weights (the project's planted task).
2. AIHT fits it through the project's own command line (``cli.py fit``, called from Python here),
   which saves the trained network as its nonzeros in ``sparse_network.pt``.
3. That file is loaded with ``sparse_export.load_sparse_mlp`` (it needs torch only), the network
   predicts labels of new inputs, and the script compares it with the planted network: the PSNR
   on the new inputs and which weights were found.

What good looks like: 30 dB or more on new inputs means the planted function is recovered (the
error is about 3 % of the largest label); an exact recovery gives over 100 dB. Recovery needs
enough examples for the budget s (see docs/own_data.md); with too few, or an unlucky seed, AIHT
stops in a poorer sparse network: try another --seed, more --n or more --epochs.
"""

import argparse
import json
import sys
from pathlib import Path

# Let `python examples/planted_recovery.py` import the project whether or not it is installed:
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
    parser.add_argument("--n", type=int, default=2000, help="training examples")
    parser.add_argument("--d", type=int, default=20, help="input features")
    parser.add_argument("--m", type=int, default=5, help="hidden width of the planted and trained networks")
    parser.add_argument("--s", type=int, default=5, help="nonzero weights (the sparsity budget)")
    parser.add_argument("--seed", type=int, default=0, help="draws the problem, the gates and the order")
    parser.add_argument("--epochs", type=int, default=15, help="full-batch AIHT updates")
    parser.add_argument("--out", default="runs/examples/planted_recovery", help="the run folder")
    parser.add_argument("--quick", action="store_true", help="a smaller problem (n=1000), for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = min(args.n, 1000)
    return args


def train(args: argparse.Namespace) -> Path:
    """One AIHT point through the command line's machinery; the point's folder."""
    fit(
        [
            "--data=datamodules.planted.PlantedMLPDataModule",
            f"--data.nmeasurements={args.n}",
            f"--data.input_dim={args.d}",
            f"--trainer.max_epochs={args.epochs}",
            f"--trainer.default_root_dir={args.out}",
            "--trainer.enable_progress_bar=false",
            "--sweep.overwrite=true",  # train again when this script is run again
            "--sweep.method=aiht",
            "--sweep.num_layers=1",
            f"--sweep.mlist={args.m}",
            f"--sweep.slist={args.s}",
            f"--sweep.seedlist={args.seed}",
        ]
    )
    return Path(args.out) / "mlp_planted" / "aiht" / "hidden1" / f"m{args.m}_s{args.s}_seed{args.seed}"


def planted_network(args: argparse.Namespace) -> np.ndarray:
    """The planted first layer as a dense d × m matrix (input i to unit j), as the task draws it."""
    (layer,) = draw_planted_weights(1, args.d, args.m, 1, args.s, args.seed)
    return layer.toarray()


def units(weights: np.ndarray) -> list[str]:
    """Each unit with a weight above 1e-6 as "relu(w·x_i + …)" (``weights``: d × m, input i to unit
    j), sorted: units can be renumbered without changing the network, so their order means nothing."""
    shown = []
    for column in weights.T:
        kept = np.flatnonzero(np.abs(column) > 1e-6)
        if len(kept):
            text = f"{column[kept[0]]:.3f}·x{kept[0]}"
            for i in kept[1:]:
                text += f" {'-' if column[i] < 0 else '+'} {abs(column[i]):.3f}·x{i}"
            shown.append(f"relu({text})")
    return sorted(shown)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folder = train(args)
    result = json.loads((folder / "result.json").read_text())
    net = load_sparse_mlp(folder / "sparse_network.pt")  # the trained network, torch only

    planted = planted_network(args)
    x_new = np.random.default_rng(args.seed + 1000).normal(size=(1000, args.d))
    y_true = np.maximum(x_new @ planted, 0).sum(axis=1)  # the planted network's labels
    y_pred = net(torch.from_numpy(x_new)).double().numpy()
    psnr = 20 * np.log10(np.abs(y_true).max()) - 10 * np.log10(np.mean((y_pred - y_true) ** 2))

    learned = net.hidden[0].weight.to_dense().T.numpy()  # exported layers are units × inputs
    print(f"\nplanted problem: n={args.n}, d={args.d}, m={args.m}, s={args.s}, seed={args.seed}")
    print(f"training PSNR {result['metric']:.2f} dB; nonzeros kept {result['nnz']} of s={args.s}")
    # Two units reading the same inputs with weights of the same direction add up to one unit, so
    # a network can be recovered with fewer units (and a spare, tiny weight) than it was planted with.
    print("planted units:", ", ".join(units(planted)))
    print("learned units:", ", ".join(units(learned)))
    print(
        f"after matching units one to one: support recall {result['support_recall']:.2f}, precision "
        f"{result['support_precision']:.2f}, relative weight error {result['rel_weight_error']:.2g}"
    )
    print(f"PSNR on 1000 new inputs: {psnr:.2f} dB (good: {GOOD_DB:.0f} dB or more; exact: over 100 dB)")
    if psnr >= GOOD_DB:
        print(f"verdict: good: the planted network is recovered ({psnr:.1f} dB on new inputs)")
    else:
        advice = "try more --n, more --epochs or another --seed"
        print(f"verdict: not reached: {psnr:.1f} dB < {GOOD_DB:.0f} dB; {advice}")


if __name__ == "__main__":
    main()
