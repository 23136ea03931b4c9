"""A point's logger (``lightning_app/run/point_logger.py``) writes the same TensorBoard events as
Lightning's own, flushing them less often, and no ``hparams.yaml``."""

from lightning_fabric.loggers.tensorboard import TensorBoardLogger as FabricTensorBoardLogger
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_app.run import point_logger
from lightning_app.run.point_logger import PointLogger
from tests.helpers import tiny_run


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_the_same_events_as_lightnings_logger(tmp_path, monkeypatch):
    monkeypatch.setattr(point_logger, "FLUSH_EVERY_S", 3600.0)  # nothing flushed before the end
    flushes = []
    monkeypatch.setattr(FabricTensorBoardLogger, "save", lambda self: flushes.append(1))  # the flush
    runs = {}
    for name in ("lightning", "point"):
        folder = str(tmp_path / name)
        if name == "point":
            logger = PointLogger(folder)
        else:
            logger = TensorBoardLogger(save_dir=folder, name="", version="", default_hp_metric=False)
        tiny_run(epochs=4, logger=logger, log_every_n_steps=1)
        logger.finalize("success")
        runs[name] = (len(flushes), scalars(tmp_path / name))
        flushes.clear()
    (lightning_flushes, expected), (point_flushes, got) = runs["lightning"], runs["point"]
    assert {"train/nnz", "train/mse_before_update", "val/psnr"} <= set(expected)
    assert len(expected["train/nnz"]) == 4
    assert got == expected
    assert lightning_flushes > 4 and point_flushes == 3  # the first log, and each finalize's
    assert (tmp_path / "lightning" / "hparams.yaml").exists()
    assert not (tmp_path / "point" / "hparams.yaml").exists()
