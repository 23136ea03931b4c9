"""A point's TensorBoard logger: Lightning's, writing the same events, but flushing them to disk at
most every ``FLUSH_EVERY_S`` seconds instead of after every logged step (a flush waits for the
writer's thread, which costs more than a small network's step, most when the cores are shared).
Everything is flushed when the run ends, as before; a run cut short reruns its point anyway."""

import math
import time

from pytorch_lightning.loggers import TensorBoardLogger

FLUSH_EVERY_S = 5.0


class PointLogger(TensorBoardLogger):
    """``TensorBoardLogger`` whose ``save()`` (Lightning calls it after every log) flushes at most
    every ``FLUSH_EVERY_S`` seconds; ``finalize`` always does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._saved_at = -math.inf

    def save(self) -> None:
        now = time.monotonic()
        if now - self._saved_at >= FLUSH_EVERY_S:
            self._saved_at = now
            super().save()

    def finalize(self, status: str) -> None:
        self._saved_at = -math.inf  # the final save flushes whatever is pending
        super().finalize(status)
