"""Vector outputs (SPEC §1, §3) for SparseMLP: the output weights W2 and the training step.

With output_dim k > 1 the module's ``weight`` is W1 (m × d, the gates follow it) and
``output_weight`` is W2 (m × k). The training step computes Y_hat with the gates held constant
and the mean loss (squared error or softmax cross-entropy); autograd of that loss in Y_hat gives
SPEC §3's R, which the step leaves in ``residual`` for the AIHT callback. The chain rule to W1
and W2 is the callback's (``callbacks/vector_aiht.py``): it needs R with the weights as they
were, but gradients at the start values it gives all-zero units, unit by unit.
"""

import torch
from torch import Tensor, nn

from modules.vector_ops import LOSSES, gated_vector_product, vector_loss


class VectorOutputs:
    """Mixin for SparseMLP; ``_init_vector_outputs`` is called from its ``__init__``."""

    def _init_vector_outputs(self, width: int, output_dim: int, loss: str) -> None:
        if output_dim < 1:
            raise ValueError(f"model.output_dim must be at least 1, got {output_dim}")
        if loss not in LOSSES:
            raise ValueError(f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss != "mse" and output_dim == 1:
            raise ValueError(f"model.loss {loss!r} needs vector outputs (output_dim > 1)")
        self.output_dim, self.loss = output_dim, loss
        self.residual: Tensor | None = None
        if output_dim > 1:
            self.output_weight = nn.Parameter(torch.zeros(width, output_dim, dtype=torch.float64))

    def _vector_forward(self, x: Tensor) -> Tensor:
        return gated_vector_product(x, self.weight, self.output_weight, self.gates if self.convex else None)

    def _vector_training_step(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        with torch.no_grad():
            pred = gated_vector_product(x, self.weight, self.output_weight, self.gates)
        pred.requires_grad_()
        loss = vector_loss(pred, y, self.loss)
        self.manual_backward(loss)
        self.residual = pred.grad
        mse = (pred.detach() - y).square().mean()
        self.log_dict(
            {"train/loss": loss.detach(), "train/mse_before_update": mse}, on_step=True, on_epoch=False
        )
        self.optimizers().step()
        return loss.detach()
