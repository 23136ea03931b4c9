"""The task's metric (docs/algorithms.md: the tasks) on torchmetrics: PSNR, accuracy of 0.5-thresholded or
argmax outputs, or the relative error of a recovered signal (with its support error alongside)."""

import math

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy

METRICS = ("psnr", "accuracy", "rel_error")


class PSNR(Metric):
    """20·log10(max_label) − 10·log10(MSE) over every entry seen, all in float64 (torchmetrics'
    PeakSignalNoiseRatio takes log(10) in float32: about 1e-6 dB off at 30 dB)."""

    higher_is_better = True

    def __init__(self, max_label: float) -> None:
        super().__init__()
        self.max_label = float(max_label)
        self.add_state("error_sq", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        self.error_sq += (pred.double() - target.double()).square().sum()
        self.count += target.numel()

    def compute(self) -> Tensor:
        mse = self.error_sq / self.count
        return 20 * math.log10(self.max_label) - 10 * torch.log10(mse)


class RelativeError(Metric):
    """‖x̂ − x*‖ / ‖x*‖ over every entry seen (pred x̂, target x*), accumulated in float64."""

    higher_is_better = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("error_sq", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("target_sq", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        pred, target = pred.double(), target.double()
        self.error_sq += (pred - target).square().sum()
        self.target_sq += target.square().sum()

    def compute(self) -> Tensor:
        return self.error_sq.sqrt() / self.target_sq.sqrt()


class SupportError(Metric):
    """The share of x*'s support that x̂ misses: |S* minus supp(x̂)| / |S*|.

    The paper's code prints ‖1[top-s of x̂] − 1[S*]‖₁ / (2s); when x̂ has s nonzeros (AIHT keeps
    at most s) the two are equal. With fewer, the paper's top-s fills up with arbitrary zero
    entries of x̂ that may land on S* by chance; here a zero entry never counts as found.
    """

    higher_is_better = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("missed", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("true", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        true = target != 0
        self.missed += (true & (pred == 0)).sum()
        self.true += true.sum()

    def compute(self) -> Tensor:
        return self.missed.double() / self.true.double()


class TaskMetric(nn.Module):
    """``psnr`` = 20·log10(max_label) − 10·log10(MSE) over all examples and outputs;
    ``accuracy`` = share of outputs ≥ 0.5 equal to the 0/1 label (scalar output), or of argmax
    outputs equal to the one-hot label's argmax (vector output); ``rel_error`` = ‖x̂ − x*‖ / ‖x*‖
    (``RelativeError``)."""

    def __init__(self, name: str, output_dim: int = 1, max_label: float = 1.0) -> None:
        super().__init__()
        if name not in METRICS:
            raise ValueError(f"the datamodule's metric_name must be one of {METRICS}, got {name!r}")
        self.name, self.output_dim = name, output_dim
        self.metric: Metric
        if name == "psnr":
            self.metric = PSNR(max_label)
        elif name == "rel_error":
            self.metric = RelativeError()
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
