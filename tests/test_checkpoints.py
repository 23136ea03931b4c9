"""A point's checkpoints (``sweep.checkpoint_every_s``): none for a point shorter than the
interval, one per epoch with 0 as before, the same results and identity either way, a resumed fit
from a timed checkpoint equal to a whole one, and a clear error for a negative interval."""

import json

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_app.run.checkpoints import TimedCheckpoint, point_checkpoints
from tests.helpers import tiny_run
from tests.test_cli import fit

POINT = "mlp_planted/aiht/hidden1/m2_s3_seed0"


def test_short_points_write_no_checkpoint_and_the_same_results(tmp_path):
    every_epoch = fit(tmp_path / "every", "--sweep.checkpoint_every_s=0", mlist=("2",), slist=("3",))
    timed = fit(tmp_path / "timed", mlist=("2",), slist=("3",))  # the default interval: 60 s
    saved = sorted(p.name for p in (every_epoch / POINT / "checkpoints").iterdir())
    assert saved == ["epoch=2-step=3.ckpt"]  # Lightning's default: the last epoch's, kept alone
    assert not (timed / POINT / "checkpoints").exists()
    a, b = (json.loads((root / POINT / "result.json").read_text()) for root in (every_epoch, timed))
    for result in (a, b):  # timings, and the export's checksum: the export records fit_s too
        for key in ("wall_s", "fit_s", "export_bytes", "export_sha256"):
            result.pop(key)
    assert a == b  # identity included: the interval is not a setting of what a point computes


def test_a_negative_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sweep.checkpoint_every_s must be 0"):
        fit(tmp_path, "--sweep.checkpoint_every_s=-1", mlist=("2",), slist=("3",))


def test_the_configs_own_checkpoint_or_none_is_kept():
    assert point_checkpoints({"enable_checkpointing": False}, [], 60.0) == []
    assert point_checkpoints({}, [ModelCheckpoint()], 60.0) == []
    (every_epoch,) = point_checkpoints({}, [], 0.0)  # Lightning's default, never versioned
    assert type(every_epoch) is ModelCheckpoint and every_epoch._enable_version_counter is False
    (added,) = point_checkpoints({}, [], 60.0)
    assert isinstance(added, TimedCheckpoint) and added.every_s == 60.0
    assert added._enable_version_counter is False


def test_a_resumed_fit_from_a_timed_checkpoint_ends_as_a_whole_one(tmp_path):
    due = TimedCheckpoint(0.0, dirpath=tmp_path, filename="{epoch}", save_top_k=-1)  # as a long point's
    _, whole, *_ = tiny_run(epochs=4, callbacks=[due], enable_checkpointing=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"epoch={e}.ckpt" for e in range(4)]
    again = TimedCheckpoint(3600.0, dirpath=tmp_path, save_top_k=0)  # its state restored, saving nothing
    middle = tmp_path / "epoch=1.ckpt"
    _, resumed, *_ = tiny_run(epochs=4, ckpt_path=middle, callbacks=[again], enable_checkpointing=True)
    assert torch.equal(resumed.weight, whole.weight) and torch.equal(resumed.gates, whole.gates)


def test_a_timed_checkpoint_waits_for_its_interval(tmp_path):
    waiting = TimedCheckpoint(3600.0, dirpath=tmp_path)
    tiny_run(epochs=3, callbacks=[waiting], enable_checkpointing=True)
    assert list(tmp_path.iterdir()) == []
