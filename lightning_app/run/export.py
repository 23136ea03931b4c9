"""A finished point's trained network, exported as its nonzeros only (``sparse_export.py`` at the
repository root holds the format and its loader, which need nothing else from the project).

AIHT's network is read off the model: the frozen hidden layers, the layer trained last, its
output weights W2 for vector outputs (as the output layer, W2ᵀ), and its random gates in convex
mode. IMP's network is the one IMP recorded for the point's s (``IMP.networks``), which for a
shared trajectory is not the network the run ends with.
"""

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lightning_app.files.safe_write import write_bytes
from modules.gated_mlp import GatedMLP
from modules.sparse_mlp import SparseMLP
from sparse_export import save_sparse_mlp

EXPORT_FILE = "sparse_network.pt"


@dataclass
class NetworkLayers:
    """A network as ``sparse_export.save_sparse_mlp`` takes it."""

    layers: list[Tensor]
    output: str  # "sum" or "linear"
    gates: Tensor | Callable[[Tensor], Tensor] | None = None

    def nnz_per_layer(self) -> list[int]:
        values = [layer.coalesce().values() if layer.is_sparse else layer for layer in self.layers]
        return [int(v.count_nonzero()) for v in values]


def aiht_network(model: SparseMLP) -> NetworkLayers:
    """The gated network as it evaluates: h = w (a ReLU MLP) unless convex, then its gates.
    Read as nonzeros (and the gate rows of units with a nonzero), never as m × d tensors, so that
    compact storage exports without its dense form."""
    net = model.net
    if not isinstance(net, GatedMLP):
        raise ValueError(f"only a gated network can be exported this way, not model.net {type(net).__name__}")
    indices, values, shape = net.hidden_layer()
    last = torch.sparse_coo_tensor(indices, values.detach(), shape, check_invariants=True).coalesce()
    layers = [net.frozen.matrix(i) for i in range(net.layer)] + [last]
    output = "sum"
    if net.output_dim > 1:
        layers.append(net.sparse_output_weight().detach().t().coalesce())
        output = "linear"
    gates = None
    if net.convex:
        device = values.device
        gates = lambda units: net.gate_rows(units.to(device)).detach()  # noqa: E731
    return NetworkLayers(layers, output, gates)


def imp_network(weights: list[Tensor]) -> NetworkLayers:
    """IMP's ReLU MLP from its weight matrices in layer order (the last is the output layer)."""
    return NetworkLayers(list(weights), "linear")


def export_network(folder: Path, network: NetworkLayers, info: dict) -> Path:
    """Saves ``network`` with ``info`` to ``folder`` (``write_export``); returns its path."""
    write_export(folder, network, info)
    return folder / EXPORT_FILE


def write_export(folder: Path, network: NetworkLayers, info: dict) -> dict:
    """Saves ``network`` with ``info`` (the point's settings and result) to ``folder``, written
    whole; returns what the point's ``result.json`` records of it (its name, size and SHA-256),
    so that a kept point whose export was replaced since (by a run killed before its own
    ``result.json``) is found out."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    save_sparse_mlp(buffer, network.layers, network.output, network.gates, info)
    data = buffer.getvalue()
    write_bytes(folder / EXPORT_FILE, data)
    return {
        "export": EXPORT_FILE,
        "export_bytes": len(data),
        "export_sha256": hashlib.sha256(data).hexdigest(),
    }
