"""Hidden layers that AIHT has finished (docs/algorithms.md: deeper networks), kept sparse: their nonzeros
only, applied as sparse products. They live in the module's state dict, so a checkpoint taken in a later layer
restores them.

With ``reduced`` (a compact network's), the features a layer gives are only the columns of its
units that have nonzeros (``active_units``; the others are relu(0) = 0): n × (at most s)
values whatever the width, and the next layer is told which units its inputs are."""

import torch
from torch import Tensor, nn


class FrozenLayers(nn.Module):
    """relu(x W_1^T), then relu(· W_2^T), …, each W_i held as its nonzeros (COO) only."""

    def __init__(self, reduced: bool = False) -> None:
        super().__init__()
        self.count, self.reduced = 0, reduced

    def append(self, indices: Tensor, values: Tensor, shape: tuple[int, int]) -> None:
        """Freezes a (units × inputs) weight matrix given as its nonzeros: 2 × nnz (unit, input)
        indices in row-major order, their values, and the shape."""
        i = self.count
        self.register_buffer(f"indices_{i}", indices.clone())
        self.register_buffer(f"values_{i}", values.detach().clone())
        self.register_buffer(f"shape_{i}", torch.tensor(shape))
        self.count += 1

    def matrix(self, i: int) -> Tensor:
        """Layer i as a sparse COO tensor (units × inputs)."""
        shape = tuple(int(v) for v in getattr(self, f"shape_{i}"))
        indices, values = getattr(self, f"indices_{i}"), getattr(self, f"values_{i}")
        return torch.sparse_coo_tensor(indices, values, shape, is_coalesced=True, check_invariants=True)

    def nnz(self, i: int) -> int:
        return int((getattr(self, f"values_{i}") != 0).sum())

    def active_units(self, i: int) -> Tensor:
        """The units (ascending) of layer i that hold a nonzero weight."""
        return torch.unique_consecutive(getattr(self, f"indices_{i}")[0])

    def feature_units(self) -> Tensor | None:
        """Which units the columns of the last layer's features are (None: every unit, as the
        features are not reduced or no layer is frozen)."""
        return self.active_units(self.count - 1) if self.reduced and self.count else None

    def apply_layer(self, i: int, x: Tensor) -> Tensor:
        """relu(x W_i^T) as one sparse-dense product; reduced, on and to active units' columns."""
        if not self.reduced:
            return torch.relu(torch.sparse.mm(self.matrix(i), x.T).T)
        (units, inputs), values = getattr(self, f"indices_{i}"), getattr(self, f"values_{i}")
        if i > 0:
            inputs = torch.searchsorted(self.active_units(i - 1), inputs)
        active = self.active_units(i)
        block = x.new_zeros(x.shape[1], active.numel())
        block[inputs, torch.searchsorted(active, units)] = values.to(x.dtype)
        return torch.relu(x @ block)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(self.count):
            x = self.apply_layer(i, x)
        return x

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        while f"{prefix}values_{self.count}" in state_dict:
            i = self.count
            for name in ("indices", "values", "shape"):
                self.register_buffer(f"{name}_{i}", torch.empty_like(state_dict[f"{prefix}{name}_{i}"]))
            self.count += 1
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
