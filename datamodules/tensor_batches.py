"""Batches sliced from tensors that already sit on the device: no per-example Python.

Full batch (``batch_size`` 0) yields the whole data once per epoch. Minibatches follow the
order that a shuffled torch DataLoader gives after ``torch.manual_seed(seed)`` (two int64
draws per epoch, the second seeding that epoch's permutation), so they match the paper's code.
The loader is stateful, so a checkpoint taken mid-epoch resumes with the same order.
"""

from collections.abc import Iterator

import torch
from torch import Tensor


class TensorBatches:
    """An iterable of (x, y) batches over tensors, usable as a Lightning dataloader."""

    def __init__(
        self, x: Tensor, y: Tensor, batch_size: int = 0, shuffle: bool = False, seed: int = 0
    ) -> None:
        if batch_size < 0:
            raise ValueError(f"data.batch_size must be 0 (full batch) or positive, got {batch_size}")
        self.x, self.y = x, y
        self.n = x.shape[0]
        self.batch_size = batch_size or self.n
        self.shuffle = shuffle
        self._generator = torch.Generator().manual_seed(seed)
        self._order: Tensor | None = None
        self._next_batch = 0

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def _new_order(self) -> Tensor | None:
        if not self.shuffle or self.batch_size >= self.n:
            return None
        torch.empty((), dtype=torch.int64).random_(generator=self._generator)  # the loader's base seed
        epoch_seed = int(torch.empty((), dtype=torch.int64).random_(generator=self._generator))
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(epoch_seed))
        return order.to(self.x.device)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self._next_batch == 0 or self._next_batch >= len(self):
            self._next_batch = 0
            self._order = self._new_order()
        while self._next_batch < len(self):
            start = self._next_batch * self.batch_size
            self._next_batch += 1
            if self._order is None:
                sl = slice(start, start + self.batch_size)
                yield self.x[sl], self.y[sl]
            else:
                idx = self._order[start : start + self.batch_size]
                yield self.x[idx], self.y[idx]
        self._next_batch = 0

    def state_dict(self) -> dict:
        return {
            "generator": self._generator.get_state(),
            "order": None if self._order is None else self._order.cpu(),
            "next_batch": self._next_batch,
        }

    def load_state_dict(self, state: dict) -> None:
        self._generator.set_state(state["generator"])
        order = state["order"]
        self._order = None if order is None else order.to(self.x.device)
        self._next_batch = state["next_batch"]
