"""Batches sliced from tensors that already sit on the device: no per-example Python.

Full batch (``batch_size`` 0) yields the whole data once per epoch. Minibatches follow the
order that a shuffled torch DataLoader gives after ``torch.manual_seed(seed)`` (two int64
draws per epoch, the second seeding that epoch's permutation), so they match the paper's
code. The paper's AIHT takes one batch from a fresh iterator before training
(``next(iter(train_loader))``), which uses up the first epoch's draws: training epoch e gets
the loader's order e + 1 (``skip_epochs=1``). Each epoch's order depends only on (seed, epoch),
which Lightning sets through ``sampler.set_epoch``; the position inside an epoch is saved in
checkpoints, so a run resumes mid-epoch with the same batches.

Deeper AIHT builds the loader afresh for every layer, reseeded as for layer 1 (docs/algorithms.md: deeper
networks):
``restart(epoch)`` says that the loader counts its orders again from Lightning's ``epoch``,
so the layer's training epoch e gets the loader's order e + 1 counted from the layer's start.
"""

from collections.abc import Iterator

import torch
from torch import Tensor


class EpochOrder:
    """The example order of each epoch; Lightning calls ``set_epoch`` before every epoch.

    ``first_epoch`` is the Lightning epoch at which the loader was (notionally) built: epoch
    ``first_epoch`` gets the first order after the ``skip_epochs`` skipped ones.
    """

    def __init__(self, n: int, shuffle: bool, seed: int, skip_epochs: int = 0) -> None:
        self.n, self.shuffle, self.seed, self.skip_epochs = n, shuffle, seed, skip_epochs
        self.epoch = 0
        self.first_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> Tensor | None:
        """None for the natural order."""
        if not self.shuffle:
            return None
        built_epochs = self.epoch - self.first_epoch
        if built_epochs < 0:
            raise RuntimeError(f"epoch {self.epoch} precedes the loader's first epoch {self.first_epoch}")
        generator = torch.Generator().manual_seed(self.seed)
        draws = torch.empty(2 * (self.skip_epochs + built_epochs + 1), dtype=torch.int64).random_(
            generator=generator
        )
        epoch_seed = int(draws[-1])  # draws[-2] is the loader's base seed, unused here
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(epoch_seed))


class TensorBatches:
    """An iterable of (x, y) batches over tensors, usable as a Lightning dataloader."""

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int = 0,
        shuffle: bool = False,
        seed: int = 0,
        skip_epochs: int = 0,
    ) -> None:
        if batch_size < 0:
            raise ValueError(f"data.batch_size must be 0 (full batch) or positive, got {batch_size}")
        self.x, self.y = x, y
        self.n = x.shape[0]
        self.batch_size = batch_size or self.n
        self.sampler = EpochOrder(self.n, shuffle and self.batch_size < self.n, seed, skip_epochs)
        self.batch_sampler = None  # Lightning looks for both, like on a torch DataLoader
        self.feature_layers = 0  # frozen hidden layers already applied to x (deeper AIHT)
        self._next_batch = 0

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self._next_batch >= len(self):
            self._next_batch = 0
        order = self.sampler.permutation()
        if order is not None:
            order = order.to(self.x.device)
        while self._next_batch < len(self):
            start = self._next_batch * self.batch_size
            self._next_batch += 1
            if order is None:
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                yield self.x[idx], self.y[idx]
        self._next_batch = 0
        self.sampler.epoch += 1

    def restart(self, epoch: int) -> None:
        """The loader as if built anew, its generator reseeded, at Lightning's ``epoch``."""
        self.sampler.first_epoch = epoch

    def state_dict(self) -> dict:
        return {"next_batch": self._next_batch}

    def load_state_dict(self, state: dict) -> None:
        self._next_batch = state["next_batch"]
