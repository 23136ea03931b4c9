"""The project's one LightningModule: the data, the metric and the training step around the
network that AIHT or IMP trains.

Each network keeps its own state and arithmetic in a plain module, ``self.net``:

- ``network: gated`` (AIHT), the gated ReLU network of SPEC §1 (scalar or vector outputs),
  held densely (``DenseGated``: m × d weights and gates) or compactly (``CompactGated``: the
  kept (index, value) pairs, memory that grows with s, not m), as ``storage`` says. With
  ``num_layers`` > 1 the finished hidden layers are frozen, sparsely (``FrozenLayers``, SPEC §4).
- ``network: relu`` (IMP), the standard ReLU MLP of SPEC §5 (``ReluMLP``), trained by Adam.
- ``network: linear`` (AIHT on the Gaussian sensing task), the signal x with y = A x
  (``LinearSensing``): no network at all.

The AIHT networks' training steps only compute the prediction with the gates held constant,
the loss and what the update needs (the full gradient in ``weight.grad`` for dense state, the
residual A w − b in ``residual`` for scalar outputs, dL/dY_hat for vector outputs); the AIHT
callback (``callbacks/aiht/callback.py``) turns it into the sparse update and moves the gates.
"""

import copy
from collections.abc import Iterable
from typing import Literal

import numpy as np
import torch
from pytorch_lightning import LightningModule
from torch import Tensor

from datamodules.cupy_draws import check_draws_name
from datamodules.precision import trainer_dtype
from datamodules.task import TaskDataModule
from modules.compact_gated import CompactGated
from modules.dense_gated import DenseGated
from modules.frozen_layers import FrozenLayers
from modules.linear_sensing import LinearSensing
from modules.relu_mlp import ReluMLP
from modules.storage import choose_storage
from modules.task_metric import SupportError, TaskMetric
from modules.vector_ops import LOSSES, vector_loss


class CallbackUpdate(torch.optim.Optimizer):
    """A stand-in optimiser whose step changes nothing.

    The weights are set by an algorithm callback in ``on_before_optimizer_step``; stepping
    this optimiser is what makes Lightning count the update (global_step, max_steps,
    checkpoint and logging intervals).
    """

    def __init__(self, params) -> None:
        params = list(params)
        # compact state has no parameters at all; an optimiser needs one to exist
        super().__init__(params or [torch.nn.Parameter(torch.zeros(0))], {})

    def step(self, closure=None):
        # Lightning's closure runs the on_before_optimizer_step hooks, where the update happens.
        return closure() if closure is not None else None


