"""AIHT's gated network (docs/algorithms.md, the model) with dense state: every unit's weights and gates as
m × d tensors (and W2, m × k, for vector outputs).

Scalar output (fused weights): ``weight`` row j is unit j's w_j, so its row-major flattening is
the unit-major vector w of the model (docs/algorithms.md); ``gates`` row j is h_j. The training prediction has
autograd: its backward is the full gradient A^T (dL/dy) (``modules/gated_ops.py``), which the
scalar AIHT steps (``modules/dense_weights.py``) read from ``weight.grad``. Vector outputs
(docs/algorithms.md: vector AIHT): ``weight`` is W1, ``output_weight`` W2; the gates follow W1.
"""

import torch
from torch import Tensor, nn

from modules.dense_weights import DenseWeights
from modules.gated_ops import gated_prediction, gated_product
from modules.gates import gate_tensor, random_gates
from modules.support_columns import SupportColumns
from modules.vector_ops import gated_vector_product


class DenseGated(DenseWeights):
    """Dense weights, gates and (vector outputs) output weights of one hidden layer.

    Args:
        width: hidden units m.
        input_dim: the layer's inputs d.
        output_dim: k; 1 is the fused scalar network.
        gate_seed: the seed of the random gates (docs/algorithms.md: the model).
        memory_mb: memory for gate patterns while computing the full gradient.
    """

    storage = "dense"

    def __init__(
        self,
        width: int,
        input_dim: int,
        output_dim: int,
        gate_seed: int,
        memory_mb: float,
        draws: str = "numpy",
    ) -> None:
        super().__init__()
        self.width, self.output_dim, self.gate_seed, self.memory_mb = width, output_dim, gate_seed, memory_mb
        self.draws = draws
        self.columns = SupportColumns()
        self.start_layer(input_dim)

    def start_layer(self, input_dim: int, input_units: None = None) -> None:
        """Zero weights on ``input_dim`` inputs and the random gates (float64 at first, so they are
        exactly numpy's; the module casts them to the trainer's precision). The data holds every
        input (``input_units`` None: dense features)."""
        if input_units is not None:
            raise ValueError("a dense network takes every input of its layer as a data column")
        device = self.weight.device if hasattr(self, "weight") else torch.device("cpu")
        dtype = self.weight.dtype if hasattr(self, "weight") else torch.float64
        # CuPy's gates wait for draw_pending_gates on the run's device: a sweep builds models to
        # check its panels where there need be no GPU.
        self.gates_pending = self.draws == "cupy"
        if self.gates_pending:
            gates = torch.zeros(self.width, input_dim, dtype=dtype, device=device)
        else:
            gates = torch.from_numpy(random_gates(self.width, input_dim, self.gate_seed)).to(device, dtype)
        self.weight = nn.Parameter(torch.zeros(self.width, input_dim, dtype=dtype, device=device))
        self.register_buffer("gates", gates)
        if self.output_dim > 1:
            output = torch.zeros(self.width, self.output_dim, dtype=dtype, device=device)
            self.output_weight = nn.Parameter(output)

    def draw_pending_gates(self, device: torch.device) -> None:
        """Draws CuPy's gates (docs/reproducing.md) on ``device`` if they are still to be drawn."""
        if self.gates_pending:
            gates = gate_tensor(self.width, self.input_dim, self.gate_seed, self.draws, device)
            self.gates = gates.to(self.gates.device, self.gates.dtype)
            self.gates_pending = False

    @property
    def input_dim(self) -> int:
        return self.weight.shape[1]

    @property
    def num_weights(self) -> int:
        return self.weight.numel() + (self.output_weight.numel() if self.output_dim > 1 else 0)

    def prepare_load(self, state: dict, prefix: str) -> None:
        """A checkpoint from a later layer holds an m × m weight: take its shape before loading."""
        if state[f"{prefix}weight"].shape != self.weight.shape:
            self.weight = nn.Parameter(torch.zeros_like(state[f"{prefix}weight"], device=self.weight.device))
            self.gates = torch.zeros_like(state[f"{prefix}gates"], device=self.gates.device)

    def forward(self, x: Tensor, convex: bool) -> Tensor:
        """The layer on its inputs with the gates the mode implies: random gates in convex mode,
        h = w (a plain ReLU layer) otherwise."""
        gates = self.gates if convex else None
        if self.output_dim > 1:
            return gated_vector_product(x, self.weight, self.output_weight, gates)
        if self.columns.holds_batch(x) and (convex or torch.equal(self.gates, self.weight)):
            # The training batch under the gates held now (full batch, evaluated on the training
            # set): its support's columns serve this prediction and the next update alike.
            w = self.weight.detach().reshape(-1)
            support = w.nonzero().squeeze(1)
            return w[support] @ self.columns.rows(x, self.gates, support)
        return gated_product(x, self.weight, gates)

    def train_prediction(self, x: Tensor) -> Tensor:
        """A w with the gates held constant; backward leaves A^T (dL/dy) in ``weight.grad``."""
        return gated_prediction(x, self.weight, self.gates, self.columns, self.memory_mb)

    def vector_prediction(self, x: Tensor) -> Tensor:
        """Y_hat with the gates held constant (no autograd: the AIHT callback's chain rule)."""
        with torch.no_grad():
            return gated_vector_product(x, self.weight, self.output_weight, self.gates)

    def vector_support(self) -> tuple[Tensor, Tensor]:
        """The nonzeros of W1 and W2 as flat indices into [W1 row-major, W2 row-major], values."""
        w1, w2 = self.weight.detach(), self.output_weight.detach()
        idx1 = w1.view(-1).nonzero().squeeze(1)
        idx2 = w2.view(-1).nonzero().squeeze(1)
        idx = torch.cat([idx1, idx2 + w1.numel()])
        return idx, torch.cat([w1.view(-1)[idx1], w2.view(-1)[idx2]])

    def vector_rows(self, units: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Copies of the rows ``units`` of W1, W2 and the gates."""
        return self.weight.detach()[units], self.output_weight.detach()[units], self.gates[units]

    @torch.no_grad()
    def vector_assign(self, index: Tensor, values: Tensor) -> None:
        """W1 and W2 ← ``values`` at the flat indices ``index`` into [W1; W2], zeros elsewhere."""
        w1, w2 = self.weight, self.output_weight
        w1.zero_()
        w2.zero_()
        in_w1 = index < w1.numel()
        w1.view(-1)[index[in_w1]] = values[in_w1]
        w2.view(-1)[index[~in_w1] - w1.numel()] = values[~in_w1]

    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        """The columns of the batch's sensing matrix A at ``index`` (n × len(index))."""
        return self.columns.rows(x, self.gates, index).T

    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        """A[:, index] @ values (reusing the columns the prediction gathered)."""
        return values @ self.columns.rows(x, self.gates, index)

    @torch.no_grad()
    def follow_weights(self) -> None:
        """Sequential convex mode: the gates become the (first-layer) weights."""
        self.gates.copy_(self.weight)

    def hidden_layer(self) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """The hidden weights (units × inputs) as their nonzeros: 2 × nnz (unit, input) indices,
        values and the shape (to freeze the layer, and for the recovery metrics)."""
        weight = self.weight.detach()
        rows, cols = weight.nonzero(as_tuple=True)
        return torch.stack([rows, cols]), weight[rows, cols].clone(), (weight.shape[0], weight.shape[1])

    def hidden_nnz(self) -> int:
        return int(torch.count_nonzero(self.weight))

    def nnz(self) -> int:
        vector = int(torch.count_nonzero(self.output_weight)) if self.output_dim > 1 else 0
        return self.hidden_nnz() + vector

    def dense_weight(self) -> Tensor:
        return self.weight

    def dense_gates(self) -> Tensor:
        return self.gates

    def dense_output_weight(self) -> Tensor:
        return self.output_weight

    def gate_rows(self, units: Tensor) -> Tensor:
        return self.gates[units]

    def sparse_output_weight(self) -> Tensor:
        return self.output_weight.detach().to_sparse()
