"""A point's identity: every setting that changes what the point computes, beyond its place in
the grid (task, method, hidden layers, m, s, seed).

It holds the datamodule's class and init args, the model's settings (the module's and those of
the network the point trains, in one flat group: what is computed, not which class of the code
computes it), the trainer's settings, and the method's own group (``aiht.*`` or ``imp.*``), all as
plain JSON values; the precision is
the one the point trains in (``sweep.imp_precision`` for IMP), in Lightning's own name. Left out
are the values the sweep sets per point, and what only says where or how a point runs: the
devices, the number of workers, logging and progress, folders and downloads, and settings that
give the same iterates (the gradient's memory budget; dense or compact storage and the budget
``auto`` chooses by, which agree to relative 1e-10 in float64, ``tests/test_compact_aiht.py``;
the Gaussian task's block size and the memory it may keep its matrix in).
A finished point records its identity in ``result.json``; a rerun into its folder must have the
same one. A setting recorded as null and now absent (a network that no longer takes it, as IMP's
ReLU MLP has no gate seed) is the same setting.

Settings added after results were written (``ADDED_LATER``): where a recorded identity lacks one
that this sweep's identity holds, it is read as the value the code of its time implicitly had, so
an old result counts as finished only for a sweep that asks for that old behaviour. Settings that
no longer define a point (``RETIRED``) are left out of a recorded identity before comparing.
Each setting is in the identity only where it changes the computation: ``aiht.start_rows`` for
vector-output points only, and the Gaussian task's ``data.sensing_draws`` (its class's
``identity_settings``) for that task only.
"""

import math

from jsonargparse import Namespace

from lightning_app.plan.checks import unified_precision
from lightning_app.plan.grid import GridPoint
from lightning_app.plan.networks import network_of, network_settings, task_class

#: Set by the sweep per point (the point's place in the grid, or ``sweep.draws``) or linked from
#: the datamodule.
PER_POINT = {
    "data": {"width", "sparsity", "seed", "num_layers", "draws"},
    "model": {"width", "seed", "num_layers", "input_dim", "output_dim", "draws"},
}
#: Where or how a point runs, not what it computes.
NOT_COMPUTATION = {
    # block_size and sensing_memory_mb: only the memory of the Gaussian task's products
    "data": {"data_dir", "download", "block_size", "sensing_memory_mb"},
    "model": {"gradient_memory_mb", "storage", "dense_memory_mb"},
    "trainer": {
        "accelerator",
        "devices",
        "num_nodes",
        "logger",
        "enable_checkpointing",
        "enable_progress_bar",
        "enable_model_summary",
        "log_every_n_steps",
        "default_root_dir",
        "profiler",
        "detect_anomaly",
        "barebones",
        "benchmark",
        "deterministic",
        "inference_mode",
        "use_distributed_sampler",
        "sync_batchnorm",
        "enable_autolog_hparams",
        "model_registry",
    },
}
#: Model settings one method never reads (Adam's learning rate: IMP only).
UNUSED_BY = {"aiht": {"lr"}, "imp": set()}
#: AIHT settings that only vector-output points read.
VECTOR_ONLY = {"start_rows"}
#: Settings added after results were written → the value the code before them implicitly had.
ADDED_LATER = {
    # vector outputs restarted the all-zero rows only, not every row whose largest entry is 0
    "aiht.start_rows": "all_zero",
    # the Gaussian task drew A in blocks of data.block_size columns, each from torch's generator
    # seeded from (seed, block), and x*'s support from numpy's generator whatever sweep.draws said
    "data.sensing_draws": "seeded_blocks",
}
#: Settings older identities hold that no longer define a point (what they meant is now in a
#: setting of ADDED_LATER).
RETIRED = {"data.block_size"}


def point_identity(
    config: Namespace, point: GridPoint, largest_target: int | None = None, output_dim: int = 1
) -> dict:
    """The identity of ``point`` under its panel's ``config``.

    ``largest_target`` is the largest s of an IMP trajectory that serves several s; it is part
    of the identity where the pruning schedule depends on it (``imp.prune_iters`` ≥ 2).
    ``output_dim`` is the task's k: the AIHT settings of vector outputs count where k > 1.
    """
    data = config.data.init_args.as_dict() if config.data.get("init_args") else {}
    data.update(task_class(config).identity_settings)
    module = {k: v for k, v in config.model.as_dict().items() if k != "net"}
    network = network_settings(config, network_of(task_class(config), point.method))
    model = _keep({**module, **network}, "model")
    identity = {
        "data": {"class_path": config.data.class_path, **_keep(data, "data")},
        "model": {k: v for k, v in model.items() if k not in UNUSED_BY[point.method]},
        "trainer": _keep(config.trainer.as_dict(), "trainer"),
    }
    if point.method == "imp":
        identity["imp"] = config.imp.as_dict()
        identity["trainer"]["precision"] = unified_precision(config.sweep.imp_precision)
        identity["trainer"]["limit_val_batches"] = 0  # IMP measures in its callback (build.py)
        if largest_target is not None and config.imp.prune_iters >= 2:
            identity["imp"]["largest_target"] = largest_target
    else:
        aiht = config.aiht.as_dict()
        identity["aiht"] = aiht if output_dim > 1 else {k: v for k, v in aiht.items() if k not in VECTOR_ONLY}
        identity["sweep"] = {"gate_seed": config.sweep.gate_seed}  # which seed draws the gates
        if config.sweep.draws != "numpy":  # numpy's draws, the default, as before the setting existed
            identity["sweep"]["draws"] = config.sweep.draws
        identity["trainer"]["precision"] = unified_precision(config.trainer.precision)
    return plain(identity)


def _keep(settings: dict, group: str) -> dict:
    dropped = PER_POINT.get(group, set()) | NOT_COMPUTATION.get(group, set())
    return {k: v for k, v in settings.items() if k not in dropped}


def plain(value):
    """``value`` as JSON values that compare equal after a round trip through ``result.json``:
    tuples become lists, non-finite floats and other objects their text."""
    if isinstance(value, Namespace):
        value = value.as_dict()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def flat_settings(identity: dict, prefix: str = "") -> dict[str, object]:
    """``{"data": {"bias": False}}`` as ``{"data.bias": False}``."""
    flat: dict[str, object] = {}
    for key, value in identity.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flat_settings(value, name + "."))
        else:
            flat[name] = value
    return flat


def recorded_settings(recorded: dict, current: dict) -> dict[str, object]:
    """A recorded identity's flat settings as this code reads them: retired settings left out, and
    each setting added later that ``current`` holds and the record lacks given its old value."""
    old = {k: v for k, v in flat_settings(recorded).items() if k not in RETIRED}
    for name, implied in ADDED_LATER.items():
        if name in current and name not in old:
            old[name] = implied
    return old


def identity_changes(previous: dict, current: dict) -> list[str]:
    """The settings in which a recorded identity (``previous``) and this sweep's differ, as
    ``name: old → new`` lines; a setting that is null in one and absent from the other does not
    differ (``recorded_settings`` says how older records are read)."""
    new = flat_settings(current)
    old = recorded_settings(previous, new)
    missing = "(not set)"
    return [
        f"{name}: {old.get(name, missing)!r} → {new.get(name, missing)!r}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)  # absent and None alike
    ]