class SparseMLP(LightningModule):
    """AIHT's gated network y(x) = sum_j 1[x·h_j > 0] (x·w_j), IMP's plain ReLU MLP, or y = A x.

    Args:
        width: hidden units m (set per grid point by the sweep); the signal length N for
            ``linear``.
        input_dim: input features d (linked from the datamodule; unused by ``linear``).
        seed: the run's seed; it fixes the random gates (SPEC §1) or the initial weights (§5).
        output_dim: outputs k (linked from the datamodule); 1 is the fused scalar network.
        num_layers: hidden layers L (the sweep sets it per panel).
        network: ``gated`` for AIHT, ``relu`` for IMP, ``linear`` for the Gaussian sensing task
            (the sweep sets it from the method and the datamodule's ``network``).
        loss: ``mse`` or ``crossentropy`` (softmax, one-hot labels; vector outputs only).
        lr: Adam's learning rate for the ``relu`` network.
        gradient_memory_mb: memory for gate patterns while computing the full gradient; with
            compact storage also the budget of one chunk of units.
        storage: how the gated network holds its state: ``dense`` (m × d tensors, fastest
            where they fit), ``compact`` (the kept pairs only) or ``auto`` (compact when the
            dense state would need more than ``dense_memory_mb``).
        dense_memory_mb: the memory ``auto`` allows the dense state.
        gate_seed: the seed that draws the random gates of every hidden layer (SPEC §1); None
            for the run's ``seed``. The paper's minibatch AIHT on the planted and INR tasks
            draws them with seed 0 whatever the run's seed (SPEC §2); the application passes 0
            there.
        draws: the generator of the gates, the vector-output start values and the count
            sketch's signs (SPEC §8): ``numpy`` (numpy's legacy generator, as the paper's code on
            a CPU) or ``cupy`` (CuPy's, as its GPU runs; needs CuPy and a CUDA GPU). With
            ``cupy`` the gates are drawn in ``setup``, on the run's GPU.
    """

    def __init__(
        self,
        width: int = 10,
        input_dim: int = 100,
        seed: int = 0,
        output_dim: int = 1,
        num_layers: int = 1,
        network: Literal["gated", "relu", "linear"] = "gated",
        loss: str = "mse",
        lr: float = 1e-3,
        gradient_memory_mb: float = 32.0,
        storage: Literal["dense", "compact", "auto"] = "auto",
        dense_memory_mb: float = 2048.0,
        gate_seed: int | None = None,
        draws: Literal["numpy", "cupy"] = "numpy",
    ) -> None:
        super().__init__()
        for name, value in (
            ("width", width),
            ("input_dim", input_dim),
            ("output_dim", output_dim),
            ("num_layers", num_layers),
        ):
            if value < 1:
                raise ValueError(
                    f"model.{name} must be at least 1, got {value} (model.width is the grid's m)"
                )
        if network not in ("gated", "relu", "linear"):
            raise ValueError(
                "model.network must be 'gated' (AIHT), 'relu' (IMP) or 'linear' (Gaussian sensing), "
                f"got {network!r}"
            )
        if loss not in LOSSES:
            raise ValueError(f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss != "mse" and output_dim == 1:
            raise ValueError(f"model.loss {loss!r} needs vector outputs (output_dim > 1)")
        self.width, self.input_dim, self.seed = width, input_dim, seed
        self.output_dim, self.num_layers, self.network, self.lr = output_dim, num_layers, network, lr
        self.loss = loss
        self.gradient_memory_mb = gradient_memory_mb
        self.gate_seed = seed if gate_seed is None else gate_seed
        check_draws_name(draws, "model.draws")
        self.draws = draws
        self.convex = False
        self.max_label = 1.0  # the task's max |label| (PSNR), set in setup()
        self.layer_start_epoch = 0  # the epoch the layer in training started (LayerByLayer sets it)
        self.residual: Tensor | None = None  # what the AIHT callback's update starts from
        if network == "relu":
            self.net = ReluMLP(input_dim, width, output_dim, num_layers, seed)
            self.storage = "dense"
            return
        self.automatic_optimization = False
        if network == "linear":
            if output_dim != 1 or num_layers != 1:
                raise ValueError(
                    "model.network 'linear' (Gaussian sensing) has no layers and a scalar output: "
                    f"got model.output_dim={output_dim}, model.num_layers={num_layers}"
                )
            self.net = LinearSensing(width)
            self.storage = "dense"
            return
        self.storage = choose_storage(storage, dense_memory_mb, width, input_dim, output_dim, num_layers)
        # Compact scalar layers take only the earlier layer's active units as data columns; vector
        # outputs give every W1 entry a start value (SPEC §3), so their later layers see every unit.
        self.frozen = FrozenLayers(reduced=self.storage == "compact" and output_dim == 1)
        net_class = CompactGated if self.storage == "compact" else DenseGated
        self.net = net_class(width, input_dim, output_dim, self.gate_seed, gradient_memory_mb, draws)

    @property
    def weight(self) -> Tensor:
        """The hidden weights of the layer in training (W1) as a dense tensor (compact storage:
        built on the spot, for small networks and tests)."""
        return self.net.dense_weight()

    @property
    def gates(self) -> Tensor:
        """The gates of the layer in training as a dense m × d tensor (as ``weight``)."""
        return self.net.dense_gates()

    @property
    def output_weight(self) -> Tensor:
        """W2 (vector outputs) as a dense m × k tensor (as ``weight``)."""
        return self.net.dense_output_weight()

    @property
    def layer(self) -> int:
        """The hidden layer AIHT trains now (0-based); the earlier ones are frozen (SPEC §4)."""
        return self.frozen.count

    @property
    def has_gates(self) -> bool:
        """Whether the AIHT callback should move gates (only the gated network has them)."""
        return self.network == "gated"

    def advance_layer(self) -> None:
        """Freezes the current hidden layer (sparsely) and starts the next one on its features:
        no weights (m × m) and random gates for m inputs, drawn with the gate seed; for vector
        outputs the finished layer's temporary output layer is dropped."""
        self.frozen.append(*self.net.hidden_layer())
        self.net.start_layer(self.width, self.frozen.feature_units())
        self.net.draw_pending_gates(self.device)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Tensors whose sizes change during a run (a later layer's, the kept pairs') take the
        checkpoint's sizes before loading."""
        if self.network == "gated":
            self.net.prepare_load(checkpoint["state_dict"], "net.")

    def setup(self, stage: str) -> None:
        if self.network == "gated":  # CuPy's gates: drawn on the run's GPU, not where the model was built
            self.net.draw_pending_gates(self.trainer.strategy.root_device)
        self.to(trainer_dtype(self.trainer))
        task = self.trainer.datamodule
        if isinstance(task, TaskDataModule):
            self.max_label, metric_name, sensing = float(task.max_label), task.metric_name, task.sensing
        else:  # data of the user's own, without the task contract: PSNR of labels in [-1, 1]
            self.max_label, metric_name, sensing = 1.0, "psnr", None
        self.val_metric = TaskMetric(metric_name, self.output_dim, self.max_label)
        if self.network == "linear":
            self.net.attach(sensing)
            self.support_metric = SupportError()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.network == "relu":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return CallbackUpdate(self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        """The network on raw inputs: random gates in convex mode, h = w otherwise; or the MLP.

        ``linear``: x holds measurement indices and the result is (A w) at those rows.
        """
        if self.network == "linear":
            return self.net(x)
        if self.network == "relu":
            out = self.net(x)
            return out.squeeze(-1) if self.output_dim == 1 else out
        return self.head(self.frozen(x))

    def head(self, features: Tensor) -> Tensor:
        """The layer in training on its inputs (the frozen layers' features; the data in layer 1).
        Training and validation batches already hold these features."""
        return self.net(features, self.convex)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        if self.network == "relu":  # the paper's step (SPEC §5): squeeze, labels in the output's dtype
            out = self.net(x).squeeze()
            loss_fn = torch.nn.CrossEntropyLoss() if self.loss == "crossentropy" else torch.nn.MSELoss()
            loss = loss_fn(out, y.to(out.dtype))
            self.log(f"train/{self.loss}", loss.detach(), on_step=True, on_epoch=False)
            return loss
        if self.output_dim > 1:
            return self._vector_training_step(x, y)
        pred = self.net.train_prediction(x)
        loss = 0.5 * (pred - y).square().sum()
        if loss.requires_grad:  # dense state: autograd leaves the full gradient in weight.grad
            self.manual_backward(loss)
        self.residual = (pred - y).detach()
        self.log("train/mse_before_update", 2 * loss.detach() / y.numel(), on_step=True, on_epoch=False)
        self.optimizers().step()
        return loss.detach()

    def _vector_training_step(self, x: Tensor, y: Tensor) -> Tensor:
        """Y_hat with the gates held constant and the mean loss; autograd of the loss in Y_hat
        gives SPEC §3's R, left in ``residual`` for the AIHT callback (whose chain rule to W1 and
        W2 needs R at the weights as they were, and gradients at the start values it gives)."""
        pred = self.net.vector_prediction(x)
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

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        if self.network == "linear":  # the batch is (signal indices, x*)
            estimate = self.net.estimate(x)
            self.val_metric.update(estimate, y)
            self.support_metric.update(estimate, y)
            return
        self.val_metric.update(self(x) if self.network == "relu" else self.head(x), y)

    def on_validation_epoch_end(self) -> None:
        self.log(f"val/{self.val_metric.name}", self.val_metric.compute())
        self.val_metric.reset()
        if self.network == "linear":
            self.log("val/support_error", self.support_metric.compute())
            self.support_metric.reset()

    @torch.no_grad()
    def measure(self, batches: Iterable[tuple[Tensor, Tensor]]) -> float:
        """The task's metric of the network as it is now, over ``batches`` (outside any loop)."""
        metric = copy.deepcopy(self.val_metric)
        metric.reset()
        for x, y in batches:
            metric.update(self(x), y)
        return float(metric.compute())

    def hidden_nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzeros of the hidden layer in training (W1 for vector outputs) as (units,
        inputs, values), float64 numpy arrays, ascending by unit then input."""
        indices, values, _ = self.net.hidden_layer()
        return indices[0].cpu().numpy(), indices[1].cpu().numpy(), values.double().cpu().numpy()

    def layer_nnz(self) -> int:
        """Nonzeros of the hidden layer in training (W1 for vector outputs)."""
        return self.net.hidden_nnz()

    def nnz(self) -> int:
        if self.network != "gated":
            return self.net.nnz()
        return sum(self.frozen.nnz(i) for i in range(self.layer)) + self.net.nnz()
