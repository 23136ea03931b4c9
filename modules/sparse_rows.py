"""Weights held as (flat index, value) pairs: the compact networks' state, and its rows.

A units × dim matrix W is held as the ascending unit-major flat indices j·dim + i of its
nonzeros and their values; only the rows of units that hold a nonzero ever become dense.
"""

import torch
from torch import Tensor


def units_of(index: Tensor, dim: int) -> Tensor:
    """The distinct units (ascending) that the ascending flat ``index`` touches."""
    return torch.unique_consecutive(torch.div(index, dim, rounding_mode="floor"))


def dense_rows(index: Tensor, values: Tensor, dim: int, units: Tensor) -> Tensor:
    """Rows ``units`` (ascending) of the matrix held by ``index``/``values``, as len(units) × dim;
    a unit without nonzeros gives a zero row."""
    out = values.new_zeros(units.numel(), dim)
    if index.numel() == 0 or units.numel() == 0:
        return out
    unit = torch.div(index, dim, rounding_mode="floor")
    row = torch.searchsorted(units, unit).clamp_(max=units.numel() - 1)
    inside = units[row] == unit
    out[row[inside], index[inside] % dim] = values[inside]
    return out


def flat_indices(units: Tensor, dim: int) -> Tensor:
    """Every flat index of the rows ``units``, row after row (ascending for ascending units)."""
    return (units.unsqueeze(1) * dim + torch.arange(dim, device=units.device)).reshape(-1)
