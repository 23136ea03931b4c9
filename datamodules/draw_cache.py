"""Draws kept for the points that follow in the same process: a sweep's points with the same seed
draw the same planted inputs X (they depend on the seed, n and d alone), so a worker
draws each X once and hands every point its own copy.

The most recently used draws are kept up to ``max_bytes`` in all (the newest always, whatever its
size); ``clear()`` empties the cache.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

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
            while len(self.kept) > 1 and sum(a.nbytes for a in self.kept.values()) > self.max_bytes:
                self.kept.popitem(last=False)
        return self.kept[key]

    def clear(self) -> None:
        self.kept.clear()
