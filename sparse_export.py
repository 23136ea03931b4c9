"""Sparse MLPs saved as their nonzeros only, and loaded back as a plain ``torch.nn.Module``.

This file stands alone: it needs torch and nothing else (no other file of the project), so it
can be copied next to an exported network and used anywhere.

The file is ``torch.save`` of a flat dict (load it with ``torch.load(path, weights_only=True)``):

    "header"            a JSON string, below
    "layer<i>.indices"  int64 (2, nnz_i): row and column of each nonzero of layer i
    "layer<i>.values"   (nnz_i,): the nonzeros, in the network's dtype
    "gates.units"       int64 (u,): the units of the last hidden layer that have a nonzero weight
    "gates.rows"        (u, inputs): their random gates          (only with gating "random_gates")

Layer i is an (outputs × inputs) matrix, as ``nn.Linear.weight`` is: layer 0 takes the network's
input, each next layer the previous layer's output. The header says how they compose:

    format, version     "sparse-mlp", 1
    layers              [{"shape": [outputs, inputs], "nnz": count}, ...] in that order
    output              "sum":    every layer is hidden (ReLU after it) and the output is the sum
                                  over the last layer's units (the fused scalar network of AIHT);
                        "linear": the last layer is the output layer (no activation after it)
    gating              "relu":   a hidden unit is relu(x·w_j) (gates equal weights)
                        "random_gates": the last hidden layer's unit j is 1[x·h_j > 0]·(x·w_j)
                                  with its stored random gate h_j (AIHT's convex mode)
    input_dim, output_dim, dtype
    info                what was trained: task, method, m, s, seed, settings, metric, …

Outputs with ``output_dim`` 1 come out as a vector of length n, like the trained model's.
"""

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

FORMAT = "sparse-mlp"
VERSION = 1
HEADER = "header"


def _nonzeros(matrix: Tensor) -> tuple[Tensor, Tensor]:
    """(indices (2, nnz), values) of a dense or sparse COO matrix, explicit zeros dropped."""
    matrix = matrix.detach().cpu()
    if matrix.is_sparse:
        matrix = matrix.coalesce()
        indices, values = matrix.indices(), matrix.values()
    else:
        indices = matrix.nonzero().T
        values = matrix[indices[0], indices[1]]
    keep = values != 0
    return indices[:, keep].clone().long(), values[keep].clone()


def save_sparse_mlp(
    path: str | Path | object,  # a file name, or a binary file open for writing
    layers: list[Tensor],
    output: str,
    gates: Tensor | Callable[[Tensor], Tensor] | None = None,
    info: dict | None = None,
) -> dict:
    """Writes ``layers`` (each outputs × inputs, dense or sparse COO) as their nonzeros to
    ``path`` (a file name, or a binary file open for writing).

        ``output`` is "sum" or "linear" (see the module docstring); ``gates`` are the random gates
        (units × inputs) of the last hidden layer in convex mode, of which only the rows of units
        with a nonzero weight are kept (or a function giving the rows of given units). ``info`` must
        be JSON-serialisable. Returns the header.
    """
    if output not in ("sum", "linear"):
        raise ValueError(f"output must be 'sum' or 'linear', got {output!r}")
    if not layers:
        raise ValueError("a network needs at least one layer")
    tensors: dict[str, object] = {}
    shapes = []
    for i, layer in enumerate(layers):
        indices, values = _nonzeros(layer)
        tensors[f"layer{i}.indices"], tensors[f"layer{i}.values"] = indices, values
        shapes.append({"shape": [int(n) for n in layer.shape], "nnz": int(values.numel())})
    if gates is not None:
        gated = len(layers) - 1 if output == "sum" else len(layers) - 2
        if gated < 0:
            raise ValueError("gates need a hidden layer")
        units = torch.unique(tensors[f"layer{gated}.indices"][0])
        tensors["gates.units"] = units
        rows = gates(units) if callable(gates) else gates.detach()[units.to(gates.device)]
        tensors["gates.rows"] = rows.cpu().clone()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "layers": shapes,
        "output": output,
        "gating": "relu" if gates is None else "random_gates",
        "input_dim": shapes[0]["shape"][1],
        "output_dim": 1 if output == "sum" else shapes[-1]["shape"][0],
        "dtype": str(tensors["layer0.values"].dtype).removeprefix("torch."),
        "info": info or {},
    }
    tensors[HEADER] = json.dumps(header, sort_keys=True)
    torch.save(tensors, path if hasattr(path, "write") else Path(path))
    return header


