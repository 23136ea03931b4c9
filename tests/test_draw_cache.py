"""Planted inputs drawn once per process (``datamodules/draw_cache.py``): every point gets the
planted task's X for its seed, n and d, whichever points ran before it and whatever they did to
their tensors."""

import numpy as np
import pytest
import torch

from datamodules import planted
from datamodules.draw_cache import TENSORS, DrawCache, TensorCache
from datamodules.planted import PlantedMLPDataModule, planted_inputs
from tests.reference import spec_planted


def test_points_after_the_first_get_the_same_inputs_as_a_fresh_draw():
    planted.INPUTS.clear()
    n, d = 40, 5
    for m, s, seed in [(3, 4, 1), (6, 9, 1), (3, 4, 2), (6, 2, 1)]:
        _, x, _ = spec_planted(m, s, seed, n, d)
        dm = PlantedMLPDataModule(width=m, sparsity=s, seed=seed, nmeasurements=n, input_dim=d)
        dm.setup("fit")
        assert np.array_equal(dm.x.numpy(), x.astype(np.float64))
    assert sorted(planted.INPUTS.kept) == [(n, d, 1, "float64"), (n, d, 2, "float64")]


def test_the_kept_inputs_are_read_only_and_the_same_in_both_dtypes():
    planted.INPUTS.clear()
    single, double = planted_inputs(20, 3, 0), planted_inputs(20, 3, 0, np.float64)
    _, x, _ = spec_planted(1, 1, 0, 20, 3)
    assert single.dtype == np.float32 and np.array_equal(single, x)
    assert double.dtype == np.float64 and np.array_equal(double, x.astype(np.float64))
    with pytest.raises(ValueError, match="read-only"):
        single[0, 0] = 1.0
    assert planted_inputs(20, 3, 0) is single  # drawn once


def test_a_points_tensors_do_not_share_the_kept_inputs():
    planted.INPUTS.clear()
    dm = PlantedMLPDataModule(width=2, sparsity=2, seed=0, nmeasurements=20, input_dim=3)
    dm.setup("fit")
    dm.x.zero_()
    _, x, _ = spec_planted(2, 2, 0, 20, 3)
    assert np.array_equal(planted_inputs(20, 3, 0, np.float64), x.astype(np.float64))


def test_draws_once_and_drops_the_least_recently_used_over_its_budget():
    calls = []

    def draw(value: float):
        def drawn() -> np.ndarray:
            calls.append(value)
            return np.full(10, value)  # 80 bytes

        return drawn

    cache = DrawCache(max_bytes=200)
    for key in ["a", "b", "a", "c", "a", "b"]:
        assert cache.get(key, draw({"a": 1.0, "b": 2.0, "c": 3.0}[key]))[0] == {"a": 1, "b": 2, "c": 3}[key]
    # "a" "b" drawn; "a" kept; "c" pushes out "b" (least recently used); "a" kept; "b" again, dropping "c"
    assert calls == [1.0, 2.0, 3.0, 2.0] and list(cache.kept) == ["a", "b"]
    small = DrawCache(max_bytes=8)
    small.get("x", draw(5.0))
    assert list(small.kept) == ["x"]  # the newest is kept whatever its size


def test_points_share_one_tensor_and_a_change_in_place_is_never_passed_on():
    planted.INPUTS.clear()
    TENSORS.clear()
    _, x, _ = spec_planted(2, 2, 0, 20, 3)

    def point() -> torch.Tensor:
        dm = PlantedMLPDataModule(width=2, sparsity=2, seed=0, nmeasurements=20, input_dim=3)
        dm.setup("fit")
        return dm.x

    first = point()
    assert point() is first  # made once
    first.mul_(2.0)  # a point that changes its inputs in place
    again = point()
    assert again is not first and np.array_equal(again.numpy(), x.astype(np.float64))


def test_the_transpose_is_made_once_per_unchanged_tensor():
    cache = TensorCache()
    kept = cache.get("x", lambda: torch.arange(12.0).reshape(4, 3))
    view = kept[0:4]  # a full-batch loader's slice
    transposed = cache.transposed(view)
    assert torch.equal(transposed, kept.T) and transposed.is_contiguous()
    assert cache.transposed(kept) is transposed
    assert cache.transposed(kept[0:2]) is not transposed
    transposed.zero_()  # changed by someone: made again, from the tensor
    assert torch.equal(cache.transposed(kept), kept.T)
    other = torch.arange(12.0).reshape(4, 3)  # equal values, other memory: not kept
    assert cache.transposed(other) is not cache.transposed(kept)
