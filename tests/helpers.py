"""Running the real Lightning pipeline on tiny planted problems, recording every update."""

from pathlib import Path

import torch
from pytorch_lightning import Callback, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint

from callbacks.aiht import AIHT, LayerByLayer
from callbacks.imp import IMP
from datamodules.planted import PlantedMLPDataModule
from lightning_app.cli import fit
from modules.gated_mlp import GatedMLP
from modules.relu_mlp import ReluMLP
from modules.sparse_mlp import SparseMLP


def gated_model(loss: str = "mse", **net_kwargs) -> SparseMLP:
    """The module around AIHT's gated network; ``net_kwargs`` are ``GatedMLP``'s settings."""
    return SparseMLP(GatedMLP(**net_kwargs), loss=loss)


def relu_model(loss: str = "mse", **net_kwargs) -> SparseMLP:
    """The module around IMP's ReLU MLP; ``net_kwargs`` are ``ReluMLP``'s settings."""
    return SparseMLP(ReluMLP(**net_kwargs), loss=loss)


def resume_from(path, **every) -> dict:
    """Keyword arguments that resume a run from the checkpoint file ``path``, written by a
    ``ModelCheckpoint`` into its folder every ``every`` (default ``every_n_epochs=1``): that
    callback again (Lightning restores its state, and warns when it is missing), saving nothing.
    """
    every = every or {"every_n_epochs": 1}
    again = ModelCheckpoint(dirpath=Path(path).parent, save_top_k=0, **every)
    return dict(ckpt_path=path, callbacks=[again], enable_checkpointing=True)


QUIET = dict(
    logger=False,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    num_sanity_val_steps=0,
)  # Trainer settings for tests: nothing written, nothing shown


class Recorder(Callback):
    """Weights and gates after every update, and the batches each update saw."""

    def __init__(self) -> None:
        self.weights: list[torch.Tensor] = []
        self.gates: list[torch.Tensor] = []
        self.batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append((batch[0].clone(), batch[1].clone()))
        if not self.gates:
            self.gates.append(pl_module.gates.detach().clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.weights.append(pl_module.weight.detach().clone())
        self.gates.append(pl_module.gates.detach().clone())


def tiny_run(
    m: int = 5,
    s: int = 7,
    n: int = 64,
    d: int = 6,
    seed: int = 0,
    epochs: int = 6,
    batch_size: int = 0,
    convex: bool = False,
    callbacks=(),
    ckpt_path=None,
    num_layers: int = 1,
    datamodule_class=PlantedMLPDataModule,
    model_kwargs=None,
    **trainer_kwargs,
):
    dm = datamodule_class(
        width=m,
        sparsity=s,
        seed=seed,
        nmeasurements=n,
        input_dim=d,
        batch_size=batch_size,
        num_layers=num_layers,
    )
    model = gated_model(width=m, input_dim=d, seed=seed, num_layers=num_layers, **(model_kwargs or {}))
    aiht = AIHT(sparsity=s, convex=convex)
    rec = Recorder()
    kwargs = dict(
        max_epochs=epochs,
        precision="64-true",
        **QUIET,
    )
    kwargs.update(trainer_kwargs)
    trainer = Trainer(callbacks=[LayerByLayer(), aiht, rec, *callbacks], **kwargs)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return trainer, model, dm, aiht, rec


def imp_run(
    m: int = 4,
    n: int = 64,
    d: int = 6,
    s: int = 20,
    seed: int = 0,
    epochs: int = 2,
    targets=None,
    callbacks=(),
    ckpt_path=None,
    imp_kwargs=None,
    **trainer_kwargs,
):
    """IMP on a tiny planted problem through the real Lightning pipeline (float32, full batch)."""
    dm = PlantedMLPDataModule(width=m, sparsity=s, seed=seed, nmeasurements=n, input_dim=d)
    model = relu_model(width=m, input_dim=d, seed=seed)
    imp = IMP(targets=targets or [s], **(imp_kwargs or {}))
    kwargs = dict(
        max_epochs=epochs,
        precision="32-true",
        **QUIET,
        limit_val_batches=0,
    )
    kwargs.update(trainer_kwargs)
    trainer = Trainer(callbacks=[imp, *callbacks], **kwargs)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return trainer, model, dm, imp


class RepeatedInputs(PlantedMLPDataModule):
    """Planted data whose second half of the inputs repeats the first: A has equal columns, so
    equal gradient entries tie at the top-s cut."""

    def setup(self, stage: str) -> None:
        super().setup(stage)
        half = self.x.shape[1] // 2
        self.x[:, half:] = self.x[:, :half]


class FixedPlanted(PlantedMLPDataModule):
    """Planted data that ignores the grid's s, standing in for the tasks whose data does not
    depend on s (where one IMP trajectory serves every s)."""

    data_depends_on_sparsity = False

    def __init__(self, sparsity: int = 10, **kwargs) -> None:
        super().__init__(sparsity=10, **kwargs)


PAPER_DB_TOLERANCE = 0.05


def figure1_point(m: int, s: int, num_layers: int = 1, **trainer_kwargs) -> float:
    """The final PSNR of a Figure 1 AIHT point at full size (n=50000, d=100, 15 epochs, seed 0)."""
    trainer, model, *_ = tiny_run(
        m=m, s=s, n=50000, d=100, epochs=15, num_layers=num_layers, **trainer_kwargs
    )
    assert model.nnz() <= s
    return float(trainer.callback_metrics["val/psnr"])


def run_fit(args: list[str]) -> list[dict]:
    """``python cli.py fit …`` in this process (``args`` starts with "fit"); the results."""
    assert args[0] == "fit"
    return fit(args[1:])
