"""The real-data tasks run through the command line on tiny MNIST files: the INR task, binary and
ten-class accuracy with either method."""

import json
import math

import pytest

from tests.helpers import run_fit
from tests.real_data_files import TEST_PER_CLASS, TRAIN_PER_CLASS, mnist_folder


@pytest.fixture
def mnist(tmp_path):
    return mnist_folder(tmp_path)


def test_inr_mnist_runs_through_the_cli(mnist):
    root, _, _ = mnist
    out = root / "runs"
    run_fit(
        [
            "fit",
            "--data=datamodules.inr_mnist.INRMNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            f"--data.image_index={TEST_PER_CLASS}",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            "--sweep.mlist=2",
            "--sweep.slist=6",
        ]
    )
    result = json.loads((out / "inr_mnist/aiht/hidden1/m2_s6_seed0/result.json").read_text())
    assert result["status"] == "done", result.get("error")
    assert result["metric_name"] == "psnr" and math.isfinite(result["metric"]) and result["nnz"] == 6


@pytest.mark.parametrize("method", ["aiht", "imp"])
def test_binary_mnist_accuracy_through_the_cli(mnist, method):
    root, _, _ = mnist
    out = root / "runs"
    run_fit(
        [
            "fit",
            "--data=datamodules.mnist.BinaryMNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            f"--sweep.method={method}",
            "--sweep.mlist=2",
            "--sweep.slist",
            "6",
            "50",
        ]
    )
    for s in (6, 50):
        result = json.loads((out / f"binary_mnist/{method}/hidden1/m2_s{s}_seed0/result.json").read_text())
        assert result["status"] == "done", result.get("error")
        assert result["metric_name"] == "accuracy" and result["nnz"] <= s
        # 2 test images per digit: the accuracy is a multiple of 1/4
        assert result["metric"] * 2 * TEST_PER_CLASS == pytest.approx(
            round(result["metric"] * 2 * TEST_PER_CLASS)
        )
    if method == "imp":
        assert (out / "binary_mnist/imp/hidden1/m2_seed0_trajectory").is_dir()


@pytest.mark.parametrize("method", ["aiht", "imp"])
def test_ten_class_mnist_with_cross_entropy_through_the_cli(mnist, method):
    root, _, _ = mnist
    out = root / "runs10"
    run_fit(
        [
            "fit",
            "--data=datamodules.mnist.MNISTDataModule",
            f"--data.data_dir={root}",
            "--data.download=false",
            f"--data.train_per_class={TRAIN_PER_CLASS}",
            f"--data.test_per_class={TEST_PER_CLASS}",
            "--model.loss=crossentropy",
            "--trainer.max_epochs=2",
            f"--trainer.default_root_dir={out}",
            "--trainer.enable_progress_bar=false",
            f"--sweep.method={method}",
            "--sweep.mlist=3",
            "--sweep.slist=40",
        ]
    )
    result = json.loads((out / f"mnist/{method}/hidden1/m3_s40_seed0/result.json").read_text())
    assert result["status"] == "done", result.get("error")
    assert result["metric_name"] == "accuracy" and 0 < result["nnz"] <= 40
    # 2 test images per digit, 20 in all: the accuracy is a multiple of 1/20
    assert result["metric"] * 20 == pytest.approx(round(result["metric"] * 20))
