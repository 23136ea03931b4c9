"""The random draws of the gates and the tasks (docs/algorithms.md) are numpy's legacy generator's, number
for number."""

import numpy as np
import pytest
import torch

from datamodules.planted import PlantedMLPDataModule
from datamodules.task import SkipPoint
from modules.gates import random_gates
from tests.reference import spec_gates, spec_planted


@pytest.mark.parametrize("seed", [0, 3])
def test_gates_are_numpy_legacy_draws(seed):
    m, d = 7, 5
    expected = spec_gates(m, d, seed)
    assert np.array_equal(random_gates(m, d, seed), expected)
    assert np.array_equal(random_gates(m, d, seed, units=range(2, 5)), expected[2:5])


def test_first_gate_pinned():
    # np.random.seed(0); np.random.normal(size=3) = 1.764052345967664, 0.4001572083672233, 0.9787379841057392
    assert np.allclose(random_gates(1, 3, 0)[0], [1.764052345967664, 0.4001572083672233, 0.9787379841057392])


@pytest.mark.parametrize("seed", [0, 2])
def test_planted_weights_inputs_and_labels(seed):
    m, s, n, d = 6, 9, 50, 4
    w, x, y = spec_planted(m, s, seed, n, d)
    dm = PlantedMLPDataModule(width=m, sparsity=s, seed=seed, nmeasurements=n, input_dim=d)
    dm.setup("fit")
    assert np.array_equal(dm.planted_weights[0].toarray(), w)
    assert int((dm.planted_weights[0].values != 0).sum()) == s
    assert np.array_equal(dm.x.numpy(), x.astype(np.float64))
    # the labels are computed, not drawn: the datamodule sums over the units with nonzeros, the
    # reference over the dense matrix, so their float64 sums may round apart before the float32 cast
    np.testing.assert_allclose(dm.y.numpy(), y.astype(np.float64), rtol=1e-6, atol=1e-12)
    assert dm.max_label == pytest.approx(float(np.abs(y).max()), rel=1e-6)


def test_bias_appends_a_constant_feature():
    dm = PlantedMLPDataModule(width=3, sparsity=3, nmeasurements=10, input_dim=4, bias=True)
    dm.setup("fit")
    assert dm.num_features == 5
    assert torch.equal(dm.x[:, -1], torch.ones(10, dtype=dm.x.dtype))


def test_full_batch_and_minibatches():
    dm = PlantedMLPDataModule(width=3, sparsity=3, nmeasurements=50, input_dim=4, batch_size=16)
    dm.setup("fit")
    sizes = [len(xb) for xb, _ in dm.train_dataloader()]
    assert sizes == [16, 16, 16, 2]
    full = PlantedMLPDataModule(width=3, sparsity=3, nmeasurements=50, input_dim=4)
    full.setup("fit")
    ((x, y),) = list(full.train_dataloader())
    assert torch.equal(x, full.x)


def test_all_zero_labels_skip():
    # one example, one weight: the label relu(x*w) is zero when x*w <= 0
    seed = next(q for q in range(50) if spec_planted(1, 1, q, 1, 1)[2][0] == 0)
    dm = PlantedMLPDataModule(width=1, sparsity=1, seed=seed, nmeasurements=1, input_dim=1)
    with pytest.raises(SkipPoint):
        dm.setup("fit")


@pytest.mark.parametrize("key", ["width", "sparsity", "nmeasurements", "input_dim"])
def test_bad_sizes_name_the_setting(key):
    with pytest.raises(ValueError, match=f"data.{key}"):
        PlantedMLPDataModule(**{key: 0})


def test_negative_batch_size_names_the_setting():
    with pytest.raises(ValueError, match="data.batch_size"):
        PlantedMLPDataModule(batch_size=-1)
