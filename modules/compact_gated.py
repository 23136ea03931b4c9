"""AIHT's gated network of SPEC §1 with compact state: memory that grows with s, not with m.

The trainable state is the kept (flat index, value) pairs of w, at most s of them; no tensor of
m·d entries is ever allocated. The prediction uses only the units with nonzeros (the support's
columns of A); the full gradient and its top s go in chunks of units
(``modules/compact_gradient.py``). The gates are the random ones, regenerated from the seed for
any units (``RandomGateRows``), or, once they follow the weights (sequential convex mode), a
copy of the weights' pairs (``SparseGateRows``). The scalar AIHT steps are the same methods as
the dense network's (``modules/dense_weights.py``), so one callback trains both.
"""

import torch
from torch import Tensor, nn

from modules.compact_gradient import compact_candidates, support_gradient
from modules.gate_rows import RandomGateRows, SparseGateRows
from modules.gated_ops import gated_product
from modules.sparse_rows import dense_rows, units_of
from modules.support_columns import SupportColumns


class CompactGated(nn.Module):
    """The kept pairs of one hidden layer's weights (scalar output) and its gates.

    Args:
        width: hidden units m.
        input_dim: the layer's inputs d.
        output_dim: k (1).
        gate_seed: the seed of the random gates (SPEC §1).
        memory_mb: the budget of one chunk of the full gradient (about twice this is used).
    """

    has_gates = True
    storage = "compact"

    def __init__(self, width: int, input_dim: int, output_dim: int, gate_seed: int, memory_mb: float) -> None:
        super().__init__()
        if output_dim != 1:
            raise ValueError("model.storage 'compact' holds scalar outputs only: use model.storage dense")
        self.width, self.gate_seed, self.memory_mb = width, gate_seed, memory_mb
        self.output_dim = 1
        self.columns = SupportColumns()
        self.register_buffer("index", torch.zeros(0, dtype=torch.long))
        self.register_buffer("values", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("gate_index", torch.zeros(0, dtype=torch.long))
        self.register_buffer("gate_values", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("gates_follow", torch.tensor(False))
        self.start_layer(input_dim)

    def start_layer(self, input_dim: int) -> None:
        """No weights on ``input_dim`` inputs, and the random gates."""
        self.input_dim = input_dim
        self.random_gates = RandomGateRows(self.width, input_dim, self.gate_seed)
        self.index, self.values = self.index[:0], self.values[:0]
        self.gate_index, self.gate_values = self.gate_index[:0], self.gate_values[:0]
        self.gates_follow.fill_(False)
        self._gates: SparseGateRows | None = None

    @property
    def gates(self) -> RandomGateRows | SparseGateRows:
        """The gates now: random, or the copy of the weights made at the last move."""
        if not bool(self.gates_follow):
            return self.random_gates
        if self._gates is None:
            self._gates = SparseGateRows(self.gate_index, self.gate_values, self.input_dim)
        return self._gates

    @property
    def num_weights(self) -> int:
        return self.width * self.input_dim

    def get_extra_state(self) -> dict:
        return {"input_dim": self.input_dim}

    def set_extra_state(self, state: dict) -> None:
        """The layer's input size (the buffers, loaded with it, hold the rest)."""
        self.input_dim = state["input_dim"]
        self.random_gates = RandomGateRows(self.width, self.input_dim, self.gate_seed)
        self._gates = None

    def prepare_load(self, state: dict, prefix: str) -> None:
        """The pairs' counts differ from checkpoint to checkpoint: take their sizes first."""
        for name in ("index", "values", "gate_index", "gate_values"):
            setattr(self, name, torch.empty_like(state[f"{prefix}{name}"], device=getattr(self, name).device))

    def _rows(self) -> tuple[Tensor, Tensor]:
        units = units_of(self.index, self.input_dim)
        return units, dense_rows(self.index, self.values, self.input_dim, units)

    def forward(self, x: Tensor, convex: bool) -> Tensor:
        """The network on its inputs, with the gates the mode implies, from the units with
        nonzeros only: random gates in convex mode, h = w otherwise."""
        units, rows = self._rows()
        gates = self.random_gates.rows(units, x.dtype, x.device) if convex else None
        return gated_product(x, rows, gates)

    def train_prediction(self, x: Tensor) -> Tensor:
        """A w with the gates held constant, from the support's columns; no autograd (the
        callback computes the gradient from the residual)."""
        if self.index.numel() == 0:
            return x.new_zeros(x.shape[0])
        return self.values @ self.columns.rows(x, self.gates, self.index)

    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        return self.columns.rows(x, self.gates, index).T

    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        return values @ self.columns.rows(x, self.gates, index)

    def support(self) -> tuple[Tensor, Tensor]:
        return self.index, self.values

    def support_gradient(self, x: Tensor, r: Tensor, index: Tensor) -> Tensor:
        """g at ``index``, from the gradient rows of its units (under the gates held now)."""
        return support_gradient(x, r, index, self.input_dim, self.gates, self.memory_mb)

    def candidates(self, x: Tensor, r: Tensor, step_size: Tensor, budget: int) -> tuple[Tensor, Tensor]:
        """The top ``budget`` entries of t = w − mu·g over all m·d entries, chunk by chunk."""
        kept, values = compact_candidates(
            x, r, step_size, self.index, self.values, self.width, self.gates, budget, self.memory_mb
        )
        if not torch.isfinite(values).all():
            raise FloatingPointError("t = w − mu·g is not finite")
        return kept, values

    def assign(self, index: Tensor, values: Tensor) -> None:
        self.index, self.values = index.clone(), values.clone()

    def follow_weights(self) -> None:
        """Sequential convex mode: the gates become a copy of the weights."""
        self.gate_index, self.gate_values = self.index.clone(), self.values.clone()
        self.gates_follow.fill_(True)
        self._gates = None

    def hidden_layer(self) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """The weights (units × inputs) as 2 × nnz (unit, input) indices, values and shape."""
        keep = self.values != 0
        index = self.index[keep]
        rows = torch.stack([torch.div(index, self.input_dim, rounding_mode="floor"), index % self.input_dim])
        return rows, self.values[keep].clone(), (self.width, self.input_dim)

    def hidden_nnz(self) -> int:
        return int(torch.count_nonzero(self.values))

    def nnz(self) -> int:
        return self.hidden_nnz()

    def dense_weight(self) -> Tensor:
        """w as an m × d tensor: for small networks and tests only."""
        out = self.values.new_zeros(self.width * self.input_dim)
        out[self.index] = self.values
        return out.view(self.width, self.input_dim)

    def dense_gates(self) -> Tensor:
        """The gates as an m × d tensor: for small networks and tests only."""
        units = torch.arange(self.width, device=self.values.device)
        return self.gates.rows(units, self.values.dtype, self.values.device)
