"""``--sweep.launcher ray``: a sweep's jobs as Ray tasks, on a local Ray or a cluster.

Jobs are queued as the sweep hands them out and sent in batches of ``sweep.ray_batch`` jobs per
task (``ray_tasks.run_batch``), so that a task pays the imports and the plan's parsing once for
its batch. A CPU task asks Ray for ``sweep.ray_cpus`` cores and trains with that many threads; with
``--trainer.accelerator gpu`` each task asks for one GPU, which Ray pins (``CUDA_VISIBLE_DEVICES``).
Each job's result comes back through the ledger actor as soon as the job ends, with the files it
logged, which are written here under the run folder; the sweep then writes ``result.json`` and the
tables as for local jobs.

A task whose worker process or node dies is run again by Ray elsewhere (``max_retries``, system
failures only), skipping the jobs it had delivered; a job that raises is delivered as failed and is
not run again. Ray is imported here only, when this launcher is chosen.
"""

import logging
import os
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from lightning_app.files.safe_write import remove_dead_folders, write_bytes
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.job import Job

try:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError:  # pragma: no cover - depends on the installation
    ray = None

TICK_S = 0.05  # how long the collector waits for deliveries between looks at the tasks
LINGER_S = 0.05  # a partial batch waits this long for more jobs before it is sent to a free slot


def _require_ray() -> None:
    if ray is None:
        raise SettingsError(
            "sweep.launcher ray needs Ray: install the project's extra with "
            "pip install -e '.[ray]' (or pip install 'ray>=2.9'), or use --sweep.launcher local"
        )


def _check_settings(sweep) -> None:
    for name in ("ray_batch", "ray_cpus"):
        if getattr(sweep, name) < 1:
            raise SettingsError(f"sweep.{name} must be at least 1, got {getattr(sweep, name)}")
    if sweep.ray_max_retries < 0:
        raise SettingsError(f"sweep.ray_max_retries must be 0 or more, got {sweep.ray_max_retries}")
    if sweep.workers != 1:
        raise SettingsError(
            "sweep.workers is for the local launcher; with sweep.launcher ray every task asks for "
            "sweep.ray_cpus cores and Ray runs as many as the cluster has room for"
        )


