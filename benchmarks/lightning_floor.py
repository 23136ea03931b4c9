"""What one full-batch training step costs at the least, on a network so small that its arithmetic
is nearly free: IMP's tiny point (a ReLU MLP with m = 2 hidden units on d = 100 inputs, n = 200
examples, MSE, Adam), stepped

- in a plain torch loop (forward, loss, backward, Adam): the arithmetic and torch's dispatch;
- by a bare Lightning Trainer: no logger, no callbacks, no checkpoints, no progress bar, no
  validation, one step per epoch as IMP's full-batch rounds take them: Lightning's own loop;
- the same Trainer with 15 steps per epoch: how much of that is the epoch's machinery.

The project's IMP step (``benchmarks/overhead.py --method imp``) adds its logging, IMP's hooks and
the pruning masks to the bare Lightning step; what is left above this floor is all it can cut
without leaving Lightning's loop.

    python benchmarks/lightning_floor.py            # 570 steps each, as IMP's m = 2 point; best of 3
"""

import argparse
import logging
import time
import warnings

import torch
from pytorch_lightning import LightningModule, Trainer

M, D, N = 2, 100, 200


class TinyMLP(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(D, M)
        self.out = torch.nn.Linear(M, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x).relu()).squeeze()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class FullBatches:
    """The whole data set as one batch, ``per_epoch`` times an epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, per_epoch: int) -> None:
        self.x, self.y, self.per_epoch = x, y, per_epoch

    def __len__(self) -> int:
        return self.per_epoch

    def __iter__(self):
        for _ in range(self.per_epoch):
            yield self.x, self.y


def plain(x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    model = TinyMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def lightning(x: torch.Tensor, y: torch.Tensor, steps: int, per_epoch: int) -> float:
    trainer = Trainer(
        max_epochs=steps // per_epoch,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(TinyMLP(), train_dataloaders=FullBatches(x, y, per_epoch))
    return (time.perf_counter() - start) / trainer.global_step


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=570)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # Lightning's tips about loaders and loggers
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    x, y = torch.randn(N, D), torch.randn(N)
    runs = {
        "plain torch loop": lambda: plain(x, y, args.steps),
        "bare Lightning, 1 step per epoch": lambda: lightning(x, y, args.steps, 1),
        "bare Lightning, 15 steps per epoch": lambda: lightning(x, y, args.steps, 15),
    }
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, threads {threads}, {args.steps} steps, best of {args.repeats}")
    print("| loop | ms per step |\n|---|---:|")
    for name, run in runs.items():
        best = min(run() for _ in range(args.repeats))
        print(f"| {name} | {1e3 * best:.3f} |", flush=True)


if __name__ == "__main__":
    main()
