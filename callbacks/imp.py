"""IMP, the paper's baseline (SPEC §5), as a callback around Adam training of the ReLU MLP.

A round is ``trainer.max_epochs`` epochs of training. At the end of a round the callback
prunes by global magnitude over all weight matrices (``torch.nn.utils.prune``), measures the
task's metric on the pruned network, and at the start of the next round rewinds the
survivors (masks kept) and empties Adam's state, which is the same as a fresh Adam. The
number of rounds follows from the counts alone (``prune_schedule``), so the callback sets
the fit's epoch limit to rounds × epochs, and a resumed fit ends where a whole one does.

The metric of a target s is the one measured right after the first prune that brings the
count to ≤ s. With ``retrain`` it is instead measured after one more round of training with
that mask: the next round trains exactly that network, so its metric before pruning is it,
and only the last target costs an extra round.

Two records beyond the paper: ``dense_metric``, the metric of the dense network at the end of the
first round, before the first prune (measured on the evaluation batches, which draw nothing from
torch's global generator, so every later batch order is unchanged); and ``networks[s]``, the
weight matrices (sparse COO, nonzeros only) of the network whose metric was recorded for s.
"""

import math

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from torch.nn.utils import prune


def round_fraction(prune_iters: float, total: int, largest_target: int) -> float:
    """The fraction of the remaining weights pruned each round, computed as the paper's code does.

    The paper passes ``1 − s_i/N`` with ``s_i = (1 − a)·N`` to torch, not ``a`` itself, and
    torch rounds ``amount · remaining``; keeping that float expression keeps the counts equal.
    """
    if prune_iters < 1:
        fraction = prune_iters
    else:
        fraction = 1 - (largest_target / total) ** (1 / (prune_iters - 1))
    kept = (1 - fraction) * total
    return min(max(1 - kept / total, 0.0), 1.0)


def check_prune_iters(prune_iters: float) -> None:
    if prune_iters < 0 or (prune_iters >= 1 and (prune_iters != int(prune_iters) or prune_iters < 2)):
        raise ValueError(
            "imp.prune_iters must be 0 (train once, prune straight to s), a fraction in (0, 1) "
            f"pruned each round, or a whole number of rounds p >= 2; got {prune_iters}"
        )


def prune_schedule(total: int, targets: list[int], prune_iters: float) -> list[list[int]]:
    """For each round, the nonzero counts its prunes leave (one per round, or one per target for 0).

    Rounds go on until the count is at most the smallest target; a round that would prune
    nothing prunes one weight. If the smallest target is at least ``total``, one round still
    prunes by the round fraction, as the paper's code does.
    """
    check_prune_iters(prune_iters)
    if prune_iters == 0:
        return [[min(t, total) for t in sorted(targets, reverse=True)]]
    smallest = min(targets)
    amount = round_fraction(prune_iters, total, max(targets))
    remaining, rounds = total, []
    while True:
        pruned = round(amount * remaining)
        if pruned == 0 and remaining > smallest:
            pruned = 1
        remaining -= pruned
        rounds.append([remaining])
        if remaining <= smallest:
            return rounds


