"""AIHT's gated network (docs/algorithms.md, the model) with compact state: memory that grows with s, not
with m.

The trainable state is the kept (flat index, value) pairs of w, at most s of them; no tensor of
m·d entries is ever allocated. The prediction uses only the units with nonzeros (the support's
columns of A); the full gradient and its top s go in chunks of units
(``modules/compact_gradient.py``). The gates are the random ones, regenerated from the seed for
any units (``RandomGateRows``), or, once they follow the weights (sequential convex mode), a
copy of the weights' pairs (``SparseGateRows``). The scalar AIHT steps are the same methods as
the dense network's (``modules/dense_weights.py``), so one callback trains both.

For vector outputs (docs/algorithms.md: vector AIHT) the pairs index [W1; W2] (W1 row-major, then W2
row-major), as the vector selection does; the gates follow W1's part, and the vector update reads and
writes rows of units through ``vector_rows`` and ``vector_assign``, as it does with the dense network.
"""

import torch
from torch import Tensor, nn

from modules.compact_gradient import compact_candidates, support_gradient
from modules.gate_rows import RandomGateRows, SparseGateRows
from modules.gated_ops import gated_product
from modules.sparse_rows import dense_rows, units_of
from modules.support_columns import SupportColumns
from modules.vector_ops import gated_vector_product


