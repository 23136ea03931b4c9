"""What runs on the Ray cluster for a sweep: the batch task, which trains a batch of jobs in one
worker process, and the ledger, the actor on the driver's node through which every job's result
comes back.

A batch task rebuilds the sweep's plan from its arguments once per worker process (as a local
worker process does), logs each job into a scratch folder of its own and delivers, per job, the
result fields or the job's own exception, with every file the job logged (TensorBoard events,
hparams; not checkpoints) as bytes with its path under the run folder. The driver writes them, so
the nodes need no shared file system. The ledger keeps which jobs were delivered: when Ray runs a
batch again after its worker or node died, the jobs already delivered are not run again.
"""

import asyncio
import logging
import os
import pickle
import shutil
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import ray
import torch

from lightning_app.files.safe_write import remove_dead_folders
from lightning_app.launch.allocator import keep_freed_memory, release_freed_memory

SCRATCH_PREFIX = "sparse-mlp-ray-"  # + the worker's pid: its scratch folder in the temporary directory
SKIPPED_SUFFIXES = (".ckpt",)  # checkpoints stay on the node (and go with its scratch folder)


@dataclass
class Delivery:
    """One job's outcome: its points' result fields, or the exception it raised (with the
    traceback as text), and the files it logged, by path relative to the run folder."""

    fields: dict | None = None
    error: BaseException | None = None
    traceback: str = ""
    files: dict[str, bytes] = field(default_factory=dict)


@ray.remote(num_cpus=0)
class Ledger:
    """The jobs delivered so far; the driver takes the new ones as they come."""

    def __init__(self) -> None:
        self.delivered: set[int] = set()
        self.new: list[tuple[int, Delivery]] = []
        self.arrived = asyncio.Event()

    async def has(self, key: int) -> bool:
        return key in self.delivered

    async def put(self, key: int, delivery: Delivery) -> None:
        if key not in self.delivered:  # a job delivered twice (a replayed batch) counts once
            self.delivered.add(key)
            self.new.append((key, delivery))
            self.arrived.set()

    async def take(self, wait_s: float) -> list[tuple[int, Delivery]]:
        """The deliveries since the last take; waits up to ``wait_s`` seconds for one."""
        if not self.new:
            try:
                await asyncio.wait_for(self.arrived.wait(), wait_s)
            except asyncio.TimeoutError:
                pass
        self.arrived.clear()
        taken, self.new = self.new, []
        return taken


_runner: tuple[bytes, object] | None = None  # this worker process's job runner, with its key


def _job_runner(make_runner, device: int | None, scratch: Path):
    """The job runner of ``make_runner`` for this worker process, built on its first batch."""
    global _runner
    key = pickle.dumps((make_runner, device, str(scratch)))
    if _runner is None or _runner[0] != key:
        logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
        # the arguments are the sweep's; the worker's own command line is Ray's
        warnings.filterwarnings("ignore", message=".*LightningCLI's args parameter.*")
        _runner = (key, make_runner(device, root=str(scratch)))
        keep_freed_memory()
    return _runner[1]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it can travel to the driver, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception that does not pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _logged_files(scratch: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(scratch)): path.read_bytes()
        for path in sorted(scratch.rglob("*"))
        if path.is_file() and path.suffix not in SKIPPED_SUFFIXES
    }


@ray.remote
def run_batch(make_runner, jobs: list[tuple[int, list]], ledger, cwd: str, threads: int) -> int:
    """A batch on the CPU (see ``train_batch``)."""
    return train_batch(make_runner, jobs, ledger, cwd, threads, gpu=False)


@ray.remote(num_gpus=1)  # stated here, not in .options(): Ray then gives each task a fresh worker
def run_batch_on_gpu(make_runner, jobs: list[tuple[int, list]], ledger, cwd: str, threads: int) -> int:
    """A batch on the one GPU Ray gives the task (see ``train_batch``)."""
    return train_batch(make_runner, jobs, ledger, cwd, threads, gpu=True)


def train_batch(make_runner, jobs: list[tuple[int, list]], ledger, cwd: str, threads: int, gpu: bool) -> int:
    """Trains each job of ``jobs`` (key, job) not yet in ``ledger`` and delivers it there;
    returns how many it ran. ``make_runner(device, root=…)`` builds the job runner (on a GPU,
    device 0: the one Ray pinned with ``CUDA_VISIBLE_DEVICES``); ``cwd`` is the driver's working
    directory, used where it exists so that relative paths (configs, data) mean the same as on
    the driver."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    torch.set_num_threads(threads)
    remove_dead_folders(Path(tempfile.gettempdir()), SCRATCH_PREFIX)  # of workers killed earlier
    scratch = Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}{os.getpid()}"
    run_job = _job_runner(make_runner, 0 if gpu else None, scratch)
    ran = 0
    try:
        for key, job in jobs:
            if ray.get(ledger.has.remote(key)):
                continue
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            delivery = Delivery()
            start = time.perf_counter()
            try:
                fields = run_job(job)
                wall_s = round(time.perf_counter() - start, 3)  # the job's own time, not its wait
                delivery.fields = {p: {**f, "wall_s": wall_s} for p, f in fields.items()}
            except Exception as exc:  # noqa: BLE001 - the point failed on its own: the sweep records it
                delivery.error = _portable(exc)
                delivery.traceback = "".join(traceback.format_exception(exc))
            finally:
                release_freed_memory()
            delivery.files = _logged_files(scratch)
            ray.get(ledger.put.remote(key, delivery))
            ran += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ran
