"""Recovery metrics on the nonzero units only equal the m × m assignment of every unit."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from callbacks.recovery import recovery_metrics, unit_rows
from datamodules.planted import PlantedMLPDataModule
from tests.reference import spec_planted


def dense_recovery(learned: np.ndarray, planted: np.ndarray) -> dict[str, float]:
    """The m × m computation: every unit of both networks in one assignment."""
    cost = ((learned[:, None, :] - planted[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    matched = np.zeros_like(planted)
    matched[rows] = planted[cols]
    hits = ((learned != 0) & (matched != 0)).sum()
    return {
        "rel_weight_error": np.linalg.norm(learned - matched) / np.linalg.norm(planted),
        "support_precision": hits / (learned != 0).sum() if (learned != 0).any() else 0.0,
        "support_recall": hits / (matched != 0).sum(),
    }


def sparse_units(gen: np.random.Generator, m: int, d: int, nnz: int, near: np.ndarray | None) -> np.ndarray:
    """An m × d matrix with ``nnz`` nonzeros; with ``near``, some rows are noisy copies of its rows."""
    w = np.zeros(m * d)
    w[gen.choice(m * d, nnz, replace=False)] = gen.normal(size=nnz)
    w = w.reshape(m, d)
    if near is not None:
        for j in gen.choice(m, m // 3, replace=False):
            w[j] = np.where(near[(j + 1) % m] != 0, near[(j + 1) % m] + 0.1 * gen.normal(size=d), 0)
    return w


def nonzero_rows(w: np.ndarray) -> np.ndarray:
    units, feats = w.nonzero()
    return unit_rows(units, feats, w[units, feats], w.shape[1])


@pytest.mark.parametrize("case", range(40))
def test_nonzero_units_give_the_m_by_m_numbers(case):
    gen = np.random.default_rng(case)
    m, d = int(gen.integers(1, 12)), int(gen.integers(1, 5))
    planted = sparse_units(gen, m, d, int(gen.integers(1, m * d + 1)), None)
    learned = sparse_units(gen, m, d, int(gen.integers(0, m * d + 1)), planted if case % 2 else None)
    ours = recovery_metrics(nonzero_rows(learned), nonzero_rows(planted), m)
    expected = dense_recovery(learned, planted)
    assert ours["rel_weight_error"] == pytest.approx(expected["rel_weight_error"], rel=1e-12, abs=1e-12)
    # exact: precision and recall are each one division of the same two counts
    assert ours["support_precision"] == expected["support_precision"]
    assert ours["support_recall"] == expected["support_recall"]


def test_wide_network_few_units_and_an_all_zero_fit():
    gen = np.random.default_rng(7)
    m, d = 60, 3  # m > s: most units of both networks are zero
    planted = sparse_units(gen, m, d, 5, None)
    learned = sparse_units(gen, m, d, 6, planted)
    for fit in (learned, np.zeros_like(learned)):
        ours = recovery_metrics(nonzero_rows(fit), nonzero_rows(planted), m)
        expected = dense_recovery(fit, planted)
        assert ours["rel_weight_error"] == pytest.approx(expected["rel_weight_error"], rel=1e-12)
        # exact: precision and recall are each one division of the same two counts
        assert ours["support_precision"] == expected["support_precision"]
        assert ours["support_recall"] == expected["support_recall"]
    empty = recovery_metrics(nonzero_rows(np.zeros_like(learned)), nonzero_rows(planted), m)
    # ‖0 − w*‖ / ‖w*‖: both norms sum the same squares, but over differently arranged arrays (the
    # matched rows padded and permuted), so in another order: equal only to rounding, not bitwise
    assert empty["rel_weight_error"] == pytest.approx(1.0, rel=1e-12)


def test_unit_rows_drop_zero_entries_and_sort_units():
    rows = unit_rows(np.array([4, 1, 4, 2]), np.array([0, 1, 2, 0]), np.array([1.0, 2.0, 3.0, 0.0]), 3)
    assert rows.tolist() == [[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]


@pytest.mark.parametrize("num_layers, output_dim", [(1, 1), (2, 1), (2, 3)])
def test_planted_layers_held_sparse_give_the_dense_labels(num_layers, output_dim):
    """The datamodule computes labels from the nonzeros only; the dense network gives the same."""
    m, s, n, d = 7, 12, 40, 5
    dm = PlantedMLPDataModule(
        width=m, sparsity=s, nmeasurements=n, input_dim=d, num_layers=num_layers, output_dim=output_dim
    )
    dm.setup("fit")
    h = dm.x.numpy().astype(np.float32).astype(np.float64)
    layers = [w.toarray() for w in dm.planted_weights]
    for i, w in enumerate(layers):
        h = h @ w
        if i < len(layers) - 1 or output_dim == 1:
            h = np.maximum(h, 0)
    expected = (h.sum(-1) if output_dim == 1 else h).astype(np.float32)
    # float32 labels from float64 sums taken in another arrangement (dense with zeros here, the
    # units with nonzeros there; BLAS and numpy choose the order): one float32 rounding apart at most
    np.testing.assert_allclose(dm.y.numpy(), expected.astype(np.float64), rtol=1e-6, atol=1e-12)
    if num_layers == 1:
        w, _, _ = spec_planted(m, s, 0, n, d)
        assert np.array_equal(layers[0], w)


def test_callback_compares_the_fit_with_the_planted_layer():
    from callbacks.recovery import PlantedRecovery
    from tests.helpers import tiny_run

    recovery = PlantedRecovery()
    _, model, dm, _, _ = tiny_run(m=9, s=6, d=4, n=64, epochs=4, callbacks=[recovery])
    expected = dense_recovery(model.weight.detach().numpy(), dm.planted_weights[0].toarray().T)
    assert recovery.metrics["rel_weight_error"] == pytest.approx(expected["rel_weight_error"], rel=1e-12)
    # exact: precision and recall are each one division of the same two counts
    assert recovery.metrics["support_precision"] == expected["support_precision"]
    assert recovery.metrics["support_recall"] == expected["support_recall"]
