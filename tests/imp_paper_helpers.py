"""Running the project's IMP through Lightning next to the paper-way reference
(``tests/reference_imp.py``), and checking that the two computed the same thing."""

import torch
from pytorch_lightning import Callback, Trainer

from callbacks.imp import IMP
from tests.helpers import QUIET, relu_model


class RoundBatches(Callback):
    """The (x, y) of every training step, grouped by IMP round."""

    def __init__(self, epochs_per_round: int) -> None:
        self.epochs_per_round = epochs_per_round
        self.rounds: list[list[tuple[torch.Tensor, torch.Tensor]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        round_index = trainer.current_epoch // self.epochs_per_round
        while len(self.rounds) <= round_index:
            self.rounds.append([])
        self.rounds[round_index].append((batch[0].clone(), batch[1].clone()))


def project_imp(
    datamodule,
    m: int,
    seed: int,
    epochs: int,
    targets: list[int],
    num_layers: int = 1,
    loss: str = "mse",
    prune_iters: float = 0.1,
    record_batches: bool = True,
    **trainer_kwargs,
):
    """IMP on ``datamodule`` through the real pipeline (float32); returns (model, imp, batches),
    batches None unless ``record_batches`` (they are copies of every step's batch: large)."""
    model = relu_model(
        width=m,
        input_dim=datamodule.num_features,
        output_dim=datamodule.output_dim,
        seed=seed,
        num_layers=num_layers,
        loss=loss,
    )
    imp = IMP(targets=targets, prune_iters=prune_iters)
    batches = RoundBatches(epochs) if record_batches else None
    kwargs = dict(QUIET, max_epochs=epochs, precision="32-true", limit_val_batches=0)
    kwargs.update(trainer_kwargs)
    callbacks = [imp] if batches is None else [imp, batches]
    Trainer(callbacks=callbacks, **kwargs).fit(model, datamodule=datamodule)
    return model, imp, batches


def effective_rounds(counts: list[int], total: int) -> list[int]:
    """The indices of the reference's rounds that pruned something (the others are idle)."""
    previous = [total, *counts[:-1]]
    last = len(counts) - 1
    pairs = enumerate(zip(previous, counts, strict=True))
    return [i for i, (before, after) in pairs if after < before or i == last]


def assert_same_as_paper(model, imp, batches, ref: dict, ref_batches: list | None = None) -> None:
    """Same counts round by round, same masks, same batches, and the same metric bit for bit."""
    kept = effective_rounds(ref["counts"], model.net.num_weights())
    assert [h["nnz"] for h in imp.history] == [ref["counts"][i] for i in kept]
    for layer, mask in zip(model.net.layers, ref["masks"], strict=True):
        assert torch.equal(layer.weight_mask, mask)
    # exact: IMP's contract: the paper's float32 steps and evaluation, the same ops in the same order
    assert {s: r["metric"] for s, r in imp.results.items()} == ref["results"]
    if ref_batches is not None:
        assert len(batches.rounds) == len(kept)
        for ours, i in zip(batches.rounds, kept, strict=True):
            theirs = ref_batches[i]
            assert len(ours) == len(theirs)
            for (x, y), (x_ref, y_ref) in zip(ours, theirs, strict=True):
                assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
