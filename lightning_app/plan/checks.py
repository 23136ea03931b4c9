"""Settings that cannot give a meaningful result, refused before any point runs.

Each refusal names the setting, its value and what to use instead. ``check_panel_settings``
covers what a panel computes (precision, how long it trains, settings the sweep would ignore);
``check_accelerator`` covers where the points run, against the GPUs there are: the local sweep
passes ``torch.cuda.device_count()``, a launcher that runs points elsewhere passes the count its
resources report.
``check_draws`` covers ``sweep.draws cupy`` (the paper code's CuPy draws), which needs a CUDA GPU and
CuPy where the points run.

Precisions (docs/reproducing.md, "Precision"): AIHT runs in ``64-true`` (the paper's float64) or ``32-true``.
In ``16-true`` the first step size (1e-14) is 0 in float16, so the first update keeps nothing and
the network stays all zero; ``bf16-true`` keeps 8 significant bits and moves the result (29.86 dB
for 29.80 dB on a tiny planted point); the mixed precisions run the training step's products in
half precision against float weights, which AIHT's own products refuse. IMP runs in ``32-true``
(the paper's float32) or ``64-true``. In ``16-true`` Adam's eps (1e-8) is 0 in float16, so a
weight with a zero gradient (a dead unit) gets 0/0; ``bf16-true`` fails on mixed dtypes; the
mixed precisions are not the paper's float32 training.
"""

from jsonargparse import Namespace

from datamodules.cupy_draws import load_cupy
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.networks import GATED_MLP, task_class