class ExportError(ValueError):
    """A file that is not a valid export: ``path`` and the ``field`` found wrong are named."""

    def __init__(self, path, field: str, reason: str) -> None:
        super().__init__(f"{path}: {field}: {reason}")
        self.path, self.field = path, field


def read_sparse_mlp(path: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """The header and the tensors of an exported network (no code from the file is run), each
    checked against the format (``ExportError`` names the file and the field that is wrong)."""
    if not Path(path).is_file():  # a FIFO or a device would block or never end
        raise ExportError(path, "file", "not a regular file")
    try:
        stored = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every way a file can fail to unpickle
        raise ExportError(path, "file", f"not a torch.save file ({type(exc).__name__}: {exc})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get(HEADER), str):
        raise ExportError(path, HEADER, f"missing: it is not a sparse MLP export (no {HEADER!r} entry)")
    try:
        header = json.loads(stored.pop(HEADER))
    except ValueError:
        raise ExportError(path, HEADER, "not JSON") from None
    if not isinstance(header, dict):
        raise ExportError(path, HEADER, "not a JSON object")
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ExportError(
            path,
            "format",
            f"format {header.get('format')!r} version {header.get('version')!r}; "
            f"this loader reads {FORMAT!r} version {VERSION}",
        )
    _check_header(path, header)
    _check_tensors(path, header, stored)
    return header, stored


def _count(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _check_header(path, header: dict) -> None:
    layers = header.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ExportError(path, "layers", f"{layers!r} is not a non-empty list")
    for i, spec in enumerate(layers):
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if not (isinstance(shape, list) and len(shape) == 2 and all(_count(n, 1) for n in shape)):
            raise ExportError(path, f"layers[{i}].shape", f"{shape!r} is not two positive sizes")
        nnz = spec.get("nnz")
        if not (_count(nnz, 0) and nnz <= shape[0] * shape[1]):
            raise ExportError(path, f"layers[{i}].nnz", f"{nnz!r} is not a count of its {shape} entries")
        if i and shape[1] != layers[i - 1]["shape"][0]:
            raise ExportError(
                path,
                f"layers[{i}].shape",
                f"takes {shape[1]} inputs, the layer before gives {layers[i - 1]['shape'][0]}",
            )
    output, gating = header.get("output"), header.get("gating")
    if output not in ("sum", "linear"):
        raise ExportError(path, "output", f"{output!r} is not 'sum' or 'linear'")
    if gating not in ("relu", "random_gates") or (
        gating == "random_gates" and output == "linear" and len(layers) < 2
    ):
        raise ExportError(path, "gating", f"{gating!r} is not 'relu' or 'random_gates' on a hidden layer")
    if header.get("input_dim") != layers[0]["shape"][1] or not _count(header.get("input_dim"), 1):
        raise ExportError(
            path, "input_dim", f"{header.get('input_dim')!r}, the first layer takes {layers[0]['shape'][1]}"
        )
    outputs = 1 if output == "sum" else layers[-1]["shape"][0]
    if header.get("output_dim") != outputs or not _count(header.get("output_dim"), 1):
        raise ExportError(path, "output_dim", f"{header.get('output_dim')!r}, the layers give {outputs}")
    dtype = getattr(torch, str(header.get("dtype")), None)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ExportError(path, "dtype", f"{header.get('dtype')!r} is not a floating point dtype")
    if not isinstance(header.get("info", {}), dict):
        raise ExportError(path, "info", "not a JSON object")


def _check_tensors(path, header: dict, stored: dict) -> None:
    layers, dtype = header["layers"], getattr(torch, header["dtype"])
    expected = {f"layer{i}.{part}" for i in range(len(layers)) for part in ("indices", "values")}
    if header["gating"] == "random_gates":
        expected |= {"gates.units", "gates.rows"}
    for key in sorted(expected ^ set(stored)):
        raise ExportError(path, key, "missing" if key in expected else "not part of the format")
    for i, spec in enumerate(layers):
        (rows, cols), nnz = spec["shape"], spec["nnz"]
        indices, values = stored[f"layer{i}.indices"], stored[f"layer{i}.values"]
        _check_tensor(path, f"layer{i}.indices", indices, torch.int64, (2, nnz))
        _check_tensor(path, f"layer{i}.values", values, dtype, (nnz,))
        if nnz and (indices.min() < 0 or indices[0].max() >= rows or indices[1].max() >= cols):
            raise ExportError(path, f"layer{i}.indices", f"outside the layer's {rows} × {cols} entries")
        if nnz and torch.unique(indices[0] * cols + indices[1]).numel() != nnz:
            raise ExportError(path, f"layer{i}.indices", "an entry is stored twice")
    if header["gating"] == "random_gates":
        gated = layers[-1 if header["output"] == "sum" else -2]["shape"]
        units, gate_rows = stored["gates.units"], stored["gates.rows"]
        _check_tensor(
            path, "gates.units", units, torch.int64, (units.numel(),) if isinstance(units, Tensor) else ()
        )
        if units.numel() and (
            units.min() < 0 or units.max() >= gated[0] or torch.unique(units).numel() != units.numel()
        ):
            raise ExportError(path, "gates.units", f"not distinct units of the {gated[0]} of the gated layer")
        _check_tensor(path, "gates.rows", gate_rows, dtype, (units.numel(), gated[1]))


def _check_tensor(path, key: str, tensor, dtype: torch.dtype, shape: tuple) -> None:
    if not isinstance(tensor, Tensor) or tensor.layout != torch.strided:
        raise ExportError(path, key, "not a dense tensor")
    if tensor.dtype != dtype:
        raise ExportError(path, key, f"dtype {tensor.dtype}, the format needs {dtype}")
    if tuple(tensor.shape) != tuple(shape):
        raise ExportError(path, key, f"shape {tuple(tensor.shape)}, the header says {tuple(shape)}")


class SparseLinear(nn.Module):
    """x ↦ x Wᵀ with W (outputs × inputs) held as a sparse COO buffer."""

    def __init__(self, indices: Tensor, values: Tensor, shape: list[int]) -> None:
        super().__init__()
        self.register_buffer(
            "weight", torch.sparse_coo_tensor(indices, values, shape, check_invariants=True).coalesce()
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.sparse.mm(self.weight, x.T).T


class SparseReluMLP(nn.Module):
    """The exported network: hidden ``SparseLinear`` layers with ReLU (or, for the last hidden
    layer in convex mode, gating by its random gates), then the output layer or the sum."""

    def __init__(
        self, hidden: list[SparseLinear], output: SparseLinear | None, gates: Tensor | None, header: dict
    ) -> None:
        super().__init__()
        self.hidden = nn.ModuleList(hidden)
        self.output = output
        self.register_buffer("gates", gates)
        self.header = header

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.hidden):
            z = layer(x)
            if self.gates is not None and i == len(self.hidden) - 1:
                x = z * (torch.sparse.mm(self.gates, x.T).T > 0)
            else:
                x = torch.relu(z)
        y = self.output(x) if self.output is not None else x.sum(1, keepdim=True)
        return y.squeeze(-1) if self.header["output_dim"] == 1 else y

    def to_dense(self) -> nn.Sequential:
        """The same network as ``nn.Linear`` and ``nn.ReLU`` layers with dense weights (the
        output sum becomes a Linear of ones); only without random gates."""
        if self.gates is not None:
            raise ValueError("a network with random gates is not a plain ReLU MLP")
        modules: list[nn.Module] = []
        for layer in self.hidden:
            modules += [_dense_linear(layer.weight.to_dense()), nn.ReLU()]
        if self.output is not None:
            modules.append(_dense_linear(self.output.weight.to_dense()))
        else:
            width = self.hidden[-1].weight.shape[0]
            modules.append(_dense_linear(torch.ones(1, width, dtype=self.hidden[-1].weight.dtype)))
        if self.header["output_dim"] == 1:
            modules.append(nn.Flatten(0))
        return nn.Sequential(*modules)


def _dense_linear(weight: Tensor) -> nn.Linear:
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=weight.dtype)
    with torch.no_grad():
        linear.weight.copy_(weight)
    return linear


def load_sparse_mlp(path: str | Path) -> SparseReluMLP:
    """The network stored at ``path`` as a ``SparseReluMLP`` (its header in ``.header``)."""
    header, tensors = read_sparse_mlp(path)
    layers = [
        SparseLinear(tensors[f"layer{i}.indices"], tensors[f"layer{i}.values"], spec["shape"])
        for i, spec in enumerate(header["layers"])
    ]
    hidden, output = (layers, None) if header["output"] == "sum" else (layers[:-1], layers[-1])
    gates = None
    if header["gating"] == "random_gates":
        units, rows = tensors["gates.units"], tensors["gates.rows"]
        width, inputs = hidden[-1].weight.shape
        row_index = units.repeat_interleave(inputs)
        col_index = torch.arange(inputs).repeat(units.numel())
        gates = torch.sparse_coo_tensor(
            torch.stack([row_index, col_index]), rows.reshape(-1), (width, inputs), check_invariants=True
        ).coalesce()
    return SparseReluMLP(hidden, output, gates, header)
