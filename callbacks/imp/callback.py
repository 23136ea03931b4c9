"""IMP, the paper's baseline (docs/algorithms.md: IMP), as a callback around Adam training of the ReLU MLP.

A round is ``trainer.max_epochs`` epochs of training. At the end of a round the callback
prunes by global magnitude over all weight matrices (``torch.nn.utils.prune``), measures the
task's metric on the pruned network, and at the start of the next round rewinds the
survivors (masks kept) and empties Adam's state, which is the same as a fresh Adam. The
number of rounds follows from the counts alone (``callbacks/imp/schedule.py``), so the callback
sets the fit's epoch limit to rounds × epochs, and a resumed fit ends where a whole one does.

What the paper's code ranks. It prunes with ``global_unstructured`` right after the last
optimiser step, and torch ranks ``module.weight``. In the first round the layers are not yet
reparametrised, so that is the trained weight itself; from the second round on it is the tensor
``weight_orig · weight_mask`` that the pruning hook computed at the last forward pass, i.e. the
weights *before* the round's last Adam step. Here every layer is reparametrised from the start
(which changes no arithmetic: the forward multiplies by a mask of ones) and the ranking is passed
explicitly, the trained weights in round 1 and the last forward's weights after it, so that a
forward pass outside training (Lightning's validation loop, say) cannot change what is pruned.

The examples come in the paper's order, on every task (``callbacks/imp/order.py``); the
datamodule says how its paper loaders behave: ``imp_shuffles_full_batch`` (whether the full-batch
training loader shuffles) and ``imp_measures_on_training_loader`` (planted: the measurement
passes over the training loader itself; otherwise over the unshuffled evaluation loader).
The measurement is the paper's (``callbacks/imp/metric.py``).

The metric of a target s is the one measured right after the first prune that brings the
count to ≤ s. With ``retrain`` it is instead measured after one more round of training with
that mask: the next round trains exactly that network, so its metric before pruning is it,
and only the last target costs an extra round.

Two records beyond the paper: ``dense_metric``, the metric of the dense network at the end of the
first round, before the first prune (measured on the evaluation batches with torch's global
generator restored afterwards, so every later batch order is unchanged); and ``networks[s]``, the
weight matrices (sparse COO, nonzeros only) of the network whose metric was recorded for s.
"""

import math

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor
from torch.nn.utils import prune

from callbacks.imp.metric import batches_in_order, paper_metric
from callbacks.imp.order import GlobalStream, IMPOrder, draws_per_pass
from callbacks.imp.schedule import check_prune_iters, idle_rounds_before, prune_schedule
from modules.relu_mlp import ReluMLP
from modules.step_scalars import write_epoch_scalars


