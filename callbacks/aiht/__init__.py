"""AIHT as Lightning callbacks: the update (scalar outputs, and vector outputs with their
importance-based selection and count sketch) and layer-by-layer training of deeper networks."""

from callbacks.aiht.callback import AIHT
from callbacks.aiht.layer_by_layer import LayerByLayer

__all__ = ["AIHT", "LayerByLayer"]
