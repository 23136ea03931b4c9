"""AIHT on real digits (the shared MNIST test set, ``tests/real_mnist.py``) equals runs written the
paper's way (``tests/reference_paper.py``): 10-class MNIST with cross-entropy and minibatches,
prediction for prediction, and INR MNIST on one image, PSNR to 1e-6 dB. Skipped where the shared
files are absent."""

import pytest
import torch
from pytorch_lightning import Trainer

from callbacks.aiht import AIHT
from datamodules.inr_mnist import INRMNISTDataModule
from datamodules.mnist import MNISTDataModule
from tests.helpers import QUIET, gated_model
from tests.real_mnist import real_mnist_root
from tests.reference_paper import (
    inr_mnist,
    paper_scalar_aiht,
    paper_vector_aiht,
    psnr,
    relu_mlp_output,
    ten_class_mnist,
)

# 10-class: 30 training images per digit in batches of 50 (6 per epoch), 10 test images per digit
# (100, a multiple of the batch, as the paper's per-batch evaluation needs).
TRAIN, TEST, BATCH, M, S, SEED, EPOCHS = 30, 10, 50, 20, 500, 1, 4


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> str:
    return str(real_mnist_root(tmp_path_factory.mktemp("real_mnist")))


def project_ten_class(mnist_dir: str, start_rows: str):
    dm = MNISTDataModule(
        seed=SEED, data_dir=mnist_dir, download=False, batch_size=BATCH,
        train_per_class=TRAIN, test_per_class=TEST,
    )  # fmt: skip
    model = gated_model(width=M, input_dim=784, output_dim=10, seed=SEED, loss="crossentropy")
    trainer = Trainer(
        callbacks=[AIHT(sparsity=S, start_rows=start_rows)], max_epochs=EPOCHS, precision="64-true", **QUIET
    )
    trainer.fit(model, datamodule=dm)
    with torch.no_grad():
        predictions = model.net(dm.x_val).argmax(1)
    return model, predictions, float(trainer.callback_metrics["val/accuracy"])


@pytest.fixture(scope="module")
def ten_class_runs(mnist_dir) -> dict:
    """The project's runs under each start rule (each takes a few seconds)."""
    return {rule: project_ten_class(mnist_dir, rule) for rule in ("max_zero", "all_zero")}


@pytest.mark.parametrize("start_rows", ["max_zero", "all_zero"])
def test_ten_class_mnist_aiht_predicts_as_the_papers_run(mnist_dir, ten_class_runs, start_rows):
    model, ours, accuracy = ten_class_runs[start_rows]
    x, y, x_test, y_test = ten_class_mnist(mnist_dir, TRAIN, TEST)
    w1, w2 = paper_vector_aiht(x, y, M, S, SEED, EPOCHS, BATCH, start_rows=start_rows)
    torch.testing.assert_close(model.net.dense_weight().detach(), w1, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(model.net.dense_output_weight().detach(), w2, rtol=1e-9, atol=1e-12)
    theirs = relu_mlp_output(x_test, w1, w2).argmax(1)
    assert torch.equal(ours, theirs)  # prediction for prediction, all 100 test images
    correct = int((theirs == y_test.argmax(1)).sum())
    assert accuracy == pytest.approx(correct / len(theirs), abs=1e-7)  # logged as a float32
    assert 0 < correct < len(theirs)


def test_on_real_digits_the_start_rules_predict_differently(ten_class_runs):
    """The paper's test restarts units holding negative weights and zeros: another network."""
    assert not torch.equal(ten_class_runs["max_zero"][1], ten_class_runs["all_zero"][1])


@pytest.mark.parametrize("seed", [0, 1])
def test_inr_mnist_aiht_equals_the_papers_run(mnist_dir, seed):
    """One image (the first test image of digit 1), full batch, 12 updates, m=4, s=40."""
    m, s, epochs, per_class = 4, 40, 12, 20
    dm = INRMNISTDataModule(
        seed=seed, data_dir=mnist_dir, download=False, train_per_class=per_class,
        test_per_class=per_class, image_index=per_class,
    )  # fmt: skip
    model = gated_model(width=m, input_dim=1500, seed=seed)
    trainer = Trainer(callbacks=[AIHT(sparsity=s)], max_epochs=epochs, precision="64-true", **QUIET)
    trainer.fit(model, datamodule=dm)
    x, y = inr_mnist(mnist_dir, seed, per_class, per_class, per_class)
    w = paper_scalar_aiht(x, y, m, s, seed, epochs)
    torch.testing.assert_close(model.net.dense_weight().detach(), w, rtol=1e-9, atol=1e-12)
    expected = psnr(torch.relu(x @ w.T).sum(1), y)
    assert abs(float(trainer.callback_metrics["val/psnr"]) - expected) < 1e-6
    assert 5 < expected < 60  # a fit, not a degenerate run
