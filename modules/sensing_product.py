"""y = A w for the Gaussian sensing task's matrix A (``datamodules.gaussian_columns``), with
autograd: the linear network's prediction, whose backward is the full gradient A^T (dL/dy)."""

import torch
from torch import Tensor

from datamodules.gaussian_columns import GaussianColumns


class SensingProduct(torch.autograd.Function):
    """y = A w for a dense weight vector w; its backward is A^T (dL/dy), streamed over blocks.

    The forward touches only the columns where w is nonzero, so it is cheap for sparse w.
    """

    @staticmethod
    def forward(ctx, weight: Tensor, sensing: GaussianColumns) -> Tensor:
        ctx.sensing, ctx.shape = sensing, weight.shape
        flat = weight.reshape(-1)
        support = flat.nonzero().squeeze(1)
        return sensing.matvec(support, flat[support])

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        sensing = ctx.sensing
        ctx.sensing = None
        return sensing.matvec_T(grad_out).view(ctx.shape), None
