"""Where a sweep's jobs run: in this process, or in one worker process per device (GPUs) or a
chosen number of CPU worker processes, each with its own job runner."""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

import torch

from lightning_app.allocator import keep_freed_memory, release_freed_memory

RunJob = Callable[[list], dict]
#: Builds a worker's job runner, given the GPU the worker is pinned to (None on the CPU). It is
#: sent to spawned processes, so it must pickle: a module-level function or a partial of one.
RunnerFactory = Callable[[int | None], RunJob]

_worker_run_job: RunJob | None = None


def run_here(run_job: RunJob) -> Callable[[list], Future]:
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


def _start_worker(make_runner: RunnerFactory, devices, threads: int) -> None:
    global _worker_run_job
    torch.set_num_threads(threads)
    device = devices.get() if devices is not None else None
    _worker_run_job = make_runner(device)
    keep_freed_memory()


def _run_in_worker(points: list) -> dict:
    try:
        return _worker_run_job(points)
    finally:
        release_freed_memory()


class WorkerPool:
    """``workers`` processes (spawned, so CUDA works); with ``gpus`` one per GPU, pinned to it."""

    def __init__(self, make_runner: RunnerFactory, workers: int, gpus: list[int] | None) -> None:
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
            initargs=(make_runner, queue, threads),
        )

    def submit(self, points: list) -> Future:
        return self.pool.submit(_run_in_worker, points)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