def _error_of(exc: BaseException) -> BaseException:
    """The application's own exception inside Ray's wrapper, when there is one."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


class RayLauncher:
    """Runs jobs as Ray tasks; ``submit`` and ``in_flight`` as ``jobs.run_grid`` expects them.

    ``make_runner(device, root=…)`` builds a worker's job runner (``lightning_app.cli.worker_runner``
    with the sweep's arguments); ``root`` is the run folder the logged files are written under.
    """

    def __init__(self, make_runner, root: Path, sweep, accelerator) -> None:
        _require_ray()
        _check_settings(sweep)
        self.make_runner, self.root, self.batch = make_runner, Path(root), sweep.ray_batch
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            try:
                ray.init(address=sweep.ray_address, include_dashboard=False, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise SettingsError(
                    f"sweep.ray_address {sweep.ray_address!r}: no Ray cluster found ({exc}); start one "
                    "with ray start --head, or leave sweep.ray_address unset for a local Ray"
                ) from None
        try:
            self.gpu, self.slots = self._slots(sweep, accelerator)
        except SettingsError:
            self._shutdown()
            raise
        #: jobs kept pending by the sweep: a batch running and one waiting on every slot
        self.in_flight = 2 * self.slots * self.batch
        retries = sweep.ray_max_retries  # system failures only: a job's own exception is delivered
        self.options = dict(num_cpus=sweep.ray_cpus, max_retries=retries, retry_exceptions=False)
        self.threads = sweep.ray_cpus
        from lightning_app.launch.ray_tasks import Ledger, run_batch, run_batch_on_gpu

        self.run_batch = run_batch_on_gpu if self.gpu else run_batch
        here = ray.get_runtime_context().get_node_id()
        on_this_node = NodeAffinitySchedulingStrategy(here, soft=False)  # it lives and dies with the driver
        self.ledger = Ledger.options(scheduling_strategy=on_this_node).remote()
        self._lock = threading.Lock()
        self._queue: list[int] = []
        self._jobs: dict[int, tuple[list, Future]] = {}
        self._tasks: dict = {}  # task ref -> its job keys
        self._last_submit = 0.0
        self._stop = threading.Event()
        self._collector = threading.Thread(target=self._collect, name="ray-collector", daemon=True)
        self._collector.start()

    def _slots(self, sweep, accelerator) -> tuple[bool, int]:
        """Whether tasks ask for a GPU, and how many tasks the cluster runs at once."""
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        gpus = sum(int(n.get("GPU", 0)) for n in nodes)
        gpu = str(accelerator) in ("gpu", "cuda") or (str(accelerator) == "auto" and gpus > 0)
        if gpu:
            if gpus == 0:
                raise SettingsError(
                    "trainer.accelerator gpu with sweep.launcher ray: the Ray cluster has no GPUs; "
                    "start its nodes on GPU machines, or train on the CPU with --trainer.accelerator cpu"
                )
            return True, gpus
        most = max((n.get("CPU", 0) for n in nodes), default=0)
        if most < sweep.ray_cpus:
            raise SettingsError(
                f"sweep.ray_cpus={sweep.ray_cpus}, but no node of the Ray cluster has that many CPUs "
                f"(at most {most:g}): lower sweep.ray_cpus"
            )
        return False, max(1, int(sum(n.get("CPU", 0) for n in nodes) // sweep.ray_cpus))

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        with self._lock:
            key = len(self._jobs)
            self._jobs[key] = (job, future)
            self._queue.append(key)
            self._last_submit = time.monotonic()
        return future

    def _dispatch(self) -> None:
        """Sends full batches at once; a partial one when a slot is free and no job came lately."""
        with self._lock:
            while self._queue:
                partial = len(self._queue) < self.batch
                if partial and (
                    len(self._tasks) >= self.slots or time.monotonic() - self._last_submit < LINGER_S
                ):
                    return
                keys, self._queue = self._queue[: self.batch], self._queue[self.batch :]
                jobs = [(k, self._jobs[k][0]) for k in keys]
                ref = self.run_batch.options(**self.options).remote(
                    self.make_runner, jobs, self.ledger, os.getcwd(), self.threads
                )
                self._tasks[ref] = keys

    def _collect(self) -> None:
        try:
            while not self._stop.is_set():
                self._dispatch()
                ended = []
                if self._tasks:
                    ended, _ = ray.wait(list(self._tasks), num_returns=len(self._tasks), timeout=0)
                for key, delivery in ray.get(self.ledger.take.remote(TICK_S)):
                    self._deliver(key, delivery)
                for ref in ended:  # their deliveries were all in the ledger before they ended
                    self._end_task(ref)
        except Exception as exc:  # noqa: BLE001 - Ray itself failed: every job left fails with it
            for _, future in list(self._jobs.values()):
                if not future.done():
                    future.set_exception(exc)

    def _deliver(self, key: int, delivery) -> None:
        future = self._jobs[key][1]
        for relative, data in delivery.files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, data)
        if delivery.error is not None:
            if delivery.traceback:
                delivery.error.__cause__ = _RemoteTraceback(delivery.traceback)
            future.set_exception(delivery.error)
        else:
            future.set_result(delivery.fields)

    def _end_task(self, ref) -> None:
        with self._lock:
            keys = self._tasks.pop(ref)
        try:
            ray.get(ref)
            error: BaseException = RuntimeError("the Ray task ended without this job's result")
        except Exception as exc:  # noqa: BLE001 - retries used up, or the batch's own setup failed
            error = _error_of(exc)
        for key in keys:
            future = self._jobs[key][1]
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        self._stop.set()
        self._collector.join()
        for ref in list(self._tasks):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001, S110 - it may have ended meanwhile
                pass
        self._shutdown()
        if self.started_ray:  # its workers ended with it: their scratch folders go too
            remove_scratch_folders()

    stop = close  # an interrupted sweep: the tasks are cancelled, their workers killed

    def _shutdown(self) -> None:
        if self.started_ray:
            ray.shutdown()


def remove_scratch_folders(wait_s: float = 5.0) -> None:
    """Removes the scratch folders of this machine's Ray workers that are gone, waiting up to
    ``wait_s`` seconds for workers killed just now to end."""
    from lightning_app.launch.ray_tasks import SCRATCH_PREFIX

    deadline = time.monotonic() + wait_s
    parent = Path(tempfile.gettempdir())
    while True:
        remove_dead_folders(parent, SCRATCH_PREFIX)
        if not any(p.is_dir() for p in parent.glob(f"{SCRATCH_PREFIX}*")) or time.monotonic() > deadline:
            return
        time.sleep(0.1)


class _RemoteTraceback(Exception):
    """The traceback of a job that raised on a Ray worker, shown as its exception's cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)

    def __str__(self) -> str:
        return "\n" + self.args[0]
