"""IMP, the baseline, as a Lightning callback: global magnitude pruning with rewinding, the
paper's example order, its pruning schedule and its measurement."""

from callbacks.imp.callback import IMP

__all__ = ["IMP"]
