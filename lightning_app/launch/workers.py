"""Where a sweep's jobs run: in this process, or in one worker process per device (GPUs) or a
chosen number of CPU worker processes, each with its own job runner.

Workers end with their sweep, however it ends (an interrupted sweep kills them at once; Ctrl-C
in the terminal is ignored by the workers and handled by the sweep): on Linux the kernel kills a
worker when the sweep process dies (``PR_SET_PDEATHSIG``, SIGKILL of the sweep included), and
everywhere a thread in each worker ends it within a second of its parent process being gone.
"""

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

import torch

from lightning_app.launch.allocator import keep_freed_memory, release_freed_memory
from lightning_app.plan.checks import check_accelerator
from lightning_app.plan.job import Job

RunJob = Callable[[Job], dict]
#: Builds a worker's job runner, given the GPU the worker is pinned to (None on the CPU). It is
#: sent to spawned processes, so it must pickle: a module-level function or a partial of one.
RunnerFactory = Callable[[int | None], RunJob]

_worker_run_job: RunJob | None = None


def run_here(run_job: RunJob) -> Callable[[Job], Future]:
    """Runs each job at once, in this process; its future is already done."""

    def submit(job: Job) -> Future:
        future: Future = Future()
        try:
            future.set_result(run_job(job))
        except Exception as exc:  # noqa: BLE001 - the sweep records it
            future.set_exception(exc)
        release_freed_memory()
        return future

    return submit


def gpu_ids(accelerator, devices) -> list[int] | None:
    """The GPU indices ``--trainer.accelerator gpu --trainer.devices …`` names, or None on the CPU;
    SettingsError if this machine does not have them."""
    return check_accelerator(accelerator, devices, torch.cuda.device_count())


_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def end_with_parent(parent_pid: int) -> None:
    """Ends this process when process ``parent_pid`` (its parent) is gone (module docstring)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watching thread still ends it
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _start_worker(make_runner: RunnerFactory, devices, threads: int, parent_pid: int) -> None:
    global _worker_run_job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the sweep, which ends its workers
    end_with_parent(parent_pid)
    torch.set_num_threads(threads)
    device = devices.get() if devices is not None else None
    _worker_run_job = make_runner(device)
    keep_freed_memory()


def _run_in_worker(job: Job) -> dict:
    try:
        return _worker_run_job(job)
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
            initargs=(make_runner, queue, threads, os.getpid()),
        )

    def submit(self, job: Job) -> Future:
        return self.pool.submit(_run_in_worker, job)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Ends the workers now, their running jobs with them (the sweep was interrupted)."""
        processes = list((self.pool._processes or {}).values())  # the executor has no public kill
        for process in processes:
            process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)