class CompactGated(nn.Module):
    """The kept pairs of one hidden layer's weights (scalar output) and its gates.

    Args:
        width: hidden units m.
        input_dim: the layer's inputs d.
        output_dim: k; 1 is the fused scalar network.
        gate_seed: the seed of the random gates (docs/algorithms.md: the model).
        memory_mb: the budget of one chunk of the full gradient (about twice this is used).
    """

    storage = "compact"

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
        self.width, self.gate_seed, self.memory_mb, self.draws = width, gate_seed, memory_mb, draws
        self.output_dim = output_dim
        self.columns = SupportColumns()
        self.register_buffer("index", torch.zeros(0, dtype=torch.long))
        self.register_buffer("values", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("gate_index", torch.zeros(0, dtype=torch.long))
        self.register_buffer("gate_values", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("gates_follow", torch.tensor(False))
        self.start_layer(input_dim)

    def start_layer(self, input_dim: int, input_units: Tensor | None = None) -> None:
        """No weights on ``input_dim`` inputs, and the random gates. ``input_units``: the inputs
        the layer's data holds (the earlier layer's units with nonzeros, ``FrozenLayers`` with
        ``reduced``), None for all of them."""
        self._set_inputs(input_dim, input_units)
        self.index, self.values = self.index[:0], self.values[:0]
        self.gate_index, self.gate_values = self.gate_index[:0], self.gate_values[:0]
        self.gates_follow.fill_(False)
        self._gates: SparseGateRows | None = None

    def _set_inputs(self, input_dim: int, input_units: Tensor | None) -> None:
        """The layer works on the ``dim`` columns of its data: all ``input_dim`` inputs, or only
        ``input_units`` (the others are zero features: their gradients are zero and their
        weights stay zero, so a candidate there never wins). Flat indices j·dim + c of the
        state are in those columns; ``hidden_layer`` and the dense views give input indices."""
        self.input_dim = input_dim
        self.input_units = None if input_units is None else input_units.cpu()
        self.dim = input_dim if input_units is None else input_units.numel()
        self.random_gates = RandomGateRows(
            self.width, input_dim, self.gate_seed, self.input_units, self.draws
        )
        self._gates = None

    def draw_pending_gates(self, device: torch.device) -> None:
        """Nothing to draw ahead: random gate rows are drawn when they are needed, on their device."""

    def _inputs_of(self, columns: Tensor) -> Tensor:
        """The input indices of data columns."""
        return columns if self.input_units is None else self.input_units.to(columns.device)[columns]

    @property
    def gates(self) -> RandomGateRows | SparseGateRows:
        """The gates now: random, or the copy of the weights made at the last move."""
        if not bool(self.gates_follow):
            return self.random_gates
        if self._gates is None:
            self._gates = SparseGateRows(self.gate_index, self.gate_values, self.dim)
        return self._gates

    @property
    def num_weights(self) -> int:
        outputs = self.width * self.output_dim if self.output_dim > 1 else 0
        return self.width * self.input_dim + outputs

    def _split(self, index: Tensor) -> int:
        """How many of the ascending flat ``index`` fall in W1 (the rest index W2)."""
        bound = torch.tensor([self.width * self.dim], device=index.device)
        return int(torch.searchsorted(index, bound))

    def _w1(self) -> tuple[Tensor, Tensor]:
        """W1's pairs (all pairs for scalar outputs)."""
        split = self._split(self.index)
        return self.index[:split], self.values[:split]

    def _w2(self) -> tuple[Tensor, Tensor]:
        """W2's pairs, indexed into W2 (m × k) alone."""
        split = self._split(self.index)
        return self.index[split:] - self.width * self.dim, self.values[split:]

    def get_extra_state(self) -> dict:
        units = None if self.input_units is None else self.input_units.tolist()
        return {"input_dim": self.input_dim, "input_units": units}

    def set_extra_state(self, state: dict) -> None:
        """The layer's inputs (the buffers, loaded with them, hold the rest)."""
        units = state["input_units"]
        self._set_inputs(state["input_dim"], None if units is None else torch.tensor(units, dtype=torch.long))

    def prepare_load(self, state: dict, prefix: str) -> None:
        """The pairs' counts differ from checkpoint to checkpoint: take their sizes first."""
        for name in ("index", "values", "gate_index", "gate_values"):
            setattr(self, name, torch.empty_like(state[f"{prefix}{name}"], device=getattr(self, name).device))

    def forward(self, x: Tensor, convex: bool) -> Tensor:
        """The network on its inputs, with the gates the mode implies, from the units with
        nonzeros only: random gates in convex mode, h = w otherwise."""
        index, values = self._w1()
        units = units_of(index, self.dim)
        rows = dense_rows(index, values, self.dim, units)
        gates = self.random_gates.rows(units, x.dtype, x.device) if convex else None
        if self.output_dim > 1:
            w2_index, w2_values = self._w2()
            return gated_vector_product(
                x, rows, dense_rows(w2_index, w2_values, self.output_dim, units), gates
            )
        return gated_product(x, rows, gates)

    def vector_prediction(self, x: Tensor) -> Tensor:
        """Y_hat with the gates held now, from the units with nonzeros in W1 only."""
        units = units_of(self._w1()[0], self.dim)
        w1, w2, gates = self.vector_rows(units)
        return gated_vector_product(x, w1, w2, gates)

    def vector_support(self) -> tuple[Tensor, Tensor]:
        return self.index, self.values

    def vector_rows(self, units: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The rows ``units`` (ascending) of W1, W2 and the gates."""
        (index1, values1), (index2, values2) = self._w1(), self._w2()
        w1 = dense_rows(index1, values1, self.dim, units)
        w2 = dense_rows(index2, values2, self.output_dim, units)
        return w1, w2, self.gates.rows(units, self.values.dtype, self.values.device)

    def vector_assign(self, index: Tensor, values: Tensor) -> None:
        self.assign(index, values)

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
        return support_gradient(x, r, index, self.dim, self.gates, self.memory_mb)

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
        """Sequential convex mode: the gates become a copy of the (first-layer) weights."""
        index, values = self._w1()
        self.gate_index, self.gate_values = index.clone(), values.clone()
        self.gates_follow.fill_(True)
        self._gates = None

    def hidden_layer(self) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """The weights (units × inputs) as 2 × nnz (unit, input) indices, values and shape."""
        index, values = self._w1()
        keep = values != 0
        index = index[keep]
        units = torch.div(index, self.dim, rounding_mode="floor")
        rows = torch.stack([units, self._inputs_of(index % self.dim)])
        return rows, values[keep].clone(), (self.width, self.input_dim)

    def hidden_nnz(self) -> int:
        return int(torch.count_nonzero(self._w1()[1]))

    def nnz(self) -> int:
        return int(torch.count_nonzero(self.values))

    def dense_weight(self) -> Tensor:
        """w (W1) as an m × d tensor: for small networks and tests only."""
        (units, inputs), values, _ = self.hidden_layer()
        out = values.new_zeros(self.width, self.input_dim)
        out[units, inputs] = values
        return out

    def dense_output_weight(self) -> Tensor:
        """W2 as an m × k tensor: for small networks and tests only."""
        index, values = self._w2()
        out = values.new_zeros(self.width * self.output_dim)
        out[index] = values
        return out.view(self.width, self.output_dim)

    def dense_gates(self) -> Tensor:
        """The gates as an m × d tensor: for small networks and tests only."""
        return self.gate_rows(torch.arange(self.width, device=self.values.device))

    def gate_rows(self, units: Tensor) -> Tensor:
        """The gates of ``units`` (rows over the layer's inputs)."""
        rows = self.gates.rows(units, self.values.dtype, self.values.device)
        if self.input_units is None:
            return rows
        if not bool(self.gates_follow):
            return RandomGateRows(self.width, self.input_dim, self.gate_seed, draws=self.draws).rows(
                units, rows.dtype, rows.device
            )
        out = rows.new_zeros(len(units), self.input_dim)
        out[:, self.input_units.to(rows.device)] = rows
        return out

    def sparse_output_weight(self) -> Tensor:
        """W2 (m × k) as a sparse COO tensor of its pairs."""
        index, values = self._w2()
        units = torch.div(index, self.output_dim, rounding_mode="floor")
        rows = torch.stack([units, index % self.output_dim])
        return torch.sparse_coo_tensor(
            rows, values, (self.width, self.output_dim), check_invariants=True
        ).coalesce()
