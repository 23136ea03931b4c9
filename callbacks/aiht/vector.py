"""AIHT, vector output: one update of W1 (m × d) and W2 (m × k) from the residual R.

The module's training step leaves R = dLoss/dY_hat (n × k) for the batch, computed before any
row is restarted. The update then goes unit by unit, in chunks of units sized by a memory budget,
reading and writing the network's rows through its own methods (dense or compact state):

1. start: at the first update (full batch) or the first batch of every epoch (minibatches),
   every row w1_j (w2_j) whose largest entry is 0, as the paper's code tests it (``max == 0``:
   an all-zero row, and also a row of negative weights and zeros, whose kept values are
   overwritten), takes numpy's ``seed(j)`` then ``uniform(±1/sqrt(d·m))`` (``±1/sqrt(m·k)``)
   draws, or CuPy's with the network's ``draws: cupy``; these values enter the gradients and the
   new values only. ``start_rows="all_zero"`` restarts the all-zero rows only (what the
   project did before it followed the paper's test);
2. gradients grad w1_j = P_j w2_j and grad w2_j = P_j^T w1_j, P_j = (D_j X)^T R;
3. new values w − alpha·grad with the fixed step size alpha (0.005; 2 for small budgets;
   0.001 with cross-entropy);
4. selection: W1's block j, then W2's block j, stream into ``StreamingSelection`` with their
   updates −alpha·grad, which keeps at most s entries by importance (count sketch by default).

No refinement steps. The gates move in the callback, as for scalar outputs.
"""

import math

import numpy as np
import torch
from torch import Tensor

from callbacks.aiht.importance import make_importance
from callbacks.aiht.selection import StreamingSelection
from datamodules import cupy_draws
from modules.vector_ops import unit_gradients

BASE_STEP = 0.005
SMALL_BUDGET_STEP = 2.0
CROSSENTROPY_STEP = 0.001
#: Which rows take start values: the paper's ``max == 0`` test, or the all-zero rows only.
START_ROWS = ("max_zero", "all_zero")


def vector_step_size(budget: int, width: int, crossentropy: bool) -> float:
    """The fixed step size; the cross-entropy rule wins over the small-budget rule."""
    if crossentropy:
        return CROSSENTROPY_STEP
    return SMALL_BUDGET_STEP if budget < 6 * width**0.536 else BASE_STEP


def initial_row(unit: int, size: int, bound: float, generator: np.random.RandomState | None = None):
    """Unit j's start values: ``np.random.seed(j)`` then ``size`` draws of uniform(−bound, bound).

    Re-seeding one ``generator`` gives the same numbers as a new RandomState(j), 25× faster.
    """
    generator = generator if generator is not None else np.random.RandomState()
    generator.seed(unit)
    return generator.uniform(-bound, bound, size)


def rows_to_start(block: Tensor, rule: str = "max_zero") -> Tensor:
    """Which rows of ``block`` take start values: ``max_zero``, the paper's test, the rows whose
    largest entry is 0 (all zero, or negative entries and zeros); ``all_zero``, the all-zero rows."""
    if rule == "max_zero":
        return block.amax(1) == 0
    if rule == "all_zero":
        return (block == 0).all(1)
    raise ValueError(f"aiht.start_rows must be one of {', '.join(START_ROWS)}, got {rule!r}")


def give_start_values(
    block: Tensor, units: list[int], bound: float, draws: str = "numpy", rule: str = "max_zero"
) -> None:
    """Overwrites the rows of ``block`` (the rows of ``units``) that ``rule`` picks with their start
    values, drawn by ``draws`` (``numpy`` or ``cupy``)."""
    rows = rows_to_start(block, rule).nonzero().squeeze(1).tolist()
    if draws == "cupy":
        if rows:
            values = cupy_draws.start_values(
                [units[r] for r in rows], block.shape[1], bound, block.device, "model.net.draws"
            )
            block[rows] = values.to(block)
        return
    generator = np.random.RandomState()
    for row in rows:
        values = initial_row(units[row], block.shape[1], bound, generator)
        block[row] = torch.from_numpy(values).to(block)


