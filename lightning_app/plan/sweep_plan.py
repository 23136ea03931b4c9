"""What a sweep runs, worked out once from the parsed ``fit`` configuration: the panels with their
own configurations (the config plus the panel's overrides), which panels can be built, the grid
points, and the jobs that train them, each resolved with its configuration and its points'
identities and recorded settings (``lightning_app/plan/job.py``, ``lightning_app/plan/identity.py``).
Settings that no point could use are refused here (``lightning_app/plan/checks.py``), before any
point runs."""

from dataclasses import dataclass
from pathlib import Path

from jsonargparse import Namespace
from pytorch_lightning import LightningModule
from pytorch_lightning.cli import LightningArgumentParser

from callbacks.aiht import AIHT
from callbacks.imp import IMP
from datamodules.task import TaskDataModule
from lightning_app.files.safe_write import write_text
from lightning_app.plan.checks import check_panel_settings, unified_precision
from lightning_app.plan.errors import NotAvailable, SettingsError
from lightning_app.plan.grid import GridPoint, Panel, check_panel, grid_points, group_jobs, requested_panels
from lightning_app.plan.identity import point_identity
from lightning_app.plan.job import Job
from lightning_app.plan.networks import point_network, task_class

DEFAULT_ROOT = "runs"


@dataclass
class PointObjects:
    """One point's datamodule and model, and the trainer settings and callbacks of its config."""

    datamodule: TaskDataModule
    model: LightningModule
    trainer_settings: dict
    user_callbacks: list


