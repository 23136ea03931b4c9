"""The random gate vectors h_j (docs/algorithms.md, the model), drawn exactly as the paper's code draws
them: with numpy's legacy generator (the paper's code on a CPU) or CuPy's (its GPU runs,
docs/reproducing.md)."""

from collections.abc import Sequence

import numpy as np
import torch

from datamodules import cupy_draws


def gate_seed_offset(seed: int, num_weights: int) -> int:
    """Offset added to the unit index before seeding: 0 for seed 0, else numpy's first randint(0, m·d)."""
    if seed == 0:
        return 0
    return int(np.random.RandomState(seed).randint(0, num_weights))


def random_gates(width: int, input_dim: int, seed: int, units: Sequence[int] | None = None) -> np.ndarray:
    """Gates of the given units (all by default) as a (len(units), input_dim) float64 array.

    Unit j's gate is the input_dim standard normals that numpy's legacy generator gives right
    after seeding with j + offset, so any block of units can be regenerated on its own.
    ``units`` may be any sequence of unit indices. Re-seeding one generator gives the same
    numbers as a fresh ``RandomState(j + offset)``, about 25 times faster.
    """
    offset = gate_seed_offset(seed, width * input_dim)
    units = range(width) if units is None else units
    out = np.empty((len(units), input_dim))
    generator = np.random.RandomState()
    for row, j in enumerate(units):
        generator.seed(int(j) + offset)
        out[row] = generator.normal(size=input_dim)
    return out


def gate_tensor(
    width: int, input_dim: int, seed: int, draws: str = "numpy", device: torch.device | str = "cpu"
) -> torch.Tensor:
    """All the gates as a (width, input_dim) float64 tensor on ``device``, drawn by ``draws``:
    ``numpy`` (``random_gates``) or ``cupy`` (``datamodules/cupy_draws.py``, on a CUDA GPU)."""
    device = torch.device(device)
    if draws == "cupy":
        return cupy_draws.gates(width, input_dim, seed, device, setting="model.net.draws")
    return torch.from_numpy(random_gates(width, input_dim, seed)).to(device)
