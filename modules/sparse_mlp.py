"""The project's one LightningModule: the network that AIHT or IMP trains.

``network: gated`` (AIHT) is the sparse gated ReLU network of SPEC §1. Scalar output (fused
weights): one m × d weight matrix (row j = unit j's weights w_j, so its row-major flattening
is the unit-major vector w of SPEC §1) and one m × d gate buffer. Its training steps only
compute the loss and its full gradient with the gates held constant; the AIHT callback
(``callbacks/aiht.py``) turns that gradient into the sparse update and moves the gates.
With ``output_dim`` > 1 it is the vector-output network of SPEC §3 instead (``weight`` is W1,
``output_weight`` W2; ``modules/vector_outputs.py``). With ``num_layers`` > 1 the finished
hidden layers are frozen, sparsely (``modules/frozen_layers.py``, SPEC §4).

``network: relu`` (IMP) is the standard ReLU MLP of SPEC §5 (``modules/relu_mlp.py``),
trained by Adam on the mean squared error (or cross-entropy); the IMP callback (``callbacks/imp.py``) prunes,
rewinds and resets Adam between rounds.

``network: linear`` (AIHT on the Gaussian sensing task, SPEC §6 ``gaussian_sparse``) has no
network at all: its weight is the length-N signal x, and y = A x with the datamodule's
``GaussianColumns`` A, whose columns are generated on demand and never stored. Its training
step leaves A^T (A x − y) in ``weight.grad`` as the gated mode does, so the same AIHT callback
trains it; there are no gates.

The modes share the data, the metric and the sweep's bookkeeping, which is why they are modes
of one module rather than separate modules.
"""

import copy
from collections.abc import Iterable
from typing import Literal

import torch
from pytorch_lightning import LightningModule
from torch import Tensor, nn