class SweepPlan:
    """The grid of ``config.sweep`` over the rest of ``config``.

    ``parser`` is the parser that produced ``config``: it parses the panels' overrides and
    instantiates each point's classes (its links set the model's input and output sizes from the
    datamodule). A panel whose classes cannot be imported, or whose method cannot train its task,
    is kept aside in ``unavailable`` with the reason; bad settings raise ``ValueError``.
    """

    def __init__(self, parser: LightningArgumentParser, config: Namespace) -> None:
        self.parser, self.config = parser, config
        sweep = config.sweep
        if sweep.workers < 1:
            raise ValueError(f"sweep.workers must be at least 1, got {sweep.workers}")
        if sweep.get("checkpoint_every_s", 0) < 0:
            raise ValueError(
                f"sweep.checkpoint_every_s must be 0 (a checkpoint after every epoch) or more "
                f"seconds, got {sweep.checkpoint_every_s}"
            )
        panels = requested_panels(sweep)
        for panel in panels:
            check_panel(panel)
        IMP(targets=[1], **config.imp.as_dict())  # bad imp.* settings stop here
        AIHT(sparsity=1, **config.aiht.as_dict())  # and bad aiht.* settings
        self.available: list[Panel] = []
        self.unavailable: list[tuple[Panel, str]] = []
        self.panel_configs: list[Namespace] = []
        self.panel_outputs: list[int] = []  # each available panel's output dimension k
        for panel in panels:
            try:
                panel_config, outputs = self._panel_config(panel)
            except NotAvailable as reason:
                self.unavailable.append((panel, str(reason)))
                continue
            where = f" (panel {panel.name})" if panel.overrides else ""
            check_panel_settings(panel_config, panel.method, panel.num_layers, where)
            self.available.append(panel)
            self.panel_configs.append(panel_config)
            self.panel_outputs.append(outputs)
        if not self.available:
            reasons = "; ".join(f"panel {p.name}: {reason}" for p, reason in self.unavailable)
            raise SettingsError(f"no panel of the sweep can be built here: {reasons}")
        tasks = [task_class(c).task_name for c in self.panel_configs]
        self.points = grid_points(self.available, tasks, sweep.seedlist)
        self.jobs = self._resolve_jobs()
        self._job_of = {point: job for job in self.jobs for point in job}

    def _resolve_jobs(self) -> list[Job]:
        """The jobs that train the points, in grid order, each resolved once."""
        jobs = []
        for index, (panel, config) in enumerate(zip(self.available, self.panel_configs, strict=True)):
            points = [p for p in self.points if p.panel == index]
            shared = shares_trajectory(config, panel.method)
            largest = max(panel.slist) if shared else None
            identity = point_identity(config, points[0], largest, self.panel_outputs[index])
            for group in group_jobs(points, lambda _, shared=shared: shared):
                first = group[0]
                job = Job(
                    points=tuple(group),
                    config=self.point_config(config, first),
                    folder=first.trajectory_folder if shared else first.folder,
                    export=config.sweep.export,
                    identity=identity,
                    base_results={p: point_result(config, p, identity) for p in group},
                )
                jobs.append(job)
        return jobs

    @property
    def root(self) -> Path:
        """The sweep's output folder."""
        return Path(self.config.trainer.default_root_dir or DEFAULT_ROOT)

    def save_config(self, path: Path) -> None:
        text = self.parser.dump(self.config, skip_unset=False, skip_validation=True)
        write_text(path, text)  # written whole, never through a symlink

    def panel_config(self, point: GridPoint) -> Namespace:
        return self.panel_configs[point.panel]

    def _panel_config(self, panel: Panel) -> tuple[Namespace, int]:
        """The config with the panel's overrides and its task's output dimension; NotAvailable if
        its objects cannot be built."""
        config = self.config.clone()
        if panel.overrides:
            exit_on_error, self.parser.exit_on_error = self.parser.exit_on_error, False
            try:
                config = self.parser.parse_object(panel.overrides, namespace=config)
            except Exception as exc:  # noqa: BLE001 - e.g. a class that does not exist
                raise NotAvailable(f"its settings do not parse: {exc}") from None
            finally:
                self.parser.exit_on_error = exit_on_error
        try:
            objects = self.instantiate(config, first_point(panel))
        except ImportError as exc:
            raise NotAvailable(str(exc)) from None
        return config, objects.datamodule.output_dim

    def point_config(self, panel_config: Namespace, point: GridPoint) -> Namespace:
        """The panel's config with the point's m, s, seed and depth, and the network its method
        trains (``lightning_app/plan/networks.py``)."""
        config = panel_config.clone()
        config.model.net = point_network(config, point)
        data_args = config.data.init_args
        for key, value in (
            ("width", point.m),
            ("sparsity", point.s),
            ("seed", point.seed),
            ("num_layers", point.num_layers),
        ):
            if key in data_args:
                data_args[key] = value
        if "draws" in data_args:
            data_args["draws"] = config.sweep.draws
        return config

    def objects(self, point: GridPoint) -> PointObjects:
        """Fresh instances of the point's classes."""
        return self.instantiate(self.panel_config(point), point)

    def instantiate(self, panel_config: Namespace, point: GridPoint) -> PointObjects:
        """Fresh instances of the classes of ``point`` under ``panel_config``."""
        return self.build(self.point_config(panel_config, point))

    def build(self, config: Namespace) -> PointObjects:
        """Fresh instances of the classes of a point's configuration (a job's ``config``)."""
        init = self.parser.instantiate(config)
        settings = init.trainer.as_dict()
        callbacks = settings.pop("callbacks", None) or []
        return PointObjects(init.data, init.model, settings, list(callbacks))

    def shared_trajectory(self, point: GridPoint) -> bool:
        """Whether one IMP run serves every s of the point's (m, seed)."""
        return shares_trajectory(self.panel_config(point), point.method)

    def identity(self, point: GridPoint) -> dict:
        """Every setting that changes what ``point`` computes (a rerun must match it)."""
        return self._job_of[point].identity

    def base_result(self, point: GridPoint) -> dict:
        """The settings a point's result records: its identity, and the main ones on their own."""
        return self._job_of[point].base_result(point)


def shares_trajectory(config: Namespace, method: str) -> bool:
    """One IMP trajectory serves every s where the data does not depend on s (docs/algorithms.md: the
    grid)."""
    return (
        method == "imp"
        and not task_class(config).data_depends_on_sparsity
        and not (config.imp.retrain and config.imp.prune_iters == 0)
    )


def point_result(config: Namespace, point: GridPoint, identity: dict) -> dict:
    """The settings a point's result records under its panel's ``config``: its ``identity``, and the
    main ones on their own."""
    data_args = config.data.init_args
    result = {
        "task": point.task,
        "method": point.method,
        "num_layers": point.num_layers,
        "m": point.m,
        "s": point.s,
        "seed": point.seed,
        "metric_name": task_class(config).metric_for(data_args),
        "epochs": config.trainer.max_epochs,
        "batch_size": data_args.get("batch_size", 0),
        "bias": bool(data_args.get("bias", False)),
        "precision": unified_precision(
            config.sweep.imp_precision if point.method == "imp" else config.trainer.precision
        ),
        "identity": identity,
    }
    if point.method == "imp":
        result.update({f"imp_{k}": v for k, v in config.imp.as_dict().items()})
    else:
        result["convex"] = config.aiht.convex
    return result


def first_point(panel: Panel) -> GridPoint:
    """A point of the panel, to check that its objects can be built."""
    return GridPoint("", panel.method, panel.num_layers, panel.mlist[0], panel.slist[0], 0)
