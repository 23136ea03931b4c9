"""AIHT, scalar output, as a callback that rewrites the weights between steps.

The module's training step leaves the residual r = A w − b of the batch (and, for a network
held densely, the full gradient g = A^T r in ``weight.grad``: the gradient of ½‖A w − b‖² with
the gates held constant). This callback, in ``on_before_optimizer_step``, turns it into one
AIHT update through the methods every AIHT network states (``pl_module.net``,
``modules/aiht_network.py``; dense or compact state alike):

1. step size mu = ‖g_S‖² / (‖A_S g_S‖² + 1e-8) on the current support S (1e-14 if empty);
2. t = w − mu·g, keep its s largest-magnitude nonzero entries: w~ on support S~
   (``modules/top_s.py``; a compact network goes over g in chunks of units);
3. refine on S~ with ``refine_steps`` Armijo-backtracked gradient steps (section 2, step 3);
4. write the result into the weights; then move the gates (sequential convex mode).

For vector outputs (W1 and W2, a fixed step size, selection by a count sketch of
accumulated updates, no refinement) the update is ``callbacks/aiht/vector.py``'s; the gates move
the same way, following W1.
"""

import math

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from torch import Tensor

from callbacks.aiht.importance import IMPORTANCE_KINDS
from callbacks.aiht.vector import START_ROWS, VectorAIHT
from modules.aiht_network import AIHTNetwork, ScalarUpdate, VectorUpdate

FIRST_STEP_SIZE = 1e-14
ARMIJO = 0.9
LINE_SEARCH_TRIES = 11


