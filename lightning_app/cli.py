"""The LightningCLI subclass behind ``python cli.py fit``: one fresh DataModule, model and
Trainer per grid point, built from the parsed config with the point's m, s and seed."""

import importlib
import logging
import time
import warnings
from pathlib import Path

from jsonargparse import Namespace
from pytorch_lightning import LightningDataModule
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import TensorBoardLogger

from callbacks.aiht import AIHT
from callbacks.recovery import PlantedRecovery
from lightning_app.grid import GridPoint, grid_points
from lightning_app.sweep import run_grid
from modules.sparse_mlp import SparseMLP

DEFAULT_ROOT = "runs"
TRAINER_DEFAULTS = {
    "max_epochs": 15,
    "precision": "64-true",
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 1,
    "enable_model_summary": False,
}
QUIET_WARNINGS = (
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*`training_step` returned.*",
    ".*TensorBoardLogger.*tensorboardX.*",
    ".*tensorboardX.*",
)


class SweepCLI(LightningCLI):
    """``fit`` runs the grid ``sweep.*`` point by point instead of a single Trainer.fit."""

    def __init__(self, args=None) -> None:
        for pattern in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        super().__init__(
            model_class=SparseMLP,
            datamodule_class=LightningDataModule,
            subclass_mode_data=True,
            save_config_callback=None,
            trainer_defaults=TRAINER_DEFAULTS,
            seed_everything_default=False,
            args=args,
        )

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {"fit": {"model", "datamodule"}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--sweep.method", type=str, nargs="+", default=["aiht"], help="Methods to run (aiht)."
        )
        parser.add_argument(
            "--sweep.num_layers", type=int, nargs="+", default=[1], help="Numbers of hidden layers (1)."
        )
        parser.add_argument("--sweep.mlist", type=int, nargs="+", default=[10], help="Hidden widths m.")
        parser.add_argument(
            "--sweep.slist", type=int, nargs="+", default=[10], help="Sparsity budgets s (nonzero weights)."
        )
        parser.add_argument("--sweep.seedlist", type=int, nargs="+", default=[0], help="Seeds.")
        parser.add_argument(
            "--sweep.overwrite",
            type=bool,
            default=False,
            help="Run again points whose result.json says done.",
        )
        parser.add_class_arguments(AIHT, "aiht", skip={"sparsity"}, instantiate=False)
        parser.link_arguments("data", "model.input_dim", compute_fn=_num_features, apply_on="instantiate")
        parser.link_arguments("data", "model.output_dim", compute_fn=_output_dim, apply_on="instantiate")

    def instantiate_classes(self) -> None:
        """Classes are built per grid point in ``run_sweep``; here only the grid is checked."""
        sweep = self.config[self.subcommand].sweep
        self.points = grid_points(sweep.method, sweep.num_layers, sweep.mlist, sweep.slist, sweep.seedlist)
        self.model = self.datamodule = self.trainer = None

    def _run_subcommand(self, subcommand: str) -> None:
        self.run_sweep()

    def run_sweep(self) -> list[dict]:
        logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
        logging.getLogger("lightning_app").setLevel(logging.INFO)
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(message)s")
        config = self.config[self.subcommand]
        root = Path(config.trainer.default_root_dir or DEFAULT_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        self._parser(self.subcommand).save(
            config, root / "config.yaml", overwrite=True, skip_none=False, skip_check=True
        )
        self._point_objects(self.points[0])  # bad data or model settings stop here, before any run
        task = self._task_name()
        return run_grid(
            self.points, root, task, self.run_point, self.base_result, overwrite=config.sweep.overwrite
        )

    def _point_config(self, point: GridPoint) -> Namespace:
        config = self.config.clone()
        fit = config[self.subcommand]
        data_args = fit.data.init_args
        for key, value in (
            ("width", point.m),
            ("sparsity", point.s),
            ("seed", point.seed),
            ("num_layers", point.num_layers),
        ):
            if key in data_args:
                data_args[key] = value
        fit.model.width = point.m
        fit.model.seed = point.seed
        return config

    def _point_objects(self, point: GridPoint):
        self.config_init = self.parser.instantiate_classes(self._point_config(point))
        fit = self.config_init[self.subcommand]
        return fit.data, fit.model

    def base_result(self, point: GridPoint) -> dict:
        fit = self.config[self.subcommand]
        data_args = fit.data.init_args
        return {
            "task": self._task_name(),
            "method": point.method,
            "num_layers": point.num_layers,
            "m": point.m,
            "s": point.s,
            "seed": point.seed,
            "metric_name": self._metric_name(),
            "epochs": fit.trainer.max_epochs,
            "batch_size": data_args.get("batch_size", 0),
            "convex": fit.aiht.convex,
            "precision": str(fit.trainer.precision),
        }

    def run_point(self, point: GridPoint, folder: Path) -> dict:
        datamodule, model = self._point_objects(point)
        algorithm = AIHT(sparsity=point.s, **self.config[self.subcommand].aiht.as_dict())
        recovery = PlantedRecovery()
        callbacks = list(self._get(self.config_init, "trainer").get("callbacks") or [])
        logger = TensorBoardLogger(save_dir=str(folder), name="", version="", default_hp_metric=False)
        trainer = self.instantiate_trainer(
            callbacks=callbacks + [algorithm, recovery], logger=logger, default_root_dir=str(folder)
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        fit_s = time.perf_counter() - start
        key = f"val/{datamodule.metric_name}"
        if key not in trainer.callback_metrics:
            trainer.validate(model, datamodule=datamodule, verbose=False)
        metric = float(trainer.callback_metrics[key])
        result = {
            "metric": metric,
            "nnz": model.nnz(),
            "s_effective": algorithm.budget(model),
            "updates": algorithm.updates,
            "fit_s": round(fit_s, 3),
            **recovery.metrics,
        }
        hparams = {**self.base_result(point), "s_effective": result["s_effective"]}
        logger.log_hyperparams(hparams, metrics={"hp_metric": metric})
        logger.finalize("success")
        return result

    def _task_name(self) -> str:
        return self._class_attr("task_name")

    def _metric_name(self) -> str:
        return self._class_attr("metric_name")

    def _class_attr(self, name: str) -> str:
        module, _, cls = self.config[self.subcommand].data.class_path.rpartition(".")
        data_class = getattr(importlib.import_module(module), cls)
        return getattr(data_class, name, "custom" if name == "task_name" else "metric")


def _num_features(datamodule) -> int:
    return datamodule.num_features


def _output_dim(datamodule) -> int:
    """Outputs k of the task (1, the scalar network, where the datamodule does not say)."""
    return getattr(datamodule, "output_dim", 1)
