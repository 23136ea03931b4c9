"""The project's one LightningModule: the task's metric, logging, the loss and the training step
around the network that AIHT or IMP trains.

The network is given (``model.net``, a class path with its init args; the sweep sets it per
method) and keeps its own state and arithmetic (``modules/network.py``):

- AIHT's gated ReLU network (``GatedMLP``, scalar or vector outputs, dense or compact state, the
  finished hidden layers frozen);
- IMP's standard ReLU MLP (``ReluMLP``), trained here by Adam, as the paper's code trains it;
- the signal x of the Gaussian sensing task, y = A x (``LinearSensing``): no network at all.

For a network AIHT trains (``modules/aiht_network.py``) the training step only computes the
prediction with the gates held constant, the loss and what the update needs (the full gradient
in ``weight.grad`` for dense state, the residual A w − b in ``residual`` for scalar outputs,
dL/dY_hat for vector outputs); the AIHT callback (``callbacks/aiht/callback.py``) turns it into
the sparse update, in the optimiser step, and moves the gates.
"""

import copy
from collections.abc import Iterable

import numpy as np
import torch
from pytorch_lightning import LightningModule
from torch import Tensor

from datamodules.precision import trainer_dtype
from datamodules.task import TaskDataModule
from modules.aiht_network import AIHTNetwork
from modules.network import Network
from modules.step_scalars import StepScalars
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
    """The task's training and validation around ``net``: AIHT's gated network
    y(x) = sum_j 1[x·h_j > 0] (x·w_j), IMP's plain ReLU MLP, or y = A x.

    Args:
        net: the network (``GatedMLP``, ``ReluMLP`` or ``LinearSensing``).
        loss: ``mse`` or ``crossentropy`` (softmax, one-hot labels; vector outputs only).
        lr: Adam's learning rate, for a network trained by Adam (IMP's).
    """

    def __init__(self, net: Network, loss: str = "mse", lr: float = 1e-3) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss != "mse" and net.output_dim == 1:
            raise ValueError(f"model.loss {loss!r} needs vector outputs (output_dim > 1)")
        self.net, self.loss, self.lr = net, loss, lr
        # AIHT's networks are changed by the callback in the optimiser step; the others by Adam.
        self.automatic_optimization = not isinstance(net, AIHTNetwork)
        self.max_label = 1.0  # the task's max |label| (PSNR), set in setup()
        self.residual: Tensor | None = None  # what the AIHT callback's update starts from
        self.support_metric: SupportError | None = None
        self.step_scalars = StepScalars()

    # Read-only views of the network, for callbacks, results and tests.

    @property
    def network(self) -> str:
        """The kind of network: ``gated``, ``relu`` or ``linear``."""
        return self.net.name

    @property
    def width(self) -> int:
        return self.net.width

    @property
    def input_dim(self) -> int:
        return self.net.input_dim

    @property
    def output_dim(self) -> int:
        return self.net.output_dim

    @property
    def num_layers(self) -> int:
        return self.net.num_layers

    @property
    def seed(self) -> int:
        return self.net.seed

    @property
    def storage(self) -> str:
        return self.net.storage

    @property
    def draws(self) -> str:
        return self.net.draws

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
    def frozen(self):
        """The gated network's frozen hidden layers."""
        return self.net.frozen

    @property
    def layer(self) -> int:
        """The hidden layer AIHT trains now (0-based); the earlier ones are frozen."""
        return self.net.layer

    def nnz(self) -> int:
        return self.net.nnz()

    def layer_nnz(self) -> int:
        """Nonzeros of the hidden layer in training (W1 for vector outputs)."""
        return self.net.layer_nnz()

    def hidden_nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzeros of the hidden layer in training (W1 for vector outputs) as (units,
        inputs, values), float64 numpy arrays, ascending by unit then input."""
        indices, values, _ = self.net.hidden_layer()
        return indices[0].cpu().numpy(), indices[1].cpu().numpy(), values.double().cpu().numpy()

    # Lightning's hooks.

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Tensors whose sizes change during a run (a later layer's, the kept pairs') take the
        checkpoint's sizes before loading."""
        self.net.prepare_load(checkpoint["state_dict"], "net.")

    def setup(self, stage: str) -> None:
        task = self.trainer.datamodule
        task = task if isinstance(task, TaskDataModule) else None
        self.net.prepare(task, self.trainer.strategy.root_device)
        self.to(trainer_dtype(self.trainer))
        if task is not None:
            self.max_label, metric_name, sensing = float(task.max_label), task.metric_name, task.sensing
        else:  # data of the user's own, without the task contract: PSNR of labels in [-1, 1]
            self.max_label, metric_name, sensing = 1.0, "psnr", None
        self.val_metric = TaskMetric(metric_name, self.output_dim, self.max_label)
        # A sensing task's validation batches hold the signal: its support is measured too.
        self.support_metric = SupportError() if sensing is not None else None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.automatic_optimization:
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return CallbackUpdate(self.parameters())

    def forward(self, x: Tensor) -> Tensor:
        """The network's prediction on raw inputs (gated: random gates in convex mode, h = w
        otherwise; Gaussian sensing: x holds measurement indices, and the result is (A w) there)."""
        return self.net.predict(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        if self.automatic_optimization:  # the paper's IMP step: squeeze, labels in the output's dtype
            out = self.net(x).squeeze()
            loss_fn = torch.nn.CrossEntropyLoss() if self.loss == "crossentropy" else torch.nn.MSELoss()
            loss = loss_fn(out, y.to(out.dtype))
            self.log_step({f"train/{self.loss}": loss.detach()})
            return loss
        if self.output_dim > 1:
            return self._vector_training_step(x, y)
        pred = self.net.train_prediction(x)
        loss = 0.5 * (pred - y).square().sum()
        if loss.requires_grad:  # dense state: autograd leaves the full gradient in weight.grad
            self.manual_backward(loss)
        self.residual = (pred - y).detach()
        self.log_step({"train/mse_before_update": 2 * loss.detach() / y.numel()})
        self._update()
        return loss.detach()

    def _vector_training_step(self, x: Tensor, y: Tensor) -> Tensor:
        """Y_hat with the gates held constant and the mean loss; autograd of the loss in Y_hat
        gives vector AIHT's R, left in ``residual`` for the AIHT callback (whose chain rule to W1 and
        W2 needs R at the weights as they were, and gradients at the start values it gives)."""
        pred = self.net.vector_prediction(x)
        pred.requires_grad_()
        loss = vector_loss(pred, y, self.loss)
        self.manual_backward(loss)
        self.residual = pred.grad
        mse = (pred.detach() - y).square().mean()
        self.log_step({"train/loss": loss.detach(), "train/mse_before_update": mse})
        self._update()
        return loss.detach()

    def _update(self) -> None:
        """The optimiser step, in which the AIHT callback updates the network from ``residual``;
        the residual is spent afterwards."""
        self.optimizers().step()
        self.residual = None

    def log_step(self, values: dict[str, float | Tensor]) -> None:
        """Logs scalars of this training step, as ``self.log(..., on_step=True, on_epoch=False)``
        would, without its per-call cost (``modules/step_scalars.py``); callbacks use it too."""
        self.step_scalars.add(self.trainer, values)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.step_scalars.write(self.trainer)  # after the callbacks' hooks: their scalars are in

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        out = self.net.evaluate(x)
        self.val_metric.update(out, y)
        if self.support_metric is not None:  # the batch is (signal indices, x*)
            self.support_metric.update(out, y)

    def on_validation_epoch_end(self) -> None:
        self.log(f"val/{self.val_metric.name}", self.val_metric.compute())
        self.val_metric.reset()
        if self.support_metric is not None:
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
