"""The sweep's own settings, declared on the command line's parser: the grid (``sweep.method``,
``sweep.mlist``, ``sweep.slist``, …), where and how its points run (workers, Ray, claims,
checkpoints, exports) and per-point choices. ``SweepCLI`` adds them beside Lightning's."""

from typing import Literal

from pytorch_lightning.cli import LightningArgumentParser

from lightning_app.run.checkpoints import DEFAULT_EVERY_S
from lightning_app.store.claims import DEFAULT_STALE_S


def add_grid_arguments(parser: LightningArgumentParser) -> None:
    """The grid: panels, methods, depths, widths, budgets, seeds; rerunning finished points."""
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


def add_launch_arguments(parser: LightningArgumentParser) -> None:
    """Where and how the points run: worker processes, Ray, claims."""
    parser.add_argument(
        "--sweep.workers",
        type=int,
        default=1,
        help="Worker processes on the CPU (on GPUs: one per device in trainer.devices).",
    )
    parser.add_argument(
        "--sweep.launcher",
        type=Literal["local", "ray"],
        default="local",
        help="Where jobs run: local (this process, or sweep.workers / one process per GPU) or ray "
        "(Ray tasks on a local Ray or the cluster at sweep.ray_address; pip install -e '.[ray]').",
    )
    parser.add_argument(
        "--sweep.ray_address",
        type=str | None,
        default=None,
        help="With sweep.launcher ray: auto (the cluster ray start runs here), an address "
        "(host:6379), local (a new Ray on this machine), or unset (Ray's choice: $RAY_ADDRESS, the "
        "cluster ray start left here, else a new local Ray).",
    )
    parser.add_argument(
        "--sweep.ray_batch", type=int, default=4, help="With sweep.launcher ray: jobs per Ray task."
    )
    parser.add_argument(
        "--sweep.ray_cpus",
        type=int,
        default=1,
        help="With sweep.launcher ray: cores each task asks for (and trains with).",
    )
    parser.add_argument(
        "--sweep.ray_max_retries",
        type=int,
        default=3,
        help="With sweep.launcher ray: runs of a task again after its worker or node died.",
    )
    parser.add_argument(
        "--sweep.claim_stale_s",
        type=float,
        default=DEFAULT_STALE_S,
        help="A point claimed by a sweep whose heartbeat is older than this (seconds) is taken over.",
    )


def add_point_arguments(parser: LightningArgumentParser) -> None:
    """Sweep settings that each point's run takes: precision of IMP, gate seed, export, draws,
    checkpoints."""
    parser.add_argument(
        "--sweep.checkpoint_every_s",
        type=float,
        default=DEFAULT_EVERY_S,
        help="A point saves a checkpoint at the end of an epoch once this many seconds of training "
        "have passed since its start or its last checkpoint (shorter points save none); 0: after "
        "every epoch. Changes no result.",
    )
    parser.add_argument(
        "--sweep.imp_precision",
        type=str,
        default="32-true",
        help="trainer.precision of IMP points (the paper trains IMP in float32, AIHT in float64).",
    )
    parser.add_argument(
        "--sweep.gate_seed",
        type=Literal["paper", "run"],
        default="paper",
        help="Random gates of minibatch AIHT on the planted and INR tasks: 'paper' draws them "
        "with seed 0 whatever the run's seed, as the paper's code does; 'run' with the run's seed.",
    )
    parser.add_argument(
        "--sweep.export",
        type=bool,
        default=True,
        help="Save each finished point's trained network as its nonzeros (sparse_network.pt).",
    )
    parser.add_argument(
        "--sweep.draws",
        type=Literal["numpy", "cupy"],
        default="numpy",
        help="Generator of AIHT's random gates, vector start values, count-sketch signs and Gaussian "
        "sensing columns: 'numpy' as the paper's code on a CPU; 'cupy' as its GPU runs (docs/reproducing.md; "
        "needs a CUDA GPU and pip install -e '.[cupy]').",
    )
