"""Draws kept for the points that follow in the same process: a sweep's points with the same seed
draw the same planted inputs X (they depend on the seed, n and d alone), so a worker
draws each X once (``DrawCache``, numpy arrays, read-only) and makes its tensor on the fit's
device once (``TensorCache``): every point gets that tensor, and the contiguous copy of its
transpose that AIHT gathers the sensing matrix's columns from (``modules/support_columns.py``)
is made once too. A kept tensor changed in place (torch counts every in-place change in its
version) is made again before anyone gets it, so no point ever sees another point's changes.

The most recently used entries are kept up to ``max_bytes`` in all (the newest always, whatever
its size); ``clear()`` empties a cache.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import torch

DEFAULT_MAX_BYTES = 256 * 2**20


class DrawCache:
    """Arrays by key, least recently used dropped first once over ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.kept: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def get(self, key: Hashable, draw: Callable[[], np.ndarray]) -> np.ndarray:
        """The (read-only) array kept under ``key``, drawn by ``draw()`` if it is not kept."""
        if key in self.kept:
            self.kept.move_to_end(key)
        else:
            array = draw()
            array.flags.writeable = False
            self.kept[key] = array
            _drop_oldest(self.kept, self.max_bytes)
        return self.kept[key]

    def clear(self) -> None:
        self.kept.clear()


class _Kept:
    """A kept tensor, its version when kept, and its contiguous transpose once asked for."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor, self.version = tensor, tensor._version
        self.transposed: torch.Tensor | None = None
        self.transposed_version = 0

    def unchanged(self) -> bool:
        return self.tensor._version == self.version and (
            self.transposed is None or self.transposed._version == self.transposed_version
        )

    @property
    def nbytes(self) -> int:
        extra = 0 if self.transposed is None else self.transposed.nbytes
        return self.tensor.nbytes + extra


class TensorCache:
    """Tensors by key, made by ``make()`` when absent or changed since; least recently used
    dropped first once over ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.kept: OrderedDict[Hashable, _Kept] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        entry = self.kept.get(key)
        if entry is None or not entry.unchanged():
            entry = self.kept[key] = _Kept(make())
        self.kept.move_to_end(key)
        _drop_oldest(self.kept, self.max_bytes)
        return entry.tensor

    def transposed(self, x: torch.Tensor) -> torch.Tensor:
        """``x.T.contiguous()`` (x a matrix), made once for a kept tensor (or a view of all of it)
        while both stay unchanged."""
        for entry in self.kept.values():
            if _whole_view(entry.tensor, x) and entry.unchanged():
                if entry.transposed is None:
                    entry.transposed = x.T.contiguous()
                    entry.transposed_version = entry.transposed._version
                    _drop_oldest(self.kept, self.max_bytes)
                return entry.transposed
        return x.T.contiguous()

    def clear(self) -> None:
        self.kept.clear()


def _drop_oldest(kept: OrderedDict, max_bytes: int) -> None:
    """Drops the least recently used entries (each with ``nbytes``) while more than ``max_bytes``
    are kept, the newest always kept."""
    while len(kept) > 1 and sum(entry.nbytes for entry in kept.values()) > max_bytes:
        kept.popitem(last=False)


def _whole_view(kept: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``x`` is ``kept`` or a view of exactly its memory (a full-batch loader's slice)."""
    return (
        kept is x
        or (kept.data_ptr() == x.data_ptr() and kept.shape == x.shape and kept.stride() == x.stride())
    ) and (kept.dtype, kept.device) == (x.dtype, x.device)


#: The planted inputs' tensors, shared by a process's points (``datamodules/planted.py``).
TENSORS = TensorCache()
