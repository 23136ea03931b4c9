"""The TensorBoard logger of a grid point's folder: Lightning's, except that it never writes
``hparams.yaml``. A point's settings and metric are in its ``result.json`` and, as hparams, in its
events file (``lightning_app/run/hparams.py``, read back by ``cli.py heatmap``); the trainer's
logger has none of its own, so Lightning's would leave an ``hparams.yaml`` holding ``{}``."""

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only


class PointLogger(TensorBoardLogger):
    """``TensorBoardLogger(save_dir=folder, name="", version="", default_hp_metric=False)``
    without ``hparams.yaml``."""

    def __init__(self, folder: str) -> None:
        super().__init__(save_dir=folder, name="", version="", default_hp_metric=False)

    @rank_zero_only
    def save(self) -> None:
        super(TensorBoardLogger, self).save()  # the events only: skips TensorBoardLogger's YAML
