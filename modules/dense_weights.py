"""Scalar AIHT's update (docs/algorithms.md) on a dense weight tensor whose training step left the full
gradient g = A^T (A w − b) in ``weight.grad`` (autograd with the gates held constant).

The networks that hold their weights densely (``DenseGated``, ``LinearSensing``) share these
steps; a compact network (``CompactGated``) offers the same methods without any dense tensor.
Every flat index is into w, the weight tensor's row-major flattening (unit-major for a layer).
"""

import torch
from torch import Tensor, nn

from modules.top_s import top_s_nonzero


class DenseWeights(nn.Module):
    """The scalar AIHT steps on ``self.weight`` (a Parameter set by the subclass)."""

    weight: nn.Parameter

    def support(self) -> tuple[Tensor, Tensor]:
        """The nonzeros of w: flat indices (ascending) and values."""
        w = self.weight.detach().view(-1)
        index = w.nonzero().squeeze(1)
        return index, w[index]

    def support_gradient(self, x: Tensor, r: Tensor, index: Tensor) -> Tensor:
        """g at ``index`` (from the full gradient the training step left)."""
        return self.weight.grad.view(-1)[index]

    def candidates(self, x: Tensor, r: Tensor, step_size: Tensor, budget: int) -> tuple[Tensor, Tensor]:
        """t = w − mu·g over every entry; its ``budget`` largest (the paper code's tie rule): the kept flat
        indices (ascending) and their values in t."""
        t = self.weight.detach().view(-1) - step_size * self.weight.grad.view(-1)
        if not torch.isfinite(t).all():
            raise FloatingPointError("t = w − mu·g is not finite")
        kept = top_s_nonzero(t, budget)
        return kept, t[kept]

    def assign(self, index: Tensor, values: Tensor) -> None:
        """w ← the vector with ``values`` at ``index`` and zeros elsewhere; the gradient is spent."""
        self.weight.grad = None
        with torch.no_grad():
            self.weight.zero_()
            self.weight.view(-1)[index] = values

    def nnz(self) -> int:
        return int(torch.count_nonzero(self.weight))
