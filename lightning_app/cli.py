"""The command line: ``fit`` parses a figure's configuration with LightningCLI and runs its grid;
``heatmap`` rebuilds a finished sweep's tables and figures from its TensorBoard events.
``fit`` exits with status 1 when a point failed, 0 when every point is done, diverged or skipped,
with a message naming the setting when the settings are refused (1), a message naming the
resource and the path when one runs out (1), and one line saying what was interrupted, what is
kept and how to resume on Ctrl-C (130) or SIGTERM (143).

``SweepCLI`` is the LightningCLI subclass that states every setting (the Trainer's, the model's
with its network's by class path, the datamodule's by class path, and the ``sweep``, ``aiht`` and
``imp`` groups) and links the network's input and output sizes to the datamodule. It is built
with ``run=False``: instead of one ``Trainer.fit`` it turns the parsed config into a
``SweepPlan`` (in ``instantiate_classes``, the public hook for building objects from the config),
which ``run_sweep`` carries out.
"""

import shlex
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pytorch_lightning import LightningDataModule
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from callbacks.aiht import AIHT
from callbacks.imp import IMP
from datamodules.array_files import DataFileError
from lightning_app.launch.dry_run import add_dry_run_arguments, dry_run_report
from lightning_app.launch.stops import Interrupted, ResourceStop, signals_interrupt
from lightning_app.launch.sweep import run_sweep
from lightning_app.launch.sweep_settings import add_grid_arguments, add_launch_arguments, add_point_arguments
from lightning_app.plan.checks import check_no_optimizer
from lightning_app.plan.config_files import check_config_file, config_paths, guard_yaml_loader
from lightning_app.plan.job import Job
from lightning_app.plan.sweep_plan import SweepPlan
from lightning_app.run.point_run import PointRunner
from modules.gated_mlp import GatedMLP
from modules.sparse_mlp import SparseMLP

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
    ".*LightningCLI's args parameter is intended.*",  # main() passes the arguments after "fit"
)
COMMANDS = ("fit", "heatmap")
USAGE = """usage: cli.py {fit,heatmap} ...

  fit      run a figure's grid:   python cli.py fit --config configs/figure1.yaml
           (python cli.py fit --help lists every setting; --sweep.dry_run true lists the
           panels, what is finished and the time left, and runs nothing)
  heatmap  rebuild tables and heatmaps from TensorBoard events:
           python cli.py heatmap --logdir runs/figure1
"""
FIT_DESCRIPTION = (
    "Run a figure's grid of sparse MLPs: every point (method x hidden layers x width m x budget s "
    "x seed) is one Lightning training run, AIHT or IMP being a callback. The settings: the "
    "Trainer's (trainer.*), the network's (model.*, model.net.*), the task's datamodule (data, "
    "data.*), the grid and how it runs (sweep.*), AIHT's (aiht.*) and IMP's (imp.*). The training updates "
    "have no settings of their own: AIHT makes its own, IMP uses Adam with --model.lr as the paper "
    "does. Outputs go to --trainer.default_root_dir; finished points "
    "there are kept."
)


