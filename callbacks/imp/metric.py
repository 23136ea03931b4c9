"""IMP's measurement after each prune, computed as the paper's evaluation functions compute it.

PSNR: the mean squared error of each batch (float32, ``torch.mean``), summed over the batches in
float32 and divided by their number, ``-10·log10`` of that in float32, plus ``20·log10(max_label)``
(a float32 value in the paper, whose planted ``max_label`` is a float32 scalar; the sum in
float64). With batches of unequal size this is the mean of the batch means, as in the paper.
Accuracy: the outputs thresholded at 0.5 (scalar) or their argmax against the one-hot label's
argmax (vector), counted, and ``correct / total`` in float32. The network's output is
``.squeeze()``d, as the paper's evaluation does.
"""

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn


def batches_in_order(
    x: Tensor, y: Tensor, batch_size: int, order: Tensor | None
) -> Iterator[tuple[Tensor, Tensor]]:
    """The batches of a loader pass over (x, y): in ``order`` if given, else in the natural order."""
    if order is not None:
        order = order.to(x.device)
    for start in range(0, x.shape[0], batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], y[idx]


@torch.no_grad()
def paper_metric(
    net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], metric_name: str, max_label: float
) -> float:
    """The task's metric (``psnr`` or ``accuracy``) of ``net`` over ``batches``, the paper's way."""
    if metric_name == "psnr":
        return _psnr(net, batches, max_label)
    if metric_name == "accuracy":
        return _accuracy(net, batches)
    raise ValueError(f"IMP measures psnr or accuracy, not {metric_name!r}")


def _psnr(net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], max_label: float) -> float:
    total, count = None, 0
    for x, y in batches:
        batch_mse = torch.mean(torch.square(net(x).squeeze() - y))
        total = batch_mse if total is None else total + batch_mse
        count += 1
    psnr = float(-10 * torch.log10(total / count))
    return float(np.float32(20) * np.log10(np.float32(max_label))) + psnr


def _accuracy(net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]]) -> float:
    correct, total = 0, 0
    for x, y in batches:
        out = net(x).squeeze()
        if y.dim() == 1:
            hits = torch.where(out >= 0.5, 1.0, torch.where(out < 0.5, 0.0, out)) == y
        else:
            hits = out.argmax(1) == y.argmax(1)
        correct = correct + int(hits.sum())
        total += len(y)
    return float(torch.tensor(correct, dtype=torch.float32) / total)
