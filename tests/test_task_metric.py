"""The task metrics against hand-computed values (docs/algorithms.md: the tasks)."""

import math

import pytest
import torch

from modules.task_metric import TaskMetric


def test_binary_accuracy_thresholds_raw_outputs_at_one_half():
    metric = TaskMetric("accuracy", output_dim=1)
    metric.update(torch.tensor([0.2, 0.7, 0.5, -3.0, 2.0]), torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]))
    metric.update(torch.tensor([0.49]), torch.tensor([1.0]))
    assert float(metric.compute()) == pytest.approx(4 / 6)


def test_ten_class_accuracy_is_argmax_against_one_hot():
    metric = TaskMetric("accuracy", output_dim=10)
    pred = torch.zeros(4, 10)
    pred[0, 3] = pred[1, 7] = pred[2, 1] = pred[3, 0] = 1.0
    target = torch.nn.functional.one_hot(torch.tensor([3, 7, 2, 9]), 10).double()
    metric.update(pred, target)
    assert float(metric.compute()) == pytest.approx(0.5)


def test_psnr_over_all_examples_and_outputs():
    metric = TaskMetric("psnr", output_dim=2, max_label=4.0)
    pred = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0], [1.0, 4.0]], dtype=torch.float64)
    mse = (0 + 4 + 1 + 16) / 4
    metric.update(pred, target)
    assert float(metric.compute()) == pytest.approx(20 * math.log10(4.0) - 10 * math.log10(mse))


def test_unknown_metric_names_the_setting():
    with pytest.raises(ValueError, match="metric_name"):
        TaskMetric("f1")


def test_psnr_is_float64_throughout():
    metric = TaskMetric("psnr", max_label=3.0)
    pred = torch.tensor([0.1, 2.9, -1.3, 0.7], dtype=torch.float64)
    target = torch.tensor([0.0, 3.0, -1.0, 0.75], dtype=torch.float64)
    metric.update(pred[:3], target[:3])
    metric.update(pred[3:], target[3:])
    mse = sum((p - t) ** 2 for p, t in zip(pred.tolist(), target.tolist(), strict=True)) / 4
    assert float(metric.compute()) == pytest.approx(20 * math.log10(3.0) - 10 * math.log10(mse), rel=1e-14)