AIHT_PRECISIONS = ("64-true", "32-true")
IMP_PRECISIONS = ("32-true", "64-true")
_PRECISION_ALIASES = {"64": "64-true", "32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}
_CPU_DEVICES = ("auto", "1", "None")
_GPU_ACCELERATORS = ("gpu", "cuda")


def unified_precision(value) -> str:
    """Lightning's name for a precision setting (``64`` → ``64-true``; unset → ``32-true``)."""
    if value is None:
        return "32-true"
    return _PRECISION_ALIASES.get(str(value), str(value))


def check_precision(value, method: str, setting: str) -> None:
    """``value`` must be a precision ``method`` supports (module docstring)."""
    allowed = AIHT_PRECISIONS if method == "aiht" else IMP_PRECISIONS
    if unified_precision(value) not in allowed:
        paper = "64-true, the paper's float64" if method == "aiht" else "32-true, the paper's float32"
        raise SettingsError(
            f"{setting}={value}: {method.upper()} gives meaningful numbers only in "
            f"{' or '.join(allowed)}; use --{setting} {allowed[0]} ({paper}; docs/reproducing.md#precision)"
        )


def check_training_length(trainer: Namespace, method: str, num_layers: int, where: str = "") -> None:
    """Every point must train: a set number of epochs, at least one (IMP's rounds, deeper AIHT's
    layers and the paper's table names count epochs), on at least one batch and step, not in
    Lightning's debugging run."""
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    if max_epochs is None:
        why = (
            "IMP's rounds are counted in epochs"
            if method == "imp"
            else "deeper AIHT's layers are counted in epochs"
            if num_layers > 1
            else "without trainer.max_steps it never stops, and the tables are named by epochs"
            if max_steps in (None, -1)
            else "the tables are named by epochs"
        )
        raise SettingsError(
            f"trainer.max_epochs is not set{where}: {why}; give --trainer.max_epochs 1 or more (the "
            "paper's --num_epochs, e.g. 15), with --trainer.max_steps to stop earlier"
        )
    if max_epochs is not None and max_epochs < 1:
        raise SettingsError(
            f"trainer.max_epochs={max_epochs}{where}: a point must train at least one epoch "
            "(-1 would train for ever); give --trainer.max_epochs 1 or more (e.g. 15)"
        )
    if max_steps is not None and (max_steps == 0 or max_steps < -1):
        raise SettingsError(
            f"trainer.max_steps={max_steps}{where}: a point must train at least one step; leave it "
            "unset (-1) and give --trainer.max_epochs"
        )
    limit = trainer.get("limit_train_batches")
    if limit is not None and limit == 0:
        raise SettingsError(
            f"trainer.limit_train_batches={limit}{where}: no batch would train, the untrained "
            "network would be saved as a result; leave it unset"
        )
    if trainer.get("fast_dev_run"):
        raise SettingsError(
            f"trainer.fast_dev_run={trainer.fast_dev_run}{where}: a debugging run of a few batches, "
            "whose numbers are not results; leave it unset and use a small grid instead"
        )


def check_aiht_trainer(trainer: Namespace, where: str = "") -> None:
    """AIHT makes its own updates (manual optimisation) and reads its metric from validation."""
    for name, unset in (("accumulate_grad_batches", 1), ("gradient_clip_val", None)):
        value = trainer.get(name)
        if value is not None and value != unset and not (name == "gradient_clip_val" and value == 0):
            raise SettingsError(
                f"trainer.{name}={value}{where}: AIHT makes its own updates, which "
                f"Lightning's {name} cannot act on; leave it unset"
            )
    limit = trainer.get("limit_val_batches")
    if limit is not None and limit == 0:
        raise SettingsError(
            f"trainer.limit_val_batches={limit}{where}: AIHT points take their metric from "
            "validation; leave it unset"
        )


def check_panel_settings(config: Namespace, method: str, num_layers: int, where: str = "") -> None:
    """The settings of one panel (``config`` with its overrides) that no point of it could use."""
    if method == "aiht":
        check_precision(config.trainer.precision, "aiht", "trainer.precision")
        check_aiht_trainer(config.trainer, where)
    else:
        check_precision(config.sweep.imp_precision, "imp", "sweep.imp_precision")
        lr = config.model.get("lr")
        if lr is not None and not lr > 0:
            raise SettingsError(f"model.lr={lr}{where}: Adam's learning rate must be positive (1e-3)")
    check_training_length(config.trainer, method, num_layers, where)
    check_network_class(config, where)
    check_draws_settings(config, where)
    for group in ("optimizer", "lr_scheduler"):
        if config.get(group) is not None:
            raise SettingsError(no_optimizer_message(group))


def no_optimizer_message(group: str) -> str:
    return (
        f"{group}: the sweep does not use it (AIHT makes its own updates; IMP uses Adam with "
        "--model.lr, as the paper does); remove it"
    )


def check_no_optimizer(args: list[str]) -> None:
    """``--optimizer`` and ``--lr_scheduler`` on a command line, which ``fit`` does not offer,
    are named with the reason."""
    for arg in args:
        group = arg.split("=", 1)[0].split(".", 1)[0].removeprefix("--")
        if arg.startswith("--") and group in ("optimizer", "lr_scheduler"):
            raise SettingsError(no_optimizer_message(group))


def check_network_class(config: Namespace, where: str = "") -> None:
    """``model.net``'s class is chosen per point (IMP's ReLU MLP, or the task's AIHT network): the
    config's class only says whose settings it holds, the AIHT network's."""
    net = config.model.get("net")
    class_path = net.get("class_path") if isinstance(net, Namespace) else net
    if class_path not in (GATED_MLP, task_class(config).network):
        raise SettingsError(
            f"model.net={class_path}{where}: the sweep sets each point's network from its method "
            f"(IMP: the ReLU MLP; AIHT: the task's network, {GATED_MLP} but for Gaussian "
            "sensing); give only the AIHT network's settings, e.g. --model.net.storage compact"
        )


def check_draws_settings(config: Namespace, where: str = "") -> None:
    """``model.net.draws`` and ``data.draws`` are set per point from ``sweep.draws``."""
    data = config.data.get("init_args") or Namespace()
    net = config.model.get("net")
    net_args = (net.get("init_args") if isinstance(net, Namespace) else None) or Namespace()
    for name, value in (("model.net.draws", net_args.get("draws")), ("data.draws", data.get("draws"))):
        if value not in (None, "numpy", config.sweep.draws):
            raise SettingsError(
                f"{name}={value}{where}: the sweep sets every point's draws from sweep.draws; "
                f"use --sweep.draws {value}"
            )


def check_draws(draws: str, accelerator, here: bool = True) -> None:
    """``sweep.draws cupy`` draws with CuPy on a CUDA GPU (docs/reproducing.md): refused on the CPU, and,
    where the points run here (not on a Ray cluster), without a CUDA GPU or without CuPy."""
    if draws != "cupy":
        return
    if str(accelerator) == "cpu":
        raise SettingsError(
            f"sweep.draws=cupy with trainer.accelerator={accelerator}: CuPy draws the paper's GPU "
            "numbers on a CUDA GPU; use --trainer.accelerator gpu on a machine with one, or "
            "--sweep.draws numpy (the paper's code on a CPU)"
        )
    if here:
        load_cupy("sweep.draws")


def check_workers(workers: int, cpus: int) -> None:
    """At most one CPU worker process per core: each holds a point's data and model."""
    if workers > cpus:
        raise SettingsError(
            f"sweep.workers={workers}: this machine has {cpus} CPU cores, and each worker holds a "
            f"point's data and model; use at most --sweep.workers {cpus}"
        )


def check_accelerator(accelerator, devices, cuda_devices: int) -> list[int] | None:
    """The GPU indices the sweep's points run on (None: the CPU), for ``trainer.accelerator`` and
    ``trainer.devices``, where ``cuda_devices`` CUDA GPUs are there to run them."""
    name = str(accelerator)
    if name == "auto":
        name = "gpu" if cuda_devices > 0 else "cpu"
    if name == "cpu":
        if str(devices) not in _CPU_DEVICES:
            raise SettingsError(
                f"trainer.devices={devices} with the CPU would train every point as {devices} "
                "DDP processes; to run several points at once use --sweep.workers N"
            )
        return None
    if name not in _GPU_ACCELERATORS:
        raise SettingsError(
            f"trainer.accelerator={accelerator}: the sweep runs points on the CPU or on CUDA GPUs; "
            "use --trainer.accelerator cpu or gpu"
        )
    if cuda_devices < 1:
        raise SettingsError(
            f"trainer.accelerator={accelerator}: there is no CUDA GPU here "
            "(torch.cuda.is_available() is False); use --trainer.accelerator cpu, with "
            "--sweep.workers N to run N points at once"
        )
    ids = _gpu_indices(devices, cuda_devices)
    missing = [i for i in ids if not 0 <= i < cuda_devices]
    if not ids or missing:  # an index given twice is two workers on that GPU
        raise SettingsError(
            f"trainer.devices={devices}: there are {cuda_devices} GPU(s) here (0 to "
            f"{cuda_devices - 1}); give a count from 1 to {cuda_devices}, indices like 0,2, or auto"
        )
    return ids


def _gpu_indices(devices, count: int) -> list[int]:
    """``trainer.devices`` as GPU indices: a count N is 0..N-1; auto or -1 is every GPU."""
    if devices in ("auto", -1, "-1", None):
        return list(range(count))
    try:
        if isinstance(devices, int) or (isinstance(devices, str) and devices.strip().isdigit()):
            return list(range(int(devices)))
        if isinstance(devices, str):
            return [int(d) for d in devices.split(",") if d.strip()]
        return [int(d) for d in devices]
    except (TypeError, ValueError):
        return []