class SweepCLI(LightningCLI):
    """Parses a ``fit`` configuration (``args``: the command line after ``fit``, or a list of
    such arguments) into ``self.plan``; runs nothing itself."""

    def __init__(self, args: list[str] | None = None) -> None:
        for pattern in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        guard_yaml_loader()
        super().__init__(
            model_class=SparseMLP,
            datamodule_class=LightningDataModule,
            subclass_mode_data=True,
            save_config_callback=None,
            trainer_defaults=TRAINER_DEFAULTS,
            seed_everything_default=False,
            parser_kwargs={"prog": "cli.py fit", "description": FIT_DESCRIPTION},
            auto_configure_optimizers=False,
            args=args,
            run=False,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        add_grid_arguments(parser)
        add_dry_run_arguments(parser)
        add_launch_arguments(parser)
        add_point_arguments(parser)
        parser.add_class_arguments(AIHT, "aiht", skip={"sparsity"}, instantiate=False)
        parser.add_class_arguments(IMP, "imp", skip={"targets"}, instantiate=False)
        # model.net holds the AIHT network's settings (--model.net.storage compact); the sweep sets
        # each point's class, sizes and seed (lightning_app/plan/networks.py).
        parser.set_defaults({"model.net": {"class_path": f"{GatedMLP.__module__}.{GatedMLP.__name__}"}})
        for size, compute in (("input_dim", _num_features), ("output_dim", _output_dim)):
            target = f"model.net.init_args.{size}"
            parser.link_arguments("data", target, compute_fn=compute, apply_on="instantiate")

    def instantiate_classes(self) -> None:
        """The sweep's plan; each point's classes are instantiated when the point runs."""
        self.plan = SweepPlan(self.parser, self.config)


def _num_features(datamodule) -> int:
    return datamodule.num_features


def _output_dim(datamodule) -> int:
    return datamodule.output_dim


def worker_runner(args: list[str], device: int | None, root: str | None = None) -> Callable[[Job], dict]:
    """A worker process's job runner: the sweep's classes, parsed again from its arguments, and the
    jobs it is sent (resolved by the sweep) logged under ``root`` instead of the sweep's folder
    when given, as Ray tasks do."""
    plan = SweepCLI(args).plan
    folder = Path(root) if root is not None else plan.root
    return PointRunner(plan.build, folder, device=device, progress_bar=False).run_job


def fit(args: list[str]) -> list[dict]:
    """``cli.py fit ARGS``: runs the grid ARGS configure and returns every point's result."""
    check_no_optimizer(args)
    for path in config_paths(args):  # named here: the parser's own messages do not name the file
        check_config_file(path)
    cli = SweepCLI(args)
    if cli.plan.config.sweep.dry_run:
        print(dry_run_report(cli.plan))
        return []
    return run_sweep(cli.plan, partial(worker_runner, list(args)))


def data_file_error(exc: BaseException) -> BaseException:
    """The own-data datamodule's error about its file where the parser wrapped it in its own
    message (as it does for an error raised while building a datamodule), else ``exc``."""
    cause = exc
    while cause is not None and not isinstance(cause, DataFileError):
        cause = cause.__cause__
    return cause if cause is not None else exc


def fit_main(args: list[str]) -> list[dict]:
    """``fit`` with its ways of stopping early turned into one line and an exit status: bad
    settings and resource errors (1), SIGINT (130) and SIGTERM (143)."""
    try:
        with signals_interrupt():
            return fit(args)
    except Interrupted as exc:
        print(exc.line(resume=shlex.join(["python", "cli.py", "fit", *args])), file=sys.stderr)
        sys.exit(exc.status)
    except ResourceStop as exc:
        sys.exit(f"error: {exc}")
    except ValueError as exc:  # bad settings: the message names the setting and what to do
        sys.exit(f"error: {data_file_error(exc)}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "heatmap":
        from lightning_app.report.figures import heatmap_main  # matplotlib and tensorboard: only here

        try:
            with signals_interrupt():
                heatmap_main(rest)
        except Interrupted as exc:
            exc.phase, exc.kept = "while writing the outputs", "each file written is whole"
            print(exc.line(resume=shlex.join(["python", "cli.py", "heatmap", *rest])), file=sys.stderr)
            sys.exit(exc.status)
    elif command == "fit":
        results = fit_main(rest)
        if any(r.get("status") == "failed" for r in results):
            sys.exit(1)  # the summary that run_sweep logged lists the failed points
    elif command in ("-h", "--help"):
        print(USAGE, end="")
    else:
        print(USAGE, file=sys.stderr, end="")
        named = f"unknown command {command!r}" if command else "no command given"
        sys.exit(f"error: {named}: the commands are {', '.join(COMMANDS)}")
