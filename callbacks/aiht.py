"""AIHT, scalar output (SPEC §2), as a callback that rewrites the weights between steps.

The module's training step leaves the full gradient g = A^T (A w − b) in ``weight.grad``
(the gradient of ½‖A w − b‖² with the gates held constant). This callback, in
``on_before_optimizer_step``, turns it into one AIHT update:

1. step size mu = ‖g_S‖² / (‖A_S g_S‖² + 1e-8) on the current support S (1e-14 if empty);
2. t = w − mu·g, keep its s largest-magnitude nonzero entries: w~ on support S~;
3. refine on S~ with ``refine_steps`` Armijo-backtracked gradient steps (section 2, step 3);
4. write the result into the weights; then move the gates (sequential convex mode).

For vector outputs (SPEC §3: W1 and W2, a fixed step size, selection by a count sketch of
accumulated updates, no refinement) the update is ``callbacks/vector_aiht.py``'s; the gates move
the same way, following W1.
"""

import math

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from torch import Tensor

from callbacks.importance import IMPORTANCE_KINDS
from callbacks.vector_aiht import VectorAIHT

FIRST_STEP_SIZE = 1e-14
ARMIJO = 0.9
LINE_SEARCH_TRIES = 11


def top_s_nonzero(t: Tensor, s: int) -> Tensor:
    """Indices (ascending) of the s entries of t largest in magnitude, zeros never kept.

    Exact ties at the cut are common (units whose gates open on the same examples have equal
    gradient entries) and decide a run's outcome, so they follow one rule on every device: the
    larger flat index wins, as ``np.argsort(abs(t), kind="stable")[-s:]`` would choose.
    """
    magnitude = t.abs()
    k = min(s, int(torch.count_nonzero(magnitude)))
    if k == 0:
        return torch.zeros(0, dtype=torch.long, device=t.device)
    cut = torch.topk(magnitude, k, sorted=False).values.min()
    keep = magnitude > cut
    tied = (magnitude == cut).nonzero().squeeze(1)
    keep[tied[tied.numel() - (k - int(keep.sum())) :]] = True
    return keep.nonzero().squeeze(1)


def refine(a: Tensor, b: Tensor, w_tilde: Tensor, mu: Tensor, steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """SPEC §2 step 3 on f(w) = ‖a w − b‖²; returns (w, mu, f(w)).

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
            follow the weights from the second epoch on (sequential convex, SPEC §2).
        refine_steps: inner refinement steps per update (10 in the paper, 3 for Gaussian sensing);
            scalar outputs only.
        importance: vector outputs only: ``sketch`` (the count sketch of SPEC §3) or ``exact``
            (a dense accumulator of all m·(d + k) updates, for comparisons).
    """

    def __init__(
        self, sparsity: int = 10, convex: bool = False, refine_steps: int = 10, importance: str = "sketch"
    ) -> None:
        if sparsity < 1:
            raise ValueError(f"the sparsity budget s must be at least 1, got {sparsity}")
        if refine_steps < 0:
            raise ValueError(f"aiht.refine_steps must be 0 or more, got {refine_steps}")
        if importance not in IMPORTANCE_KINDS:
            kinds = ", ".join(IMPORTANCE_KINDS)
            raise ValueError(f"aiht.importance must be one of {kinds}, got {importance!r}")
        self.sparsity, self.convex, self.refine_steps = sparsity, convex, refine_steps
        self.updates = 0
        self.step_size = math.nan
        self._batch: tuple[Tensor, Tensor] | None = None
        self._batch_idx = 0
        self.vector = VectorAIHT(importance)

    def budget(self, pl_module: LightningModule) -> int:
        """The effective s of the layer in training: s / L (SPEC §4), capped at its weight count
        (W1 and W2 together for vector outputs)."""
        vector = [pl_module.output_weight] if pl_module.output_dim > 1 else []
        share = int(self.sparsity / pl_module.num_layers)
        return min(share, sum(p.numel() for p in [pl_module.weight, *vector]))

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        pl_module.convex = self.convex

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._batch, self._batch_idx = batch, batch_idx

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if pl_module.output_dim > 1:
            self._vector_update(trainer, pl_module)
            return
        x, b = self._batch
        self._batch = None
        weight = pl_module.weight
        grad = weight.grad
        weight.grad = None
        w, g = weight.detach().view(-1), grad.view(-1)

        support = (w != 0).nonzero().squeeze(1)
        if support.numel() > 0:
            g_s = g[support]
            a_g_s = pl_module.sensing_product(x, support, g_s)
            mu = g_s.square().sum() / (a_g_s.square().sum() + 1e-8)
        else:
            mu = torch.tensor(FIRST_STEP_SIZE, dtype=w.dtype, device=w.device)

        t = w - mu * g
        if not torch.isfinite(t).all():
            raise self._diverged(mu)
        kept = top_s_nonzero(t, self.budget(pl_module))

        a = pl_module.sensing_columns(x, kept)
        values, mu, f = refine(a, b, t[kept], mu, self.refine_steps)
        if not (torch.isfinite(f) and torch.isfinite(values).all()):
            raise self._diverged(mu)

        weight.zero_()
        weight.view(-1)[kept] = values
        self.updates += 1
        self.step_size = float(mu)
        if (
            pl_module.has_gates
            and not self.convex
            and trainer.current_epoch - pl_module.layer_start_epoch >= 1
        ):
            pl_module.gates.copy_(weight)

        mse = float(f) / b.numel()
        max_label = pl_module.max_label
        pl_module.log_dict(
            {
                "train/mse": mse,
                "train/psnr": 20 * math.log10(max_label) - 10 * math.log10(mse) if mse > 0 else math.inf,
                "train/step_size": self.step_size,
                "train/nnz": float(kept.numel()),
            },
            on_step=True,
            on_epoch=False,
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
        weight = pl_module.weight
        if not (torch.isfinite(weight).all() and torch.isfinite(pl_module.output_weight).all()):
            raise self._diverged(alpha)
        self.updates += 1
        self.step_size = alpha
        if not self.convex and trainer.current_epoch - pl_module.layer_start_epoch >= 1:
            pl_module.gates.copy_(weight)
        pl_module.log_dict({"train/step_size": alpha, "train/nnz": float(kept)}, on_step=True, on_epoch=False)

    def state_dict(self) -> dict:
        state = {"updates": self.updates, "step_size": self.step_size}
        vector = self.vector.state_dict()
        return state if vector is None else {**state, "vector": vector}

    def load_state_dict(self, state_dict: dict) -> None:
        self.updates = state_dict["updates"]
        self.step_size = state_dict["step_size"]
        self.vector.load_state_dict(state_dict.get("vector"))