def units_per_chunk(n: int, element_size: int, memory_mb: float) -> int:
    """How many units' n-long work columns (patterns, X w1, R w2: about four per unit) fit."""
    return max(1, int(memory_mb * 2**20) // max(1, 4 * n * element_size))


@torch.no_grad()
def vector_update(
    x: Tensor,
    r: Tensor,
    net,
    importance,
    budget: int,
    alpha: float,
    initialise: bool,
    memory_mb: float = 32.0,
    draws: str = "numpy",
    start_rows: str = "max_zero",
) -> int:
    """One vector-output update, written into the network ``net`` (dense or compact state: it gives
    its support over [W1; W2], the rows of W1, W2 and the gates of any units, and takes the
    result); returns the number of kept entries."""
    m, d, k = net.width, net.layer_inputs, net.output_dim
    support, support_values = net.vector_support()
    selection = StreamingSelection(importance, budget, support, support_values.clone())
    size = units_per_chunk(x.shape[0], x.element_size(), memory_mb)
    if initialise:
        chunks = (torch.arange(first, min(m, first + size), device=x.device) for first in range(0, m, size))
    else:  # a unit whose weights are all zero has zero gradients and values: nothing to stream
        in_w1 = support < m * d
        chunks = torch.unique(torch.cat([support[in_w1] // d, (support[~in_w1] - m * d) // k])).split(size)
    for chunk in chunks:
        ids = chunk.tolist()
        block1, block2, gates = net.vector_rows(chunk)  # copies
        if initialise:
            give_start_values(block1, ids, 1 / math.sqrt(d * m), draws, start_rows)
            give_start_values(block2, ids, 1 / math.sqrt(m * k), draws, start_rows)
        grad1, grad2 = unit_gradients(x, r, block1, block2, gates)
        step1, step2 = alpha * grad1, alpha * grad2
        new1, new2 = block1 - step1, block2 - step2
        # Stream order: W1's row j, then W2's row j. A block with no nonzero new value and no
        # update changes nothing (its old values were zero, so none of it is kept): skipped.
        values, deltas = torch.cat([new1, new2], 1), torch.cat([-step1, -step2], 1)
        moving = torch.stack([(step1 != 0).any(1), (step2 != 0).any(1)], 1)
        busy = moving | torch.stack([(new1 != 0).any(1), (new2 != 0).any(1)], 1)
        entries = torch.cat([busy[:, :1].expand(-1, d), busy[:, 1:].expand(-1, k)], 1)
        starts, sizes, still = [], [], []
        for unit, (busy1, busy2), (moving1, moving2) in zip(ids, busy.tolist(), moving.tolist(), strict=True):
            if busy1:
                starts.append(unit * d)
                sizes.append(d)
                still.append(not moving1)
            if busy2:
                starts.append(m * d + unit * k)
                sizes.append(k)
                still.append(not moving2)
        if sizes:
            selection.offer_blocks(starts, sizes, values[entries], deltas[entries], still)
    idx, values = selection.result()
    net.vector_assign(idx, values)
    return idx.numel()


class VectorAIHT:
    """The vector-output half of the AIHT callback: the importance accumulator and the update.

    The accumulator (a count sketch unless ``importance`` is ``exact``) lives for the whole run
    and goes into checkpoints, so a resumed run continues with the same importances.
    """

    def __init__(self, importance: str = "sketch", start_rows: str = "max_zero") -> None:
        self.kind, self.start_rows = importance, start_rows
        self.importance = None
        self.importance_layer = 0
        self._saved_state: dict | None = None

    def update(self, trainer, pl_module, x: Tensor, batch_idx: int, budget: int) -> tuple[float, int]:
        """One update from the residual the training step left; returns (step size, kept entries)."""
        r, net = pl_module.residual, pl_module.net
        if self.importance is not None and self.importance_layer != net.layer:
            self.importance = None  # a new hidden layer is a new AIHT run: fresh importances
        self.importance_layer = net.layer
        if self.importance is None:
            self.importance = make_importance(
                self.kind, net.num_weights, budget, r.device, r.dtype, signs=net.draws
            )
            if self._saved_state is not None:
                if self._saved_state.get("kind") != self.kind:
                    raise ValueError(
                        f"the checkpoint's importance is {self._saved_state.get('kind')!r}, "
                        f"this run's aiht.importance is {self.kind!r}"
                    )
                self.importance.load_state_dict(self._saved_state)
                self._saved_state = None
        alpha = vector_step_size(budget, net.width, pl_module.loss == "crossentropy")
        # Full batch: start values at the first update only; minibatches: at every epoch's first.
        layer_epoch = trainer.current_epoch - net.layer_start_epoch
        initialise = batch_idx == 0 and (layer_epoch == 0 or trainer.num_training_batches > 1)
        kept = vector_update(
            x,
            r,
            net,
            self.importance,
            budget,
            alpha,
            initialise,
            net.gradient_memory_mb,
            net.draws,
            self.start_rows,
        )
        return alpha, kept

    def state_dict(self) -> dict | None:
        if self.importance is None:
            return self._saved_state
        return {"kind": self.kind, **self.importance.state_dict()}

    def load_state_dict(self, state: dict | None) -> None:
        self.importance, self._saved_state = None, state
