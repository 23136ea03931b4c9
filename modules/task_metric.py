"""The task's metric (SPEC §6) on torchmetrics: PSNR, or accuracy of 0.5-thresholded or argmax outputs."""

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy
from torchmetrics.image import PeakSignalNoiseRatio

METRICS = ("psnr", "accuracy")


class TaskMetric(nn.Module):
    """``psnr`` = 20·log10(max_label) − 10·log10(MSE) over all examples and outputs;
    ``accuracy`` = share of outputs ≥ 0.5 equal to the 0/1 label (scalar output), or of argmax
    outputs equal to the one-hot label's argmax (vector output)."""

    def __init__(self, name: str, output_dim: int = 1, max_label: float = 1.0) -> None:
        super().__init__()
        if name not in METRICS:
            raise ValueError(f"the datamodule's metric_name must be one of {METRICS}, got {name!r}")
        self.name, self.output_dim = name, output_dim
        self.metric: Metric
        if name == "psnr":
            self.metric = PeakSignalNoiseRatio(data_range=max_label).set_dtype(torch.float64)
        elif output_dim == 1:
            self.metric = BinaryAccuracy()
        else:
            self.metric = MulticlassAccuracy(num_classes=output_dim, average="micro")

    def update(self, pred: Tensor, target: Tensor) -> None:
        if self.name == "accuracy" and self.output_dim == 1:
            pred, target = (pred >= 0.5).long(), target.round().long()
        elif self.name == "accuracy":
            target = target.argmax(-1)
        self.metric.update(pred, target)

    def compute(self) -> Tensor:
        return self.metric.compute()

    def reset(self) -> None:
        self.metric.reset()