class IMP(Callback):
    """Iterative magnitude pruning with rewinding, for ``SparseMLP(network="relu")``.

    Args:
        targets: the budgets s to record (the sweep sets them per point or per trajectory).
        prune_iters: 0.1 (default) prunes 10% of the remaining weights each round; another
            fraction in (0, 1) likewise; 0 trains once and prunes straight to each s; a whole
            number p >= 2 prunes a constant fraction so that p − 1 rounds reach the largest s.
        rewind_steps: rewind to the weights after this many training steps of the first
            round instead of the initial weights (late rewinding); 0 as in the paper.
        retrain: measure each target after one more round of training with its mask.
    """

    def __init__(
        self,
        targets: list[int] = (10,),
        prune_iters: float = 0.1,
        rewind_steps: int = 0,
        retrain: bool = False,
    ) -> None:
        targets = sorted({int(t) for t in targets})
        if not targets or targets[0] < 1:
            raise ValueError(f"IMP targets (the grid's s) must be at least 1, got {targets}")
        check_prune_iters(prune_iters)
        if rewind_steps < 0:
            raise ValueError(f"imp.rewind_steps must be 0 or more, got {rewind_steps}")
        if retrain and prune_iters == 0 and len(targets) > 1:
            raise ValueError("imp.retrain with imp.prune_iters 0 needs one target s per run")
        self.targets, self.prune_iters = targets, prune_iters
        self.rewind_steps, self.retrain = rewind_steps, retrain
        self.epochs_per_round: int | None = None
        self.schedule: list[list[int]] = []
        self.rewind_to: list[torch.Tensor] = []
        self.rounds_done = 0
        self.pending_rewind = False
        self.waiting_retrain: list[int] = []
        self.results: dict[int, dict] = {}
        self.history: list[dict] = []
        self.dense_metric: float | None = None
        self.networks: dict[int, list[torch.Tensor]] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if pl_module.network != "relu":
            raise ValueError("IMP prunes the plain ReLU MLP: set model.network to 'relu'")
        if self.epochs_per_round is None:
            if trainer.max_epochs is None or trainer.max_epochs < 1:
                raise ValueError("IMP needs trainer.max_epochs >= 1: the epochs of one round")
            self.epochs_per_round = trainer.max_epochs
        net = pl_module.net
        for module, name in net.prunable():
            if not prune.is_pruned(module):
                prune.identity(module, name)
        self.schedule = prune_schedule(net.num_weights(), self.targets, self.prune_iters)
        rounds = len(self.schedule) + int(self.retrain)
        trainer.fit_loop.max_epochs = rounds * self.epochs_per_round
        if self.rewind_steps == 0 and not self.rewind_to:
            self.rewind_to = [layer.weight_orig.detach().clone() for layer in net.layers]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self.rewind_steps and not self.rewind_to and trainer.global_step == self.rewind_steps:
            self.rewind_to = [layer.weight_orig.detach().clone() for layer in pl_module.net.layers]

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.pending_rewind:
            return
        with torch.no_grad():
            for layer, start in zip(pl_module.net.layers, self.rewind_to, strict=True):
                layer.weight_orig.copy_(start)
        for optimizer in trainer.optimizers:
            optimizer.state.clear()
        self.pending_rewind = False

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.epochs_per_round:
            return
        if not self.rewind_to:
            raise ValueError(
                f"imp.rewind_steps={self.rewind_steps} is more than the {trainer.global_step} "
                "training steps of one round"
            )
        if not all(bool(torch.isfinite(w).all()) for w in pl_module.net.weights()):
            raise FloatingPointError(
                f"IMP diverged in round {self.rounds_done + 1}: the weights are not finite; "
                "lower model.lr or check the data scale"
            )
        batches = trainer.datamodule.val_dataloader()
        if self.rounds_done == 0 and self.dense_metric is None:
            self.dense_metric = pl_module.measure(batches)
        if self.waiting_retrain:
            metric = pl_module.measure(batches)
            for s in self.waiting_retrain:
                self.results[s]["metric"] = metric
                self.networks[s] = _nonzeros(pl_module)
            self.waiting_retrain = []
        if self.rounds_done < len(self.schedule):
            for count in self.schedule[self.rounds_done]:
                self._prune_to(pl_module, count)
                metric = pl_module.measure(batches)
                self._record(trainer, pl_module, count, metric)
            last = self.history[-1]
            pl_module.log_dict(
                {
                    "imp/nnz": float(last["nnz"]),
                    "imp/metric": last["metric"],
                    "imp/round": float(last["round"]),
                }
            )
        self.rounds_done += 1
        self.pending_rewind = True

    def _prune_to(self, pl_module: LightningModule, count: int) -> None:
        remaining = sum(int(layer.weight_mask.sum()) for layer in pl_module.net.layers)
        if remaining > count:
            prune.global_unstructured(
                pl_module.net.prunable(), pruning_method=prune.L1Unstructured, amount=remaining - count
            )

    def _record(self, trainer: Trainer, pl_module: LightningModule, count: int, metric: float) -> None:
        nnz = pl_module.nnz()
        self.history.append({"round": self.rounds_done + 1, "nnz": nnz, "metric": metric})
        for s in self.targets:
            if s not in self.results and count <= s:
                self.results[s] = {"metric": metric, "nnz": nnz, "round": self.rounds_done + 1}
                self.networks[s] = _nonzeros(pl_module)
                if self.retrain:
                    self.results[s]["metric"] = math.nan
                    self.waiting_retrain.append(s)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_scalar("imp/metric_vs_nnz", metric, nnz)

    def state_dict(self) -> dict:
        return {
            "rewind_to": self.rewind_to,
            "rounds_done": self.rounds_done,
            "pending_rewind": self.pending_rewind,
            "waiting_retrain": self.waiting_retrain,
            "results": self.results,
            "history": self.history,
            "epochs_per_round": self.epochs_per_round,
            "dense_metric": self.dense_metric,
            "networks": self.networks,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.rewind_to = state_dict["rewind_to"]
        self.rounds_done = state_dict["rounds_done"]
        self.pending_rewind = state_dict["pending_rewind"]
        self.waiting_retrain = state_dict["waiting_retrain"]
        self.results = state_dict["results"]
        self.history = state_dict["history"]
        self.epochs_per_round = state_dict["epochs_per_round"]
        self.dense_metric = state_dict.get("dense_metric")
        self.networks = state_dict.get("networks", {})


def _nonzeros(pl_module: LightningModule) -> list[torch.Tensor]:
    """The network's weight matrices as they are now, as sparse COO tensors (nonzeros only)."""
    return [w.detach().to_sparse() for w in pl_module.net.weights()]
