"""Hidden layers that AIHT has finished (SPEC §4), kept sparse: their nonzeros only, applied as
sparse products. They live in the module's state dict, so a checkpoint taken in a later layer
restores them."""

import torch
from torch import Tensor, nn


class FrozenLayers(nn.Module):
    """relu(x W_1^T), then relu(· W_2^T), …, each W_i held as its nonzeros (COO) only."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

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

    def apply_layer(self, i: int, x: Tensor) -> Tensor:
        """relu(x W_i^T) as one sparse-dense product."""
        return torch.relu(torch.sparse.mm(self.matrix(i), x.T).T)

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
