"""The sparse gated ReLU network of SPEC §1 (scalar output, fused weights) as a LightningModule.

With ``output_dim`` > 1 it is the vector-output network of SPEC §3 instead (``weight`` is W1,
``output_weight`` W2); that part lives in ``modules/vector_outputs.py``.

The weights are one m × d matrix (row j = unit j's weights w_j, so its row-major flattening
is the unit-major vector w of SPEC §1) and the gates one m × d buffer. Training steps only
compute the loss and its full gradient with the gates held constant; the AIHT callback
(``callbacks/aiht.py``) turns that gradient into the sparse update and moves the gates.
"""

import torch
from pytorch_lightning import LightningModule
from torch import Tensor, nn
from torchmetrics.image import PeakSignalNoiseRatio

from lightning_app.precision import trainer_dtype
from modules.gated_ops import GatedProduct, gated_product
from modules.gates import random_gates
from modules.vector_outputs import VectorOutputs


class CallbackUpdate(torch.optim.Optimizer):
    """A stand-in optimiser whose step changes nothing.

    The weights are set by an algorithm callback in ``on_before_optimizer_step``; stepping
    this optimiser is what makes Lightning count the update (global_step, max_steps,
    checkpoint and logging intervals).
    """

    def __init__(self, params) -> None:
        super().__init__(params, {})

    def step(self, closure=None):
        # Lightning's closure runs the on_before_optimizer_step hooks, where the update happens.
        return closure() if closure is not None else None


class SparseMLP(VectorOutputs, LightningModule):
    """y(x) = sum_j 1[x·h_j > 0] (x·w_j): sequential convex (h = w) or convex (random h).

    Args:
        width: hidden units m (set per grid point by the sweep).
        input_dim: input features d (linked from the datamodule).
        seed: the run's seed; it fixes the random gates (SPEC §1).
        gradient_memory_mb: memory for gate patterns while computing the full gradient.
        output_dim: outputs k (linked from the datamodule); 1 is the fused scalar network.
        loss: ``mse`` or ``crossentropy`` (softmax, one-hot labels; vector outputs only).
    """

    def __init__(
        self,
        width: int = 10,
        input_dim: int = 100,
        seed: int = 0,
        gradient_memory_mb: float = 32.0,
        output_dim: int = 1,
        loss: str = "mse",
    ) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"model.width (the grid's m) must be at least 1, got {width}")
        if input_dim < 1:
            raise ValueError(f"model.input_dim must be at least 1, got {input_dim}")
        self.width, self.input_dim, self.seed = width, input_dim, seed
        self.gradient_memory_mb = gradient_memory_mb
        self.automatic_optimization = False
        # float64 at first so the gates are exactly numpy's; setup() casts to the trainer's precision.
        gates = torch.from_numpy(random_gates(width, input_dim, seed))
        self.weight = nn.Parameter(torch.zeros(width, input_dim, dtype=torch.float64))
        self.register_buffer("gates", gates)
        self.convex = False
        self._init_vector_outputs(width, output_dim, loss)

    def setup(self, stage: str) -> None:
        self.to(trainer_dtype(self.trainer))
        max_label = float(getattr(getattr(self.trainer, "datamodule", None), "max_label", 1.0))
        self.val_psnr = PeakSignalNoiseRatio(data_range=max_label).set_dtype(torch.float64)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return CallbackUpdate(self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        """The network as evaluated: random gates in convex mode, h = w otherwise."""
        if self.output_dim > 1:
            return self._vector_forward(x)
        return gated_product(x, self.weight, self.gates if self.convex else None)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        if self.output_dim > 1:
            return self._vector_training_step(batch)
        x, y = batch
        pred = GatedProduct.apply(x, self.weight, self.gates, self.gradient_memory_mb)
        loss = 0.5 * (pred - y).square().sum()
        self.manual_backward(loss)
        self.log("train/mse_before_update", 2 * loss.detach() / y.numel(), on_step=True, on_epoch=False)
        self.optimizers().step()
        return loss.detach()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self.val_psnr.update(self(x), y)

    def on_validation_epoch_end(self) -> None:
        self.log("val/psnr", self.val_psnr.compute())
        self.val_psnr.reset()

    def nnz(self) -> int:
        vector = [self.output_weight] if self.output_dim > 1 else []
        return sum(int((p != 0).sum()) for p in [self.weight, *vector])
