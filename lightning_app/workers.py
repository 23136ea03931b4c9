"""Where a sweep's jobs run: in this process, or in one worker process per device (GPUs) or a
chosen number of CPU worker processes, each holding its own copy of the CLI."""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

import torch

from lightning_app.allocator import keep_freed_memory, release_freed_memory

_worker_cli = None


def run_here(run_job: Callable) -> Callable[[list], Future]:
    """Runs each job at once, in this process; its future is already done."""

    def submit(points: list) -> Future:
        future: Future = Future()
        try:
            future.set_result(run_job(points))
        except Exception as exc:  # noqa: BLE001 - the sweep records it
            future.set_exception(exc)
        release_freed_memory()
        return future

    return submit


def gpu_ids(accelerator, devices) -> list[int] | None:
    """The GPU indices ``--trainer.accelerator gpu --trainer.devices …`` names, or None on the CPU."""
    if str(accelerator) not in ("gpu", "cuda") and not (
        str(accelerator) == "auto" and torch.cuda.is_available()
    ):
        return None
    count = torch.cuda.device_count()
    if devices in ("auto", -1, "-1", None):
        return list(range(count))
    if isinstance(devices, int) or (isinstance(devices, str) and devices.isdigit()):
        return list(range(int(devices)))
    if isinstance(devices, str):
        return [int(d) for d in devices.split(",") if d.strip()]
    return [int(d) for d in devices]


def _start_worker(cli_args: list[str], devices, threads: int) -> None:
    global _worker_cli
    torch.set_num_threads(threads)
    device = devices.get() if devices is not None else None
    from lightning_app.cli import SweepCLI

    _worker_cli = SweepCLI(args=cli_args, run=False, worker_device=device)
    keep_freed_memory()


def _run_in_worker(points: list) -> dict:
    try:
        return _worker_cli.run_job(points)
    finally:
        release_freed_memory()


class WorkerPool:
    """``workers`` processes (spawned, so CUDA works); with ``gpus`` one per GPU, pinned to it."""

    def __init__(self, cli_args: list[str], workers: int, gpus: list[int] | None) -> None:
        context = multiprocessing.get_context("spawn")
        queue = None
        if gpus is not None:
            queue = context.Queue()
            for gpu in gpus:
                queue.put(gpu)
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(cli_args, queue, threads),
        )

    def submit(self, points: list) -> Future:
        return self.pool.submit(_run_in_worker, points)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