def refine(a: Tensor, b: Tensor, w_tilde: Tensor, mu: Tensor, steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """The refinement of the update (step 3) on f(w) = ‖a w − b‖²; returns (w, mu, f(w)).

    A trial w' = w − mu·g needs no new product: a w' = a w − mu·(a g).
    """
    w, aw = w_tilde, a @ w_tilde
    f_tilde = (aw - b).square().sum()
    f = f_tilde
    for _ in range(steps):
        g = a.T @ (aw - b)
        ag = a @ g
        g2 = g.square().sum()
        for _ in range(LINE_SEARCH_TRIES):
            aw_trial = aw - mu * ag
            f_trial = (aw_trial - b).square().sum()
            if f_trial <= f - ARMIJO * mu * g2:
                w, aw, f = w - mu * g, aw_trial, f_trial
                break
            mu = mu / 2
        else:
            w, aw, f = w_tilde, a @ w_tilde, f_tilde
    return w, mu, f


class AIHT(Callback):
    """Accelerated iterative hard thresholding for the scalar-output SparseMLP.

    Args:
        sparsity: the budget s (set per grid point by the sweep); above m·d it becomes m·d.
        convex: keep the random gates for good (the paper's ``--convex``); otherwise the gates
            follow the weights from the second epoch on (sequential convex mode).
        refine_steps: inner refinement steps per update (10 in the paper, 3 for Gaussian sensing);
            scalar outputs only.
        importance: vector outputs only: ``sketch`` (the paper's count sketch) or ``exact``
            (a dense accumulator of all m·(d + k) updates, for comparisons).
        start_rows: vector outputs only: which rows of W1 and W2 take start values at the first
            update (each epoch's first batch with minibatches): ``max_zero``, the paper's test,
            the rows whose largest entry is 0 (all-zero rows, and rows of negative weights and
            zeros); ``all_zero``, the all-zero rows only (what results written before this
            setting existed used).
    """

    def __init__(
        self,
        sparsity: int = 10,
        convex: bool = False,
        refine_steps: int = 10,
        importance: str = "sketch",
        start_rows: str = "max_zero",
    ) -> None:
        if sparsity < 1:
            raise ValueError(f"the sparsity budget s must be at least 1, got {sparsity}")
        if refine_steps < 0:
            raise ValueError(f"aiht.refine_steps must be 0 or more, got {refine_steps}")
        if importance not in IMPORTANCE_KINDS:
            kinds = ", ".join(IMPORTANCE_KINDS)
            raise ValueError(f"aiht.importance must be one of {kinds}, got {importance!r}")
        if start_rows not in START_ROWS:
            raise ValueError(f"aiht.start_rows must be one of {', '.join(START_ROWS)}, got {start_rows!r}")
        self.sparsity, self.convex, self.refine_steps = sparsity, convex, refine_steps
        self.updates = 0
        self.step_size = math.nan
        self._batch: tuple[Tensor, Tensor] | None = None
        self._batch_idx = 0
        self.vector = VectorAIHT(importance, start_rows)

    def budget(self, pl_module: LightningModule) -> int:
        """The effective s of the layer in training: s / L (one layer at a time), capped at its weight count
        (W1 and W2 together for vector outputs)."""
        share = int(self.sparsity / pl_module.net.num_layers)
        return min(share, pl_module.net.num_weights)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        net = pl_module.net
        update = VectorUpdate if net.output_dim > 1 else ScalarUpdate
        if not (isinstance(net, AIHTNetwork) and isinstance(net, update)):
            raise TypeError(
                f"AIHT trains a network with {update.__name__} (modules/aiht_network.py): "
                f"model.net is {type(net).__name__}; use modules.gated_mlp.GatedMLP"
            )
        net.set_convex(self.convex)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._batch, self._batch_idx = batch, batch_idx

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        net = pl_module.net
        if net.output_dim > 1:
            self._vector_update(trainer, pl_module)
            return
        x, b = self._batch
        self._batch = None
        r = pl_module.residual

        support, _ = net.support()
        if support.numel() > 0:
            g_s = net.support_gradient(x, r, support)
            a_g_s = net.sensing_product(x, support, g_s)
            mu = g_s.square().sum() / (a_g_s.square().sum() + 1e-8)
        else:
            mu = torch.tensor(FIRST_STEP_SIZE, dtype=b.dtype, device=b.device)

        try:
            kept, t_kept = net.candidates(x, r, mu, self.budget(pl_module))
        except FloatingPointError:
            raise self._diverged(mu) from None

        a = net.sensing_columns(x, kept)
        values, mu, f = refine(a, b, t_kept, mu, self.refine_steps)
        if not (torch.isfinite(f) and torch.isfinite(values).all()):
            raise self._diverged(mu)

        net.assign(kept, values)
        self.updates += 1
        self.step_size = float(mu)
        if not self.convex and trainer.current_epoch - net.layer_start_epoch >= 1:
            net.follow_weights()

        mse = float(f) / b.numel()
        max_label = pl_module.max_label
        pl_module.log_step(
            {
                "train/mse": mse,
                "train/psnr": 20 * math.log10(max_label) - 10 * math.log10(mse) if mse > 0 else math.inf,
                "train/step_size": self.step_size,
                "train/nnz": float(kept.numel()),
            }
        )

    def _diverged(self, step_size: float | Tensor) -> FloatingPointError:
        return FloatingPointError(
            f"AIHT diverged at update {self.updates}: the loss or the weights are not finite "
            f"(step size {float(step_size):.3g}); check the data scale and the budget s"
        )

    def _vector_update(self, trainer: Trainer, pl_module: LightningModule) -> None:
        x, _ = self._batch
        self._batch = None
        alpha, kept = self.vector.update(trainer, pl_module, x, self._batch_idx, self.budget(pl_module))
        if not torch.isfinite(pl_module.net.vector_support()[1]).all():
            raise self._diverged(alpha)
        self.updates += 1
        self.step_size = alpha
        if not self.convex and trainer.current_epoch - pl_module.net.layer_start_epoch >= 1:
            pl_module.net.follow_weights()
        pl_module.log_step({"train/step_size": alpha, "train/nnz": float(kept)})

    def state_dict(self) -> dict:
        state = {"updates": self.updates, "step_size": self.step_size}
        vector = self.vector.state_dict()
        return state if vector is None else {**state, "vector": vector}

    def load_state_dict(self, state_dict: dict) -> None:
        self.updates = state_dict["updates"]
        self.step_size = state_dict["step_size"]
        self.vector.load_state_dict(state_dict.get("vector"))
