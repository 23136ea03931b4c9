"""The LightningCLI subclass behind ``python cli.py fit``: the grid's panels, and one fresh
DataModule, model and Trainer per job, built from the parsed config with the point's m, s and seed."""

import importlib
import logging
import math
import sys
import time
import warnings
from pathlib import Path

from jsonargparse import Namespace
from pytorch_lightning import LightningDataModule
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import TensorBoardLogger

from callbacks.aiht import AIHT
from callbacks.imp import IMP
from callbacks.layer_by_layer import LayerByLayer
from callbacks.recovery import PlantedRecovery
from lightning_app.errors import NotAvailable, SkipPoint
from lightning_app.figures import FIGURES_RUN, export_figures
from lightning_app.grid import GridPoint, Panel, check_panel, grid_points, group_jobs, requested_panels
from lightning_app.sweep import run_grid
from lightning_app.workers import WorkerPool, gpu_ids, run_here
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
    ".*isinstance\\(treespec, LeafSpec\\).*",
    ".*You defined a `validation_step` but have no `val_dataloader`.*",
)
log = logging.getLogger("lightning_app")


class SweepCLI(LightningCLI):
    """``fit`` runs the grid ``sweep.*`` job by job instead of a single Trainer.fit.

    ``run=False`` parses a fit configuration without running it (how worker processes rebuild
    the CLI); ``worker_device`` pins such a worker's trainers to one GPU.
    """

    def __init__(self, args=None, run: bool = True, worker_device: int | None = None) -> None:
        for pattern in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        self.cli_args = list(args) if args is not None else sys.argv[1:]
        self.worker_device = worker_device
        super().__init__(
            model_class=SparseMLP,
            datamodule_class=LightningDataModule,
            subclass_mode_data=True,
            save_config_callback=None,
            trainer_defaults=TRAINER_DEFAULTS,
            seed_everything_default=False,
            args=args,
            run=run,
        )

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {"fit": {"model", "datamodule"}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--sweep.panels",
            type=list[dict] | None,
            default=None,
            help="The figure's panels: a list of {method, num_layers, mlist, slist, overrides}.",
        )
        parser.add_argument(
            "--sweep.method",
            type=str,
            nargs="+",
            default=None,
            help="Methods (aiht, imp); with panels: a filter.",
        )
        parser.add_argument(
            "--sweep.num_layers",
            type=int,
            nargs="+",
            default=None,
            help="Hidden layers; with panels: a filter.",
        )
        parser.add_argument(
            "--sweep.mlist", type=int, nargs="+", default=None, help="Hidden widths m (replace the panels')."
        )
        parser.add_argument(
            "--sweep.slist", type=int, nargs="+", default=None, help="Budgets s (replace the panels')."
        )
        parser.add_argument("--sweep.seedlist", type=int, nargs="+", default=[0], help="Seeds.")
        parser.add_argument(
            "--sweep.overwrite",
            type=bool,
            default=False,
            help="Run again points whose result.json says done.",
        )
        parser.add_argument(
            "--sweep.workers",
            type=int,
            default=1,
            help="Worker processes on the CPU (on GPUs: one per device in trainer.devices).",
        )
        parser.add_argument(
            "--sweep.imp_precision",
            type=str,
            default="32-true",
            help="trainer.precision of IMP points (the paper trains IMP in float32, AIHT in float64).",
        )
        parser.add_class_arguments(AIHT, "aiht", skip={"sparsity"}, instantiate=False)
        parser.add_class_arguments(IMP, "imp", skip={"targets"}, instantiate=False)
        parser.link_arguments("data", "model.input_dim", compute_fn=_num_features, apply_on="instantiate")
        parser.link_arguments("data", "model.output_dim", compute_fn=_output_dim, apply_on="instantiate")

    # --- configuration -------------------------------------------------------------------

    @property
    def fit_config(self) -> Namespace:
        return self._fit(self.config)

    def _fit(self, config: Namespace) -> Namespace:
        return config[self.subcommand] if self.subcommand else config

    def _fit_parser(self) -> LightningArgumentParser:
        return self._parser(self.subcommand) if self.subcommand else self.parser

    def instantiate_classes(self) -> None:
        """Classes are built per job in ``run_job``; here the panels and the grid are checked."""
        sweep = self.fit_config.sweep
        if sweep.workers < 1:
            raise ValueError(f"sweep.workers must be at least 1, got {sweep.workers}")
        panels = requested_panels(self.fit_config.sweep)
        for panel in panels:
            check_panel(panel)
        IMP(targets=[1], **self.fit_config.imp.as_dict())  # bad imp.* settings stop here
        self.panel_configs: list[Namespace] = []
        self.available: list[Panel] = []
        self.unavailable: list[tuple[Panel, str]] = []
        for panel in panels:
            try:
                config = self._panel_config(panel)
            except NotAvailable as reason:
                self.unavailable.append((panel, str(reason)))
                continue
            self.available.append(panel)
            self.panel_configs.append(config)
        tasks = [self._class_attr(c, "task_name", "custom") for c in self.panel_configs]
        self.points = grid_points(self.available, tasks, sweep.seedlist)
        self.model = self.datamodule = self.trainer = None

    def _panel_config(self, panel: Panel) -> Namespace:
        """The fit configuration with the panel's overrides; NotAvailable if it cannot be built."""
        config = self.fit_config.clone()
        if panel.overrides:
            parser = self._fit_parser()
            exit_on_error, parser.exit_on_error = parser.exit_on_error, False
            try:
                config = parser.parse_object(panel.overrides, cfg_base=config)
            except Exception as exc:  # noqa: BLE001 - e.g. a setting that a later issue adds
                raise NotAvailable(f"its settings do not parse: {exc}") from None
            finally:
                parser.exit_on_error = exit_on_error
        try:
            self._objects(config, _first_point(panel))
        except ImportError as exc:
            raise NotAvailable(str(exc)) from None
        return config

    def _point_config(self, panel_config: Namespace, point: GridPoint) -> Namespace:
        if self.subcommand:
            config = self.config.clone()
            config[self.subcommand] = panel_config.clone()
        else:
            config = panel_config.clone()
        fit = self._fit(config)
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
        fit.model.num_layers = point.num_layers
        fit.model.network = self._network(fit, point.method)
        return config

    def _network(self, config: Namespace, method: str) -> str:
        """The model's mode: ``relu`` for IMP; for AIHT the datamodule's ``network`` if it names
        one (``linear`` for Gaussian sensing), else ``gated``."""
        network = self._class_attr(config, "network", None)
        if method == "imp" and network is not None:
            raise NotAvailable(f"the task's model ({network!r}) is trained by AIHT only, as in the paper")
        return "relu" if method == "imp" else network or "gated"

    def _objects(self, panel_config: Namespace, point: GridPoint):
        self.config_init = self.parser.instantiate_classes(self._point_config(panel_config, point))
        fit = self._fit(self.config_init)
        return fit.data, fit.model

    def _panel_of(self, point: GridPoint) -> Namespace:
        return self.panel_configs[point.panel]

    # --- the sweep -----------------------------------------------------------------------

    def _run_subcommand(self, subcommand: str) -> None:
        self.run_sweep()

    def run_sweep(self) -> list[dict]:
        logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
        logging.getLogger("lightning_app").setLevel(logging.INFO)
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(message)s")
        config = self.fit_config
        root = Path(config.trainer.default_root_dir or DEFAULT_ROOT)
        root.mkdir(parents=True, exist_ok=True)
        self._fit_parser().save(
            config, root / "config.yaml", overwrite=True, skip_none=False, skip_check=True
        )
        for panel, reason in self.unavailable:
            log.warning("panel %s: not available yet, skipped: %s", panel.name, reason)
        self._prepare_data()
        jobs = group_jobs(self.points, self._shared_trajectory)
        gpus = gpu_ids(config.trainer.accelerator, config.trainer.devices)
        workers = len(gpus) if gpus else config.sweep.workers
        pool = None
        if workers > 1:
            pool = WorkerPool(self._worker_args(), workers, gpus)
            submit = pool.submit
        else:
            submit = run_here(self.run_job)
        try:
            results = run_grid(
                jobs,
                root,
                submit,
                self.base_result,
                overwrite=config.sweep.overwrite,
                workers=workers,
                on_result=self._log_point,
                progress=config.trainer.enable_progress_bar is not False,
            )
        finally:
            if pool is not None:
                pool.close()
        written = export_figures(results, root, tb_log_dir=root / FIGURES_RUN)
        log.warning("tables, heatmaps and figures: %d files under %s", len(written), root)
        return results

    def _prepare_data(self) -> None:
        """Downloads (or finds) each panel's data once, so a missing dataset stops here, not per point."""
        for config, panel in zip(self.panel_configs, self.available, strict=True):
            datamodule, _ = self._objects(config, _first_point(panel))
            if type(datamodule).prepare_data is LightningDataModule.prepare_data:
                continue  # nothing to download or find: the data is drawn per point
            datamodule.prepare_data()
            try:
                datamodule.setup("fit")
            except SkipPoint:
                pass

    def _worker_args(self) -> list[str]:
        args = list(self.cli_args)
        if args and args[0] == "fit":
            args = args[1:]
        return args

    def _shared_trajectory(self, point: GridPoint) -> bool:
        """One IMP trajectory serves every s where the data does not depend on s (SPEC §7)."""
        imp = self._panel_of(point).imp
        return (
            point.method == "imp"
            and not self._class_attr(self._panel_of(point), "data_depends_on_sparsity", False)
            and not (imp.retrain and imp.prune_iters == 0)
        )

    def base_result(self, point: GridPoint) -> dict:
        config = self._panel_of(point)
        data_args = config.data.init_args
        result = {
            "task": point.task,
            "method": point.method,
            "num_layers": point.num_layers,
            "m": point.m,
            "s": point.s,
            "seed": point.seed,
            "metric_name": self._class_attr(config, "metric_name", "metric"),
            "epochs": config.trainer.max_epochs,
            "batch_size": data_args.get("batch_size", 0),
            "bias": bool(data_args.get("bias", False)),
            "precision": str(
                config.sweep.imp_precision if point.method == "imp" else config.trainer.precision
            ),
        }
        if point.method == "imp":
            result.update({f"imp_{k}": v for k, v in config.imp.as_dict().items()})
        else:
            result["convex"] = config.aiht.convex
        return result

    def run_job(self, points: list[GridPoint]) -> dict[GridPoint, dict]:
        """Trains the points' one run and returns each point's result fields."""
        try:
            return self._train(points)
        finally:
            self.config_init = None  # the point's model and data go as soon as it is done

    def _train(self, points: list[GridPoint]) -> dict[GridPoint, dict]:
        first = points[0]
        config = self._panel_of(first)
        root = Path(config.trainer.default_root_dir or DEFAULT_ROOT)
        shared = len(points) > 1 or self._shared_trajectory(first)
        folder = root / (first.trajectory_folder if shared else first.folder)
        datamodule, model = self._objects(config, first)
        extra = {}
        if first.method == "imp":
            algorithm = IMP(targets=[p.s for p in points], **config.imp.as_dict())
            callbacks = [algorithm]
            extra = {"precision": config.sweep.imp_precision, "limit_val_batches": 0}
        else:
            algorithm = AIHT(sparsity=first.s, **config.aiht.as_dict())
            recovery = PlantedRecovery()
            callbacks = (
                [LayerByLayer(), algorithm, recovery] if first.num_layers > 1 else [algorithm, recovery]
            )
        if self.worker_device is not None:
            extra.update(accelerator="gpu", devices=[self.worker_device])
        if _in_worker():
            extra["enable_progress_bar"] = False
        elif config.trainer.enable_progress_bar is not False:
            callbacks.append(TQDMProgressBar(process_position=1, leave=False))
        user_callbacks = list(self._get(self.config_init, "trainer").get("callbacks") or [])
        logger = TensorBoardLogger(save_dir=str(folder), name="", version="", default_hp_metric=False)
        trainer = self.instantiate_trainer(
            callbacks=user_callbacks + callbacks, logger=logger, default_root_dir=str(folder), **extra
        )
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        fit_s = round(time.perf_counter() - start, 3)
        logger.finalize("success")
        if first.method == "imp":
            return {
                p: {
                    "metric": algorithm.results[p.s]["metric"],
                    "nnz": algorithm.results[p.s]["nnz"],
                    "imp_round": algorithm.results[p.s]["round"],
                    "fit_s": fit_s,
                }
                for p in points
            }
        key = f"val/{datamodule.metric_name}"
        if key not in trainer.callback_metrics:
            trainer.validate(model, datamodule=datamodule, verbose=False)
        return {
            first: {
                "metric": float(trainer.callback_metrics[key]),
                "nnz": model.nnz(),
                "s_effective": algorithm.budget(model),
                "updates": algorithm.updates,
                "fit_s": fit_s,
                **recovery.metrics,
            }
        }

    def _log_point(self, point: GridPoint, result: dict) -> None:
        """The point's settings and metric in the HParams tab (also for skipped and failed points)."""
        root = Path(self.fit_config.trainer.default_root_dir or DEFAULT_ROOT)
        logger = TensorBoardLogger(
            save_dir=str(root / point.folder), name="", version="", default_hp_metric=False
        )
        hparams = {k: v for k, v in result.items() if isinstance(v, (bool, int, float, str))}
        metric = result.get("metric")
        logger.log_hyperparams(hparams, metrics={"hp_metric": math.nan if metric is None else float(metric)})
        logger.finalize("success")

    @staticmethod
    def _class_attr(config: Namespace, name: str, default):
        module, _, cls = config.data.class_path.rpartition(".")
        data_class = getattr(importlib.import_module(module), cls)
        return getattr(data_class, name, default)


def _first_point(panel: Panel) -> GridPoint:
    return GridPoint("", panel.method, panel.num_layers, panel.mlist[0], panel.slist[0], 0)


def _in_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _num_features(datamodule) -> int:
    return datamodule.num_features


def _output_dim(datamodule) -> int:
    """Outputs k of the task (1, the scalar network, where the datamodule does not say)."""
    return getattr(datamodule, "output_dim", 1)
