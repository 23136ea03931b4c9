"""The AIHT callback in a Lightning script of your own: your data, your Trainer, no sweep.

Run from the repository root (a few seconds):

    python examples/aiht_in_your_trainer.py
    python examples/aiht_in_your_trainer.py --m 50 --s 30 --batch-size 500

The pieces, each replaceable by your own:

- the data: any LightningDataModule whose loaders give (x, y) batches, x of shape (batch, d) and
  y of shape (batch,), as tensors in the Trainer's dtype (float64 under ``precision="64-true"``).
  Here they are sliced from tensors with ``datamodules.tensor_batches.TensorBatches`` (batch
  size 0: the whole set at once, AIHT's usual full-batch update); a torch DataLoader works too.
  The metric is read from validation, so give a ``val_dataloader``;
- the model: ``SparseMLP(net=GatedMLP(width=m, input_dim=d))``, the project's LightningModule
  around AIHT's gated ReLU network (one hidden layer of width m, a scalar output);
- the algorithm: ``AIHT(sparsity=s)`` among the Trainer's callbacks; it replaces the optimiser and
  keeps at most s nonzero weights after every update.

Without the project's task contract the module reports PSNR with peak 1 (``val/psnr``), so this
script also measures the explained share of the variance (R²) on held-out inputs itself.

What good looks like: R² of 0.95 or more on held-out inputs; the labels here come from a sparse
ReLU network plus a little noise, which AIHT can find with enough examples.
"""

import argparse
import sys
import warnings
from pathlib import Path

# Let `python examples/aiht_in_your_trainer.py` import the project whether or not it is installed:
# put the repository root (the folder above this one) first on Python's import path.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from pytorch_lightning import LightningDataModule, Trainer  # noqa: E402

from callbacks.aiht import AIHT  # noqa: E402
from datamodules.tensor_batches import TensorBatches  # noqa: E402
from modules.gated_mlp import GatedMLP  # noqa: E402
from modules.sparse_mlp import SparseMLP  # noqa: E402

GOOD_R2 = 0.95


class MyData(LightningDataModule):
    """Your data: here y = relu(x0 + x1) + relu(x2 − 2·x3) + noise, on n training and n/4
    held-out examples of d standard normal features."""

    def __init__(self, n: int, d: int, batch_size: int = 0) -> None:
        super().__init__()
        self.n, self.d, self.batch_size = n, d, batch_size

    def setup(self, stage: str) -> None:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(self.n + self.n // 4, self.d, generator=generator, dtype=torch.float64)
        y = torch.relu(x[:, 0] + x[:, 1]) + torch.relu(x[:, 2] - 2 * x[:, 3])
        y = y + 0.01 * torch.randn(len(y), generator=generator, dtype=torch.float64)
        self.x_train, self.y_train = x[: self.n], y[: self.n]
        self.x_val, self.y_val = x[self.n :], y[self.n :]

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x_train, self.y_train, self.batch_size, shuffle=True, seed=0)

    def val_dataloader(self) -> TensorBatches:
        return TensorBatches(self.x_val, self.y_val, self.batch_size)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="training examples")
    parser.add_argument("--d", type=int, default=20, help="input features")
    parser.add_argument("--m", type=int, default=10, help="hidden width")
    parser.add_argument("--s", type=int, default=10, help="nonzero weights kept (the budget)")
    parser.add_argument("--epochs", type=int, default=15, help="AIHT updates per example (epochs)")
    parser.add_argument("--batch-size", type=int, default=0, help="0: full batch")
    parser.add_argument("--quick", action="store_true", help="fewer examples, no progress bar, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = min(args.n, 1000)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Lightning suggests DataLoader workers; the batches here are slices of tensors in memory.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # A deprecation inside Lightning's own code (torch's pytree), nothing this script can change.
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    data = MyData(args.n, args.d, args.batch_size)
    model = SparseMLP(net=GatedMLP(width=args.m, input_dim=args.d, seed=0))
    trainer = Trainer(
        max_epochs=args.epochs,
        precision="64-true",  # AIHT's arithmetic in float64, as in the paper (32-true also works)
        callbacks=[AIHT(sparsity=args.s)],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=not args.quick,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=data)

    # The metric Lightning logged at the last validation, and a check of our own on held-out inputs.
    psnr = float(trainer.callback_metrics["val/psnr"])
    with torch.no_grad():
        pred = model(data.x_val)
    r2 = 1 - float(((pred - data.y_val) ** 2).mean() / data.y_val.var())
    print(f"\nval/psnr {psnr:.2f} dB (peak 1); nonzero weights {model.nnz()} of s={args.s}")
    print(f"R² on {len(data.y_val)} held-out examples: {r2:.4f} (good: {GOOD_R2} or more)")
    if r2 >= GOOD_R2:
        print(f"verdict: good: the sparse network explains {100 * r2:.1f} % of the held-out variance")
    else:
        print(
            f"verdict: not reached: R² {r2:.3f} < {GOOD_R2}; try larger --m and --s, or more --n or --epochs"
        )


if __name__ == "__main__":
    main()
