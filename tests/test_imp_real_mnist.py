"""IMP on real digits (the shared MNIST test set, ``tests/real_mnist.py``) equals the paper-way
reference (``tests/reference_imp.py``): same masks, batches and metric, bit for bit. Skipped where
the shared files are absent."""

import numpy as np
import pytest

from datamodules.inr_mnist import INRMNISTDataModule
from datamodules.mnist import BinaryMNISTDataModule, MNISTDataModule
from tests.imp_paper_helpers import assert_same_as_paper, project_imp
from tests.real_mnist import real_mnist_root
from tests.reference_imp import paper_imp
from tests.reference_paper import inr_mnist


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> str:
    return str(real_mnist_root(tmp_path_factory.mktemp("real_mnist")))


def reference(dm, m, seed, epochs, targets, **kwargs):
    batches = []
    ref = paper_imp(
        dm.x_train, dm.y_train, m, seed, epochs, targets, batch_size=dm.batch_size,
        eval_data=(dm.x_val, dm.y_val), record=batches, **kwargs,
    )  # fmt: skip
    return ref, batches


@pytest.mark.parametrize("validation", [True, False], ids=["lightning-validation", "limit_val_batches-0"])
def test_the_leads_binary_mnist_point_after_one_round(mnist_dir, validation):
    """m=50, seed 2, 700/150 per class, full batch, 15 epochs, one round: the paper's code
    measures 0.3367 after the first prune (101 of 300 test images; float32 101/300)."""
    dm = BinaryMNISTDataModule(
        seed=2, data_dir=mnist_dir, download=False, train_per_class=700, test_per_class=150
    )
    weights = 784 * 50 + 50
    one_round = weights - round(0.1 * weights)
    model, imp, batches = project_imp(dm, 50, 2, 15, [one_round], limit_val_batches=1.0 if validation else 0)
    ref, ref_batches = reference(dm, 50, 2, 15, [one_round])
    assert_same_as_paper(model, imp, batches, ref, ref_batches)
    # exact: one correctly rounded float32 division of the two counts, as the paper's code does it
    assert imp.results[one_round]["metric"] == float(np.float32(101) / np.float32(300))
    assert round(imp.results[one_round]["metric"], 4) == 0.3367


@pytest.mark.parametrize(
    "per_class, batch_size, target, rounds",
    [  # 7850 weights
        (700, 0, 5800, 3),
        (200, 16, 5800, 3),
        pytest.param(110, 2, 6400, 2, marks=pytest.mark.slow),
    ],
    ids=["full-batch", "25-batches", "110-batches"],
)
def test_binary_mnist_imp_rounds_equal_the_papers_computation(
    mnist_dir, per_class, batch_size, target, rounds
):
    dm = BinaryMNISTDataModule(
        seed=1,
        data_dir=mnist_dir,
        download=False,
        batch_size=batch_size,
        train_per_class=per_class,
        test_per_class=50,
    )
    model, imp, batches = project_imp(dm, 10, 1, 2, [target])
    ref, ref_batches = reference(dm, 10, 1, 2, [target])
    assert len(imp.history) == rounds
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


def test_ten_class_mnist_crossentropy_imp_equals_the_papers_computation(mnist_dir):
    dm = MNISTDataModule(
        seed=0, data_dir=mnist_dir, download=False, batch_size=32, train_per_class=30, test_per_class=10
    )
    model, imp, batches = project_imp(dm, 10, 0, 2, [1000], loss="crossentropy", prune_iters=0.5)
    ref, ref_batches = reference(dm, 10, 0, 2, [1000], crossentropy=True, prune_iters=0.5)
    assert len(imp.history) == 3
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


@pytest.mark.parametrize("batch_size", [0, 100])
def test_inr_mnist_imp_equals_the_papers_computation(mnist_dir, batch_size):
    """The paper's INR training loader shuffles even in full batch; PSNR on the unshuffled one."""
    dm = INRMNISTDataModule(
        seed=1,
        data_dir=mnist_dir,
        download=False,
        batch_size=batch_size,
        train_per_class=700,
        test_per_class=150,
    )
    target = 8800  # 12008 weights: three rounds
    model, imp, batches = project_imp(dm, 8, 1, 2, [target])
    ref, ref_batches = reference(dm, 8, 1, 2, [target], shuffle_full_batch=True, max_label=1.0)
    assert len(imp.history) == 3
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


def test_inr_mnist_imp_metric_equals_the_papers_run_on_independently_read_data(mnist_dir):
    """The image and its Fourier features read and computed by tests/reference_paper.py (not the
    project's datamodule): the PSNR at the target agrees to 1e-6 dB."""
    per_class, seed, target = 20, 0, 8800
    dm = INRMNISTDataModule(
        seed=seed, data_dir=mnist_dir, download=False, train_per_class=per_class,
        test_per_class=per_class, image_index=per_class,
    )  # fmt: skip
    _, imp, _ = project_imp(dm, 8, seed, 2, [target], record_batches=False)
    x, y = inr_mnist(mnist_dir, seed, per_class, per_class, per_class)
    x, y = x.float(), y.float()  # the paper's loader's float32 features and targets
    ref = paper_imp(x, y, 8, seed, 2, [target], shuffle_full_batch=True, eval_data=(x, y), max_label=1.0)
    assert abs(imp.results[target]["metric"] - ref["results"][target]) < 1e-6
