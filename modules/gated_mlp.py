"""AIHT's network: the gated ReLU network (each unit's output is x·w_j where its gate opens,
x·h_j > 0), one hidden layer in training and, for deeper networks, the finished layers before it,
frozen. AIHT trains deeper networks one hidden layer at a time, each on the features of the
layers frozen before it.

The layer in training keeps its state densely (``DenseGated``: m × d weights and gates, the
fastest where they fit) or compactly (``CompactGated``: the kept (index, value) pairs, memory that
grows with s, not m), as ``storage`` says. The frozen layers keep their nonzeros only
(``FrozenLayers``). Every AIHT step goes to the layer in training; this class states them for the
callbacks (``modules/aiht_network.py``) and passes them on.
"""

from typing import Literal

import torch
from torch import Tensor

from datamodules.cupy_draws import check_draws_name
from datamodules.task import TaskDataModule
from modules.aiht_network import LayeredNetwork, ScalarUpdate, VectorUpdate
from modules.compact_gated import CompactGated
from modules.dense_gated import DenseGated
from modules.frozen_layers import FrozenLayers
from modules.storage import choose_storage


class GatedMLP(LayeredNetwork, ScalarUpdate, VectorUpdate):
    """y(x) = sum_j 1[x·h_j > 0] (x·w_j) (scalar output, fused weights), or W1 and W2 (vector
    outputs), on the features of the frozen hidden layers.

    Args:
        width, input_dim, output_dim, num_layers, seed: the sizes (``modules/network.py``).
        gate_seed: the seed that draws the random gates of every hidden layer; None for the run's
            ``seed``. The paper's minibatch AIHT on the planted and INR tasks draws them with seed
            0 whatever the run's seed; the sweep passes 0 there.
        draws: the generator of the gates, the vector-output start values and the count sketch's
            signs: ``numpy`` (numpy's legacy generator, as the paper's code on a CPU)
            or ``cupy`` (CuPy's, as its GPU runs; needs CuPy and a CUDA GPU). With ``cupy`` the
            gates are drawn when the fit starts, on its GPU.
        storage: how the layer in training holds its state: ``dense`` (m × d tensors),
            ``compact`` (the kept pairs only) or ``auto`` (compact when the dense state would
            need more than ``dense_memory_mb``).
        gradient_memory_mb: memory for gate patterns while computing the full gradient; with
            compact storage also the budget of one chunk of units.
        dense_memory_mb: the memory ``auto`` allows the dense state.
    """

    name = "gated"

    def __init__(
        self,
        width: int = 10,
        input_dim: int = 100,
        output_dim: int = 1,
        num_layers: int = 1,
        seed: int = 0,
        gate_seed: int | None = None,
        draws: Literal["numpy", "cupy"] = "numpy",
        storage: Literal["dense", "compact", "auto"] = "auto",
        gradient_memory_mb: float = 32.0,
        dense_memory_mb: float = 2048.0,
    ) -> None:
        super().__init__(width, input_dim, output_dim, num_layers, seed)
        check_draws_name(draws, "model.net.draws")
        self.gate_seed = seed if gate_seed is None else gate_seed
        self.draws, self.gradient_memory_mb = draws, gradient_memory_mb
        self.storage = choose_storage(storage, dense_memory_mb, width, input_dim, output_dim, num_layers)
        # Compact scalar layers take only the earlier layer's active units as data columns; vector
        # outputs give every W1 entry a start value, so their later layers see every unit.
        self.frozen = FrozenLayers(reduced=self.storage == "compact" and output_dim == 1)
        state = CompactGated if self.storage == "compact" else DenseGated
        self.hidden = state(width, input_dim, output_dim, self.gate_seed, gradient_memory_mb, draws)

    # The network as a whole.

    def forward(self, x: Tensor) -> Tensor:
        """The network on raw inputs: random gates in convex mode, h = w otherwise."""
        return self.head(self.frozen(x))

    def head(self, features: Tensor) -> Tensor:
        """The layer in training on its inputs (the frozen layers' features; the data in layer 1)."""
        return self.hidden(features, self.convex)

    def evaluate(self, x: Tensor) -> Tensor:
        """Validation batches already hold the layer's features (``LayerByLayer`` maps them)."""
        return self.head(x)

    def nnz(self) -> int:
        return sum(self.frozen.nnz(i) for i in range(self.layer)) + self.hidden.nnz()

    def prepare(self, task: TaskDataModule | None, device: torch.device) -> None:
        """CuPy's gates: drawn on the fit's device, not where the network was built."""
        self.hidden.draw_pending_gates(device)

    def prepare_load(self, state: dict, prefix: str) -> None:
        self.hidden.prepare_load(state, f"{prefix}hidden.")

    # Layer by layer.

    @property
    def layer(self) -> int:
        return self.frozen.count

    def advance_layer(self, device: torch.device) -> None:
        """No weights (m × m) and random gates for m inputs, drawn with the gate seed; for vector
        outputs the finished layer's temporary output layer is dropped."""
        self.frozen.append(*self.hidden.hidden_layer())
        self.hidden.start_layer(self.width, self.frozen.feature_units())
        self.hidden.draw_pending_gates(device)

    def apply_frozen(self, i: int, x: Tensor) -> Tensor:
        return self.frozen.apply_layer(i, x)

    def layer_nnz(self) -> int:
        return self.hidden.hidden_nnz()

    def hidden_layer(self) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """The layer in training's hidden weights as 2 × nnz (unit, input) indices, values, shape."""
        return self.hidden.hidden_layer()

    # The AIHT update of the layer in training (modules/aiht_network.py says what each does).

    @property
    def num_weights(self) -> int:
        return self.hidden.num_weights

    @property
    def layer_inputs(self) -> int:
        return self.hidden.input_dim

    def follow_weights(self) -> None:
        self.hidden.follow_weights()

    def train_prediction(self, x: Tensor) -> Tensor:
        return self.hidden.train_prediction(x)

    def support(self) -> tuple[Tensor, Tensor]:
        return self.hidden.support()

    def support_gradient(self, x: Tensor, r: Tensor, index: Tensor) -> Tensor:
        return self.hidden.support_gradient(x, r, index)

    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        return self.hidden.sensing_columns(x, index)

    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        return self.hidden.sensing_product(x, index, values)

    def candidates(self, x: Tensor, r: Tensor, step_size: Tensor, budget: int) -> tuple[Tensor, Tensor]:
        return self.hidden.candidates(x, r, step_size, budget)

    def assign(self, index: Tensor, values: Tensor) -> None:
        self.hidden.assign(index, values)

    def vector_prediction(self, x: Tensor) -> Tensor:
        return self.hidden.vector_prediction(x)

    def vector_support(self) -> tuple[Tensor, Tensor]:
        return self.hidden.vector_support()

    def vector_rows(self, units: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.hidden.vector_rows(units)

    def vector_assign(self, index: Tensor, values: Tensor) -> None:
        self.hidden.vector_assign(index, values)

    # Views of the layer in training (dense ones for small networks and tests only).

    def dense_weight(self) -> Tensor:
        return self.hidden.dense_weight()

    def dense_gates(self) -> Tensor:
        return self.hidden.dense_gates()

    def dense_output_weight(self) -> Tensor:
        return self.hidden.dense_output_weight()

    def gate_rows(self, units: Tensor) -> Tensor:
        """The gates of ``units`` (rows over the layer's inputs)."""
        return self.hidden.gate_rows(units)

    def sparse_output_weight(self) -> Tensor:
        """W2 (m × k) as a sparse COO tensor."""
        return self.hidden.sparse_output_weight()