class IMP(Callback):
    """Iterative magnitude pruning with rewinding, for ``SparseMLP`` around a ``ReluMLP``.

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
        self.idle_rounds: list[int] = []
        self.rewind_to: list[Tensor] = []
        self.last_forward: list[Tensor] | None = None  # the weights of the round's last training forward
        self.round_starts: list[int] = [0]  # where each round's draws start (callbacks/imp/order.py)
        self.order: IMPOrder | None = None
        self.rounds_done = 0
        self.pending_rewind = False
        self.waiting_retrain: list[int] = []
        self.results: dict[int, dict] = {}
        self.history: list[dict] = []
        self.dense_metric: float | None = None
        self.networks: dict[int, list[torch.Tensor]] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not isinstance(pl_module.net, ReluMLP):
            raise ValueError(
                f"IMP prunes the plain ReLU MLP, and model.net is {type(pl_module.net).__name__}: "
                "set model.net to modules.relu_mlp.ReluMLP"
            )
        if trainer.datamodule is None:
            raise ValueError("IMP needs a datamodule: it measures on the task's data after each prune")
        if self.epochs_per_round is None:
            if trainer.max_epochs is None or trainer.max_epochs < 1:
                raise ValueError("IMP needs trainer.max_epochs >= 1: the epochs of one round")
            self.epochs_per_round = trainer.max_epochs
        net = pl_module.net
        for module, name in net.prunable():
            if not prune.is_pruned(module):
                prune.identity(module, name)
        self.schedule = prune_schedule(net.num_weights(), self.targets, self.prune_iters)
        self.idle_rounds = idle_rounds_before(net.num_weights(), self.targets, self.prune_iters)
        rounds = len(self.schedule) + int(self.retrain)
        trainer.fit_loop.max_epochs = rounds * self.epochs_per_round
        if self.rewind_steps == 0 and not self.rewind_to:
            self.rewind_to = [layer.weight_orig.detach().clone() for layer in net.layers]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Puts the paper's example order on the training loader."""
        loader = trainer.train_dataloader
        datamodule = trainer.datamodule
        shuffle = datamodule.batch_size != 0 or datamodule.imp_shuffles_full_batch
        self.order = IMPOrder(
            GlobalStream(pl_module.net.initial_rng_state),
            loader.n,
            len(loader),
            self.epochs_per_round,
            shuffle,
            self.round_starts,
        )
        loader.sampler = self.order

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx) -> None:
        last_epoch = (trainer.current_epoch + 1) % self.epochs_per_round == 0
        if last_epoch and batch_idx == trainer.num_training_batches - 1:
            self.last_forward = [w.detach().clone() for w in pl_module.net.weights()]

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
        measurements = 0
        if self.rounds_done == 0 and self.dense_metric is None:
            self.dense_metric = self._measure_dense(trainer, pl_module)
        if self.waiting_retrain:
            metric = self._measure(trainer, pl_module, measurements)
            measurements += 1
            for s in self.waiting_retrain:
                self.results[s]["metric"] = metric
                self.networks[s] = _nonzeros(pl_module)
            self.waiting_retrain = []
        if self.rounds_done < len(self.schedule):
            scores = self._ranking(pl_module)
            for count in self.schedule[self.rounds_done]:
                self._prune_to(pl_module, count, scores)
                # prune_iters 0: the paper trains a fresh network per target, the same draws each time
                metric = self._measure(trainer, pl_module, measurements)
                self._record(trainer, pl_module, count, metric)
            measurements += 1
            last = self.history[-1]
            write_epoch_scalars(
                trainer,
                {
                    "imp/nnz": float(last["nnz"]),
                    "imp/metric": last["metric"],
                    "imp/round": float(last["round"]),
                },
            )
        next_round = self.rounds_done + 1
        idle = self.idle_rounds[next_round] if next_round < len(self.idle_rounds) else 0
        self.order.close_round(self.rounds_done, measurements, self._measure_draws(trainer), idle)
        self.rounds_done = next_round
        self.pending_rewind = True

    def _ranking(self, pl_module: LightningModule) -> list[Tensor]:
        """What the paper's pruning ranks now: the trained weights in the first round (its layers
        not yet reparametrised), afterwards the weights of the round's last training forward."""
        if self.rounds_done == 0:
            return [w.detach().clone() for w in pl_module.net.weights()]
        if self.last_forward is None:
            raise RuntimeError(f"IMP missed the weights of round {self.rounds_done + 1}'s last training step")
        scores, self.last_forward = self.last_forward, None
        return scores

    def _prune_to(self, pl_module: LightningModule, count: int, scores: list[Tensor]) -> None:
        remaining = sum(int(layer.weight_mask.sum()) for layer in pl_module.net.layers)
        if remaining > count:
            parameters = pl_module.net.prunable()
            prune.global_unstructured(
                parameters,
                pruning_method=prune.L1Unstructured,
                importance_scores=dict(zip(parameters, scores, strict=True)),
                amount=remaining - count,
            )

    def _measure_draws(self, trainer: Trainer) -> int:
        """Draws of one measurement pass: over the training loader (planted) or the unshuffled
        evaluation loader."""
        on_training_loader = trainer.datamodule.imp_measures_on_training_loader
        return draws_per_pass(self.order.shuffle) if on_training_loader else draws_per_pass(False)

    def _measure(self, trainer: Trainer, pl_module: LightningModule, earlier_measurements: int) -> float:
        """The metric after a prune, over the batches of the paper's measurement pass."""
        datamodule = trainer.datamodule
        position = self.order.measurement_position(
            self.rounds_done, earlier_measurements, self._measure_draws(trainer)
        )
        if datamodule.imp_measures_on_training_loader:
            loader = trainer.train_dataloader
            order = self.order.stream.loader_pass(position, loader.n, self.order.shuffle)
            batches = batches_in_order(loader.x, loader.y, loader.batch_size, order)
        else:
            batches = datamodule.val_dataloader()  # unshuffled: its one draw orders nothing
        return paper_metric(pl_module.net, batches, datamodule.metric_name, datamodule.max_label)

    def _measure_dense(self, trainer: Trainer, pl_module: LightningModule) -> float:
        """The metric of the network as it is, over the evaluation batches; the global generator's
        state is restored after the pass, so the paper's later batch orders are unchanged."""
        datamodule = trainer.datamodule
        with torch.random.fork_rng(devices=[]):
            return paper_metric(
                pl_module.net, datamodule.val_dataloader(), datamodule.metric_name, datamodule.max_label
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
            "last_forward": self.last_forward,
            "round_starts": self.round_starts,
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
        self.last_forward = state_dict["last_forward"]
        self.round_starts[:] = state_dict["round_starts"]
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
