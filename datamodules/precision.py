"""The floating-point type that the trainer's ``precision`` setting asks for."""

import torch


def trainer_dtype(trainer) -> torch.dtype:
    """float64 for ``precision: 64-true`` (the paper's arithmetic), float32 otherwise."""
    if trainer is None:
        return torch.float64
    return torch.float64 if str(trainer.precision).startswith("64") else torch.float32
