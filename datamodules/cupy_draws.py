"""The paper's GPU draws, made with CuPy's generator and handed to torch through DLPack.

On a GPU the paper's code draws the random gates, the vector-output start values, the count
sketch's signs and the Gaussian sensing task's support and columns with CuPy's global generator
(``cupy.random``), reseeding it before every unit, block or column. With ``draws: cupy`` this
project makes the same calls, in the same order, so its numbers are the paper's GPU numbers for
the same CuPy release (CuPy does not promise its stream across major versions). The default,
``numpy``, is numpy's legacy generator, the paper's code run on a CPU; those draws live with
their users.

CuPy is imported here only, when one of these functions runs. It draws on a CUDA device: the one
``device`` names, or CuPy's current one when ``device`` is not a GPU; the result is a view of
CuPy's array (no copy) unless it has to move to ``device``.
"""

import contextlib
from collections.abc import Sequence

import torch
from torch import Tensor

DRAWS = ("numpy", "cupy")


class DrawsUnavailable(ValueError):
    """``draws: cupy`` cannot run here; the message names the setting and what to do."""


def cuda_available() -> bool:
    return torch.cuda.is_available()


def check_draws_name(draws: str, setting: str) -> None:
    if draws not in DRAWS:
        raise ValueError(f"{setting} must be one of {', '.join(DRAWS)}, got {draws!r}")


def cupy_extra() -> str:
    """The pyproject extra whose CuPy matches the CUDA major version torch was built with."""
    major = (torch.version.cuda or "13").split(".")[0]
    return "cupy" if major == "13" else f"cupy-cuda{major}"


def load_cupy(setting: str):
    """The ``cupy`` module, or ``DrawsUnavailable`` naming ``setting`` when there is no CUDA GPU,
    no CuPy, or a CuPy that cannot reach the GPU."""
    instead = f"or use --{setting} numpy (numpy's draws, as the paper's code on a CPU)"
    if not cuda_available():
        raise DrawsUnavailable(
            f"{setting}=cupy draws with CuPy on a CUDA GPU, and there is none here "
            f"(torch.cuda.is_available() is False); run on a machine with a CUDA GPU, {instead}"
        )
    install = f"pip install -e '.[{cupy_extra()}]' (CuPy for torch's CUDA {torch.version.cuda})"
    try:
        import cupy
    except ImportError as exc:
        raise DrawsUnavailable(
            f"{setting}=cupy needs CuPy, which cannot be imported here ({exc}): {install}, {instead}"
        ) from None
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CuPy's CUDA errors have no common base class
        raise DrawsUnavailable(
            f"{setting}=cupy: CuPy {cupy.__version__} cannot reach the CUDA GPU ({exc}); "
            f"install the CuPy for torch's CUDA: {install}, {instead}"
        ) from None
    return cupy


def _on(cupy, device: torch.device) -> contextlib.AbstractContextManager:
    """CuPy's device for ``device``: that GPU, or CuPy's current one when ``device`` is not CUDA."""
    if device.type != "cuda":
        return cupy.cuda.Device()
    return cupy.cuda.Device(device.index if device.index is not None else torch.cuda.current_device())


def to_torch(array, device: torch.device) -> Tensor:
    """A CuPy array as a torch tensor on ``device``: through DLPack, without a copy when the array
    is on that device already."""
    return torch.from_dlpack(array).to(device)


def gates(width: int, input_dim: int, seed: int, device: torch.device, setting: str) -> Tensor:
    """The random gates, width × input_dim float64 (``gate_rows`` of every unit)."""
    offset = gate_offset(seed, width * input_dim, device, setting)
    return gate_rows(range(width), input_dim, offset, device, setting)


def gate_offset(seed: int, num_weights: int, device: torch.device, setting: str) -> int:
    """The gates' seed offset: ``seed(seed)`` then ``randint(low=0, high=num_weights).item()``
    (0 when seed is 0)."""
    if seed == 0:
        return 0
    cp = load_cupy(setting)
    with _on(cp, device):
        cp.random.seed(seed)
        return int(cp.random.randint(low=0, high=num_weights).item())


def gate_rows(
    units: Sequence[int], input_dim: int, offset: int, device: torch.device, setting: str
) -> Tensor:
    """The gates of ``units``, len(units) × input_dim float64: unit j is ``seed(j + offset)`` then
    ``normal(size=input_dim)``."""
    cp = load_cupy(setting)
    with _on(cp, device):
        out = cp.empty((len(units), input_dim), dtype="float64")
        for row, j in enumerate(units):
            cp.random.seed(int(j) + offset)
            out[row] = cp.random.normal(size=input_dim)
        return to_torch(out, device)


def start_values(units: Sequence[int], size: int, bound: float, device: torch.device, setting: str) -> Tensor:
    """Vector outputs' start values, len(units) × size float64: unit j's row is
    ``seed(j)`` then ``uniform(-bound, bound, size=size)``."""
    cp = load_cupy(setting)
    with _on(cp, device):
        out = cp.empty((len(units), size), dtype="float64")
        for row, j in enumerate(units):
            cp.random.seed(j)
            out[row] = cp.random.uniform(-bound, bound, size=size)
        return to_torch(out, device)


def sign_table(block: int, shape: tuple[int, int], device: torch.device, setting: str) -> Tensor:
    """Count-sketch signs of one block of indices: ``seed(block)`` then
    ``choice([-1, 1], size=shape)``, as int64."""
    cp = load_cupy(setting)
    with _on(cp, device):
        cp.random.seed(block)
        return to_torch(cp.random.choice([-1, 1], size=shape), device).long()


def gaussian_support(n_cols: int, size: int, seed: int, device: torch.device, setting: str) -> Tensor:
    """The positions of x*'s ones (unsorted, int64 on the host): ``seed(seed)`` then
    ``choice(a=n_cols, size=size, replace=False)``."""
    cp = load_cupy(setting)
    with _on(cp, device):
        cp.random.seed(seed)
        return to_torch(cp.random.choice(a=n_cols, size=size, replace=False), device).long().cpu()


def gaussian_offset(seed: int, n_cols: int, device: torch.device, setting: str) -> int:
    """The Gaussian sensing columns' seed offset: ``seed(seed)`` then
    ``randint(low=0, high=n_cols).item()``, for every seed (0 too)."""
    cp = load_cupy(setting)
    with _on(cp, device):
        cp.random.seed(seed)
        return int(cp.random.randint(low=0, high=n_cols).item())


def gaussian_columns(
    columns: Sequence[int], n_rows: int, offset: int, device: torch.device, setting: str
) -> Tensor:
    """Columns ``columns`` of the Gaussian sensing matrix as the rows of a float64 matrix:
    column j is ``seed(j + offset)`` then ``normal(size=n_rows)``."""
    cp = load_cupy(setting)
    with _on(cp, device):
        out = cp.empty((len(columns), n_rows), dtype="float64")
        for row, j in enumerate(columns):
            cp.random.seed(j + offset)
            out[row] = cp.random.normal(size=n_rows)
        return to_torch(out, device)
