"""Planted inputs drawn once per process (``datamodules/draw_cache.py``): every point gets the X of
SPEC §6 for its seed, as its own array, whichever points ran before it."""

import numpy as np

from datamodules import planted
from datamodules.draw_cache import DrawCache
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
    assert sorted(planted.INPUTS.kept) == [(n, d, 1), (n, d, 2)]


def test_each_caller_gets_its_own_copy():
    planted.INPUTS.clear()
    first = planted_inputs(20, 3, 0)
    first[:] = 0
    again = planted_inputs(20, 3, 0)
    _, x, _ = spec_planted(1, 1, 0, 20, 3)
    assert np.array_equal(again, x) and again.flags.writeable


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
