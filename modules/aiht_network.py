"""What the AIHT callbacks need of a network, stated once.

The AIHT callback (``callbacks/aiht/callback.py``) reads and changes a network only through these
methods; every network it trains subclasses the classes below, so a missing method is an error
when the network is built, not deep in a run.

- ``ScalarUpdate``: the scalar-output update (accelerated IHT on the fused weights w): the
  support and its gradient, products with columns of the sensing matrix A, the top-s candidates
  of w − mu·g, and writing the new weights.
- ``VectorUpdate``: the vector-output update on W1 and W2, unit by unit: the support over
  [W1; W2], copies of the rows of any units, and writing the kept entries.
- ``AIHTNetwork``: a network AIHT trains: its weight count (the budget's cap), its gates (kept
  random in convex mode, or set to the weights), and the epoch its layer in training started.
- ``LayeredNetwork``: an AIHT network trained one hidden layer at a time (``LayerByLayer``):
  freezing the layer in training and starting the next, and the frozen layers' features.

Flat indices are into the layer's weights in unit-major order (W1 row-major, then W2 row-major
for vector outputs); every index tensor the methods return is ascending.
"""

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from modules.network import Network


class ScalarUpdate(ABC):
    """The steps of one scalar-output AIHT update, on the layer in training."""

    @property
    @abstractmethod
    def num_weights(self) -> int:
        """The layer's weights: the most the budget s can keep."""

    @abstractmethod
    def train_prediction(self, x: Tensor) -> Tensor:
        """A w on the batch with the gates held constant; where it has autograd, its backward
        leaves the full gradient A^T (dL/dy) for ``support_gradient`` and ``candidates``."""

    @abstractmethod
    def support(self) -> tuple[Tensor, Tensor]:
        """The nonzeros of w: flat indices and values."""

    @abstractmethod
    def support_gradient(self, x: Tensor, r: Tensor, index: Tensor) -> Tensor:
        """g = A^T r at ``index``, for the residual ``r`` of the batch ``x``."""

    @abstractmethod
    def sensing_columns(self, x: Tensor, index: Tensor) -> Tensor:
        """The columns of the batch's A at ``index`` (n × len(index))."""

    @abstractmethod
    def sensing_product(self, x: Tensor, index: Tensor, values: Tensor) -> Tensor:
        """A[:, index] @ values on the batch."""

    @abstractmethod
    def candidates(self, x: Tensor, r: Tensor, step_size: Tensor, budget: int) -> tuple[Tensor, Tensor]:
        """The ``budget`` entries of t = w − mu·g largest in magnitude (ties: the larger flat index
        wins): their flat indices and values. Raises FloatingPointError if t is not finite."""

    @abstractmethod
    def assign(self, index: Tensor, values: Tensor) -> None:
        """w ← ``values`` at ``index``, zeros elsewhere."""


class VectorUpdate(ABC):
    """The reads and writes of one vector-output AIHT update (W1: m × d, W2: m × k)."""

    #: The memory the update's chunks of units may use (MB).
    gradient_memory_mb: float
    #: The generator of the start values and the count sketch's signs: ``numpy`` or ``cupy``.
    draws: str

    @property
    @abstractmethod
    def num_weights(self) -> int:
        """The weights of W1 and W2 together: the most the budget s can keep."""

    @property
    @abstractmethod
    def layer_inputs(self) -> int:
        """The inputs d of the layer in training (the data's features for the first layer)."""

    @abstractmethod
    def vector_prediction(self, x: Tensor) -> Tensor:
        """Y_hat on the batch with the gates held constant, without autograd."""

    @abstractmethod
    def vector_support(self) -> tuple[Tensor, Tensor]:
        """The nonzeros of [W1; W2]: flat indices and values."""

    @abstractmethod
    def vector_rows(self, units: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Copies of the rows ``units`` (ascending) of W1, W2 and the gates."""

    @abstractmethod
    def vector_assign(self, index: Tensor, values: Tensor) -> None:
        """[W1; W2] ← ``values`` at the flat ``index``, zeros elsewhere."""


class AIHTNetwork(Network):
    """A network the AIHT callback trains (it also implements ``ScalarUpdate``, and
    ``VectorUpdate`` where it has vector outputs)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.convex = False
        self.layer_start_epoch = 0

    @property
    def layer(self) -> int:
        """The hidden layer in training (0-based): always 0 for a network of one layer."""
        return 0

    def set_convex(self, convex: bool) -> None:
        """Convex mode (the paper's ``--convex``): the network evaluates with its random gates for
        good; otherwise with gates equal to the weights (a plain ReLU network)."""
        self.convex = convex

    def set_layer_start_epoch(self, epoch: int) -> None:
        """The epoch of the fit at which the layer in training started (its gates follow the
        weights from that layer's second epoch on)."""
        self.layer_start_epoch = epoch

    @abstractmethod
    def follow_weights(self) -> None:
        """Sequential convex mode: the gates become the (first-layer) weights; nothing without gates."""


class LayeredNetwork(AIHTNetwork):
    """An AIHT network with hidden layers trained in turn, the earlier ones frozen."""

    @property
    @abstractmethod
    def layer(self) -> int:
        """The hidden layer in training (0-based); the earlier ones are frozen."""

    @abstractmethod
    def advance_layer(self, device: torch.device) -> None:
        """Freezes the layer in training and starts the next one on its features (its random
        gates drawn on ``device``)."""

    @abstractmethod
    def apply_frozen(self, i: int, x: Tensor) -> Tensor:
        """Frozen layer i on its inputs ``x``: the features the next layer trains on."""

    @abstractmethod
    def layer_nnz(self) -> int:
        """Nonzeros of the hidden weights of the layer in training (W1 for vector outputs)."""