from datamodules.cupy_draws import check_draws_name
from datamodules.gaussian_columns import GaussianColumns
from datamodules.precision import trainer_dtype
from datamodules.task import TaskDataModule
from modules.frozen_layers import FrozenLayers
from modules.gated_ops import gated_prediction, gated_product
from modules.gates import gate_tensor
from modules.relu_mlp import ReluMLP
from modules.sensing_product import SensingProduct
from modules.support_columns import SupportColumns
from modules.task_metric import SupportError, TaskMetric
from modules.vector_ops import LOSSES
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
        gradient_memory_mb: memory for gate patterns while computing the full gradient.
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
        self.width, self.input_dim, self.seed = width, input_dim, seed
        self.output_dim, self.num_layers, self.network, self.lr = output_dim, num_layers, network, lr
        self.gradient_memory_mb = gradient_memory_mb
        self.gate_seed = seed if gate_seed is None else gate_seed
        check_draws_name(draws, "model.draws")
        self.draws = draws
        self.convex = False
        self.max_label = 1.0  # the task's max |label| (PSNR), set in setup()
        self.sensing: GaussianColumns | None = None  # the task's A (network "linear"), set in setup()
        self.layer_start_epoch = 0  # the epoch the layer in training started (LayerByLayer sets it)
        if loss not in LOSSES:
            raise ValueError(f"model.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss != "mse" and output_dim == 1:
            raise ValueError(f"model.loss {loss!r} needs vector outputs (output_dim > 1)")
        self.loss = loss
        if network == "relu":
            self.net = ReluMLP(input_dim, width, output_dim, num_layers, seed)
            return
        if network == "linear":
            if output_dim != 1 or num_layers != 1:
                raise ValueError(
                    "model.network 'linear' (Gaussian sensing) has no layers and a scalar output: "
                    f"got model.output_dim={output_dim}, model.num_layers={num_layers}"
                )
            self.automatic_optimization = False
            self.weight = nn.Parameter(torch.zeros(width, dtype=torch.float64))
            return
        self.automatic_optimization = False
        self.frozen = FrozenLayers()
        # float64 at first so the gates are exactly the generator's; setup() casts to the trainer's
        # precision. CuPy's are drawn in setup(), on the run's GPU: a sweep also builds models
        # just to check its panels, where there need be no GPU.
        self._gates_pending = draws == "cupy"
        if self._gates_pending:
            gates = torch.zeros(width, input_dim, dtype=torch.float64)
        else:
            gates = gate_tensor(width, input_dim, self.gate_seed)
        self.weight = nn.Parameter(torch.zeros(width, input_dim, dtype=torch.float64))
        self.register_buffer("gates", gates)
        self.support_columns = SupportColumns()
        self._init_vector_outputs(width, output_dim, loss)

    @property
    def layer(self) -> int:
        """The hidden layer AIHT trains now (0-based); the earlier ones are frozen (SPEC §4)."""
        return self.frozen.count

    def advance_layer(self) -> None:
        """Freezes the current hidden layer (sparsely) and starts the next one on its features:
        zero weights (m × m) and random gates for m inputs, drawn with the gate seed."""
        dtype, device = self.weight.dtype, self.weight.device
        self.frozen.append(self.weight.detach())
        gates = gate_tensor(self.width, self.width, self.gate_seed, self.draws, device).to(device, dtype)
        self.weight = nn.Parameter(torch.zeros(self.width, self.width, dtype=dtype, device=device))
        self.gates = gates
        if self.output_dim > 1:  # the finished layer's temporary output layer is dropped
            self.output_weight = nn.Parameter(torch.zeros_like(self.output_weight))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint from a later layer holds an m × m weight: take its shape before loading."""
        state = checkpoint["state_dict"]
        if self.network == "gated" and state["weight"].shape != self.weight.shape:
            self.weight = nn.Parameter(torch.zeros_like(state["weight"], device=self.weight.device))
            self.gates = torch.zeros_like(state["gates"], device=self.gates.device)

    def setup(self, stage: str) -> None:
        if self.network == "gated" and self._gates_pending:
            device = self.trainer.strategy.root_device
            drawn = gate_tensor(self.width, self.input_dim, self.gate_seed, self.draws, device)
            self.gates = drawn.to(self.gates.device)
            self._gates_pending = False
        self.to(trainer_dtype(self.trainer))
        task = self.trainer.datamodule
        if isinstance(task, TaskDataModule):
            self.max_label, metric_name, self.sensing = float(task.max_label), task.metric_name, task.sensing
        else:  # data of the user's own, without the task contract: PSNR of labels in [-1, 1]
            self.max_label, metric_name, self.sensing = 1.0, "psnr", None
        self.val_metric = TaskMetric(metric_name, self.output_dim, self.max_label)
        if self.network == "linear":
            if self.sensing is None:
                raise ValueError(
                    "model.network 'linear' needs a datamodule with a sensing matrix `sensing` "
                    "(datamodules.gaussian_sparse.GaussianSparseDataModule)"
                )
            if self.sensing.n_cols != self.width:
                raise ValueError(
                    f"model.width={self.width} differs from the signal length {self.sensing.n_cols}"
                )
            self.support_metric = SupportError()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.network == "relu":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return CallbackUpdate(self.parameters())

    @property
    def has_gates(self) -> bool:
        """Whether the AIHT callback should move gates (only the gated network has them)."""
        return self.network == "gated"

    def sensing_columns(self, x: Tensor, flat_index: Tensor) -> Tensor:
        """The columns of the batch's sensing matrix A at ``flat_index`` (n × len(flat_index))."""
        if self.network == "linear":
            return self.sensing.columns(flat_index)
        return self.support_columns.rows(x, self.gates, flat_index).T

    def sensing_product(self, x: Tensor, flat_index: Tensor, values: Tensor) -> Tensor:
        """A[:, flat_index] @ values (the gated network reuses the columns its forward gathered)."""
        if self.network == "linear":
            return self.sensing.matvec(flat_index, values)
        return values @ self.support_columns.rows(x, self.gates, flat_index)

    def forward(self, x: Tensor) -> Tensor:
        """The network on raw inputs: random gates in convex mode, h = w otherwise; or the MLP.

        ``linear``: x holds measurement indices and the result is (A w) at those rows.
        """
        if self.network == "linear":
            return SensingProduct.apply(self.weight, self.sensing)[x]
        if self.network == "relu":
            out = self.net(x)
            return out.squeeze(-1) if self.output_dim == 1 else out
        return self.head(self.frozen(x))

    def head(self, features: Tensor) -> Tensor:
        """The layer in training on its inputs (the frozen layers' features; the data in layer 1).
        Training and validation batches already hold these features."""
        if self.output_dim > 1:
            return self._vector_forward(features)
        return gated_product(features, self.weight, self.gates if self.convex else None)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        if self.network == "relu":  # the paper's step (SPEC §5): squeeze, labels in the output's dtype
            out = self.net(x).squeeze()
            loss_fn = torch.nn.CrossEntropyLoss() if self.loss == "crossentropy" else torch.nn.MSELoss()
            loss = loss_fn(out, y.to(out.dtype))
            self.log(f"train/{self.loss}", loss.detach(), on_step=True, on_epoch=False)
            return loss
        if self.output_dim > 1:
            return self._vector_training_step(batch)
        if self.network == "linear":
            if x.numel() != self.sensing.n_rows:
                raise ValueError("the linear network trains on full batches only (data.batch_size 0)")
            pred = SensingProduct.apply(self.weight, self.sensing)
        else:
            pred = gated_prediction(x, self.weight, self.gates, self.support_columns, self.gradient_memory_mb)
        loss = 0.5 * (pred - y).square().sum()
        self.manual_backward(loss)
        self.log("train/mse_before_update", 2 * loss.detach() / y.numel(), on_step=True, on_epoch=False)
        self.optimizers().step()
        return loss.detach()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        if self.network == "linear":  # the batch is (signal indices, x*)
            estimate = self.weight.detach()[x]
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

    def nnz(self) -> int:
        if self.network == "relu":
            return self.net.nnz()
        if self.network == "linear":
            return int((self.weight != 0).sum())
        frozen = sum(self.frozen.nnz(i) for i in range(self.layer))
        vector = [self.output_weight] if self.output_dim > 1 else []
        return frozen + sum(int((p != 0).sum()) for p in [self.weight, *vector])
