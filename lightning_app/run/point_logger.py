"""The TensorBoard logger of a grid point's folder: Lightning's, writing the same events, except that

- it never writes ``hparams.yaml``: a point's settings and metric are in its ``result.json`` and, as
  hparams, in its events file (``lightning_app/run/hparams.py``, read back by ``cli.py heatmap``);
  the trainer's logger has none of its own, so Lightning's would leave an ``hparams.yaml`` holding
  ``{}``;
- it flushes the events to disk at most every ``FLUSH_EVERY_S`` seconds instead of after every
  logged step (a flush waits for the writer's thread, which costs more than a small network's
  step, most when the cores are shared). Everything is flushed when the run ends, as before; a
  run cut short reruns its point anyway.
"""

import math
import time

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only

FLUSH_EVERY_S = 5.0


class PointLogger(TensorBoardLogger):
    """``TensorBoardLogger(save_dir=folder, name="", version="", default_hp_metric=False)`` without
    ``hparams.yaml``, whose ``save()`` (Lightning calls it after every log) flushes at most every
    ``FLUSH_EVERY_S`` seconds; ``finalize`` always does."""

    def __init__(self, folder: str) -> None:
        super().__init__(save_dir=folder, name="", version="", default_hp_metric=False)
        self._saved_at = -math.inf

    @rank_zero_only
    def save(self) -> None:
        now = time.monotonic()
        if now - self._saved_at >= FLUSH_EVERY_S:
            self._saved_at = now
            super(TensorBoardLogger, self).save()  # the events only: skips TensorBoardLogger's YAML

    def finalize(self, status: str) -> None:
        self._saved_at = -math.inf  # the final save flushes whatever is pending
        super().finalize(status)
