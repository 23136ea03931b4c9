"""Which state the gated network keeps: dense m × d tensors, or compact (index, value) pairs.

Dense state is the fastest where it fits: one product gives the whole gradient. Compact state
needs memory that grows with s, not with m (``modules/compact_gated.py``). ``auto`` takes
compact when the dense state would need more than a budget.
"""

STORAGES = ("dense", "compact", "auto")
DENSE_COPIES = 8  # weights, gradient, gates, the gradient's work copies, t and |t|, per entry


def dense_state_bytes(width: int, input_dim: int, output_dim: int, num_layers: int) -> int:
    """About the memory a dense layer's update holds (float64), for the widest layer."""
    inputs = max(input_dim, width) if num_layers > 1 else input_dim
    outputs = output_dim if output_dim > 1 else 0
    return DENSE_COPIES * 8 * width * (inputs + outputs)


def choose_storage(
    storage: str, dense_memory_mb: float, width: int, input_dim: int, output_dim: int, num_layers: int
) -> str:
    """``dense`` or ``compact``: as asked, or for ``auto`` by the dense state's size."""
    if storage not in STORAGES:
        raise ValueError(f"model.net.storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    if storage != "auto":
        return storage
    if dense_memory_mb <= 0:
        raise ValueError(f"model.net.dense_memory_mb must be positive, got {dense_memory_mb}")
    too_big = dense_state_bytes(width, input_dim, output_dim, num_layers) > dense_memory_mb * 2**20
    return "compact" if too_big else "dense"
