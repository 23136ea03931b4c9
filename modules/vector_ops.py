"""The vector-output network (docs/algorithms.md, vector AIHT): Y = sum_j D_j X w1_j w2_j^T, D_j = diag(1[X
h_j > 0]).

W1 is m × d (row j = w1_j), W2 is m × k (row j = w2_j), the gates m × d. These functions never
form the sensing matrix, and only units with nonzero weights (or, for gradients, open gates)
cost anything.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from modules.gated_ops import nonzero_rows

LOSSES = ("mse", "crossentropy")


def gated_vector_product(x: Tensor, w1: Tensor, w2: Tensor, gates: Tensor | None) -> Tensor:
    """Y_hat (n × k) under ``gates``; gates None means h = w1 (the plain ReLU MLP)."""
    units = nonzero_rows(w1)
    if units.numel() == 0:
        return x.new_zeros(x.shape[0], w2.shape[1])
    if gates is None or torch.equal(gates[units], w1[units]):  # h = w1: a plain ReLU layer
        return (x @ w1[units].T).clamp_min_(0) @ w2[units]
    count = units.numel()
    both = x @ torch.cat([w1[units], gates[units]]).T  # one product for values and patterns
    return both[:, :count].mul_(both[:, count:] > 0) @ w2[units]


def vector_loss(pred: Tensor, target: Tensor, loss: str) -> Tensor:
    """The mean loss whose gradient in ``pred`` is vector AIHT's R.

    mse: ½·‖Y_hat − B‖²/n, so R = (Y_hat − B)/n; crossentropy: the mean over examples of
    −Σ_k B log softmax(Y_hat), so R = (softmax(Y_hat) − B)/n for one-hot B.
    """
    n = pred.shape[0]
    if loss == "mse":
        return 0.5 * (pred - target).square().sum() / n
    if loss == "crossentropy":
        return F.cross_entropy(pred, target, reduction="sum") / n
    raise ValueError(f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def unit_gradients(x: Tensor, r: Tensor, w1: Tensor, w2: Tensor, gates: Tensor) -> tuple[Tensor, Tensor]:
    """Vector AIHT's gradients for a block of units: with P_j = (D_j X)^T R,

    grad w1_j = P_j w2_j = X^T (D_j R w2_j)   and   grad w2_j = P_j^T w1_j = R^T (D_j X w1_j),

    as (units × d, units × k), without forming any P_j. Units with all-zero gates are closed on
    every example: their gradients are zero and cost nothing.
    """
    g1, g2 = torch.zeros_like(w1), torch.zeros_like(w2)
    units = nonzero_rows(gates)
    if units.numel() == 0:
        return g1, g2
    if torch.equal(gates[units], w1[units]):  # h = w1 (sequential convex): one product for both
        x_w1 = x @ w1[units].T
        open_ = x_w1 > 0
    else:  # gate patterns and X w1_j in one product
        count = units.numel()
        both = x @ torch.cat([gates[units], w1[units]]).T
        open_, x_w1 = both[:, :count] > 0, both[:, count:]
    g1[units] = ((r @ w2[units].T) * open_).T @ x
    g2[units] = (x_w1 * open_).T @ r
    return g1, g2
