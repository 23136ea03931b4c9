"""Sweeps through Ray (``--sweep.launcher ray``) on a local Ray or on a Ray cluster of two nodes
simulated on this machine, each test in a private network namespace (tests/netns.py): results equal
to the in-process sweep's, a node removed mid-sweep, a Ray sweep and a local one on one folder."""

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_app.launch import ray_launcher
from lightning_app.report.events import find_event_files
from lightning_app.report.figures import heatmap_main
from tests.helpers import run_fit
from tests.netns import in_private_network
from tests.run_log import read_log, runs_per_point

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray is not installed: pip install -e '.[ray]'"
)

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ("wall_s", "fit_s", "export_bytes", "export_sha256")  # the export holds fit_s too


@pytest.fixture(autouse=True)
def no_memory_monitor(monkeypatch):
    """Ray's memory monitor kills workers when the whole machine's memory is nearly full, which
    other processes on a shared test machine can cause; these tests are about other failures."""
    monkeypatch.setenv("RAY_memory_monitor_refresh_ms", "0")


def quickstart(root: Path, log: Path, *extra: str) -> list[str]:
    """Figure 1's quick grid (configs/quickstart.yaml) on fewer measurements, with a width (3)
    whose points fail on purpose."""
    return [
        "fit",
        "--config",
        "configs/quickstart.yaml",
        "--data",
        "tests.run_log.LoggedPlanted",
        f"--data.run_log={log}",
        "--data.fail_width=3",
        "--data.nmeasurements=5000",
        "--sweep.mlist",
        "3",
        "5",
        "20",
        "--sweep.slist",
        "10",
        "50",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        *extra,
    ]


def results_by_folder(root: Path) -> dict[str, dict]:
    found = {}
    for path in root.rglob("result.json"):
        result = json.loads(path.read_text())
        result.get("identity", {}).get("data", {}).pop("run_log", None)  # each sweep logs to its own file
        found[str(path.parent.relative_to(root))] = {k: v for k, v in result.items() if k not in TIMINGS}
    return found


def tables(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.load(p) for p in (root / "tables").rglob("*.npy")}


def training_curve(folder: Path, tag: str) -> list[float]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return [event.value for event in acc.Scalars(tag)]


def test_a_clear_error_without_ray(monkeypatch, tmp_path):
    monkeypatch.setattr(ray_launcher, "ray", None)
    with pytest.raises(SystemExit, match=r"pip install -e '\.\[ray\]'"):
        from lightning_app.cli import main

        main(quickstart(tmp_path, tmp_path / "log", "--sweep.launcher=ray"))


@needs_ray
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sweep.workers=2"], "sweep.workers is for the local launcher"),
        (["--sweep.ray_batch=0"], "sweep.ray_batch must be at least 1"),
        (["--sweep.ray_max_retries=-1"], "sweep.ray_max_retries must be 0 or more"),
        (["--sweep.launcher=slurm"], "sweep.launcher"),
    ],
)
def test_bad_ray_settings_name_the_setting(tmp_path, capsys, extra, message):
    from lightning_app.cli import main

    with pytest.raises(SystemExit) as stop:
        main(quickstart(tmp_path, tmp_path / "log", "--sweep.launcher=ray", *extra))
    assert stop.value.code not in (0, None)
    assert message in f"{stop.value.code} {capsys.readouterr().err}"


@needs_ray
@pytest.mark.slow
@in_private_network
def test_ray_sweep_equals_the_in_process_sweep(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray task (sweep.ray_cpus 1): the same sums, bit for bit
    try:
        run_fit(quickstart(tmp_path / "here", tmp_path / "here.log"))
    finally:
        torch.set_num_threads(threads)
    through_ray = ("--sweep.launcher=ray", "--sweep.ray_address=local")
    run_fit(quickstart(tmp_path / "ray", tmp_path / "ray.log", *through_ray))

    here, there = results_by_folder(tmp_path / "here"), results_by_folder(tmp_path / "ray")
    assert len(here) == 12 and here == there
    assert sum(r["status"] == "failed" for r in there.values()) == 4
    assert {r["error"] for r in there.values() if r["status"] == "failed"} == {
        "RuntimeError: width 3 fails on purpose"
    }
    runs = runs_per_point(tmp_path / "ray.log")  # every point ran once, the failing ones too
    assert len(runs) == 12 and all(e[0] == "start" and e.count("start") == 1 for e in runs.values())
    assert os.getpid() not in {line["pid"] for line in read_log(tmp_path / "ray.log")}  # Ray's workers

    here_tables, ray_tables = tables(tmp_path / "here"), tables(tmp_path / "ray")
    assert here_tables.keys() == ray_tables.keys() and len(ray_tables) == 1
    for name, table in here_tables.items():
        assert table.shape == (3, 2, 2) and np.isnan(table[0]).all()
        assert np.array_equal(table, ray_tables[name], equal_nan=True)
        png = name.removesuffix(".npy") + ".png"
        heatmaps = [(tmp_path / run / png).read_bytes() for run in ("here", "ray")]
        assert heatmaps[0] == heatmaps[1]

    for folder in here:  # each point's training curves came back from its task
        events = find_event_files(tmp_path / "ray" / folder)
        assert len(events) == 2  # the task's training curves and the driver's hparams
        if here[folder]["status"] == "done":
            curve = training_curve(tmp_path / "ray" / folder, "train/psnr")
            assert len(curve) == 15 and curve == training_curve(tmp_path / "here" / folder, "train/psnr")

    heatmap_main(["--logdir", str(tmp_path / "ray"), "--out", str(tmp_path / "rebuilt"), "--no-tensorboard"])
    rebuilt = tables(tmp_path / "rebuilt")
    assert rebuilt.keys() == here_tables.keys()
    for name, table in rebuilt.items():
        assert np.array_equal(table, here_tables[name], equal_nan=True)


def remove_worker_mid_batch(cluster, worker, log: Path, removed: list, stop: threading.Event) -> None:
    """Removes ``worker`` once it has finished a point of a batch and started the next one (or
    gives up when ``stop`` is set: the sweep ended without that moment)."""
    node_id = worker.node_id
    deadline = time.time() + 600
    while time.time() < deadline and not stop.is_set():
        lines = [line for line in read_log(log) if line["node"] == node_id] if log.exists() else []
        if any(line["event"] == "end" for line in lines) and lines[-1]["event"] == "start":
            time.sleep(0.2)
            cluster.remove_node(worker, allow_graceful=False)
            removed.append(lines[-1]["point"])
            return
        time.sleep(0.1)


@needs_ray
@pytest.mark.slow
@in_private_network
def test_a_node_removed_mid_sweep(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    log = tmp_path / "runs.log"
    removed: list = []
    stop = threading.Event()
    killer = threading.Thread(target=remove_worker_mid_batch, args=(cluster, worker, log, removed, stop))
    killer.start()
    try:
        results = run_fit(
            quickstart(
                tmp_path / "run",
                log,
                "--data.fail_width=0",
                "--data.sleep_s=1.5",
                "--sweep.mlist",
                "5",
                "20",
                f"--sweep.ray_address={cluster.address}",
                "--sweep.launcher=ray",
                "--sweep.ray_batch=2",
            )
        )
    finally:
        stop.set()
        killer.join()
        cluster.shutdown()
    assert removed, "the worker node was never removed"
    assert len(results) == 8 and all(r["status"] == "done" for r in results)
    runs = runs_per_point(log)
    assert len(runs) == 8
    for point, events in runs.items():
        assert events.count("end") == 1 and events[-1] == "end", (point, events)  # none ran again once done
    assert runs[tuple(removed[0])] == ["start", "start", "end"]  # the point cut short ran again
    assert len(list((tmp_path / "run").rglob("claim.json"))) == 0


@needs_ray
@pytest.mark.slow
@in_private_network
def test_a_ray_sweep_and_a_local_one_share_a_folder(tmp_path):
    """The Ray sweep claims a few points at a time (ray_batch 1: four in flight on two CPUs), so
    the local sweep, started once Ray's workers run, finds points left to take."""
    log = tmp_path / "runs.log"
    args = quickstart(tmp_path / "shared", log, "--data.fail_width=0", "--data.sleep_s=3")
    launchers = (["--sweep.launcher=ray", "--sweep.ray_address=local", "--sweep.ray_batch=1"], [])
    commands = [[sys.executable, "cli.py", *args, *extra] for extra in launchers]
    through_ray = subprocess.Popen(commands[0], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (log.exists() and read_log(log)) and time.time() < deadline:
        time.sleep(0.1)
    local = subprocess.Popen(commands[1], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    errors = [sweep.communicate(timeout=600)[1] for sweep in (through_ray, local)]
    assert [through_ray.returncode, local.returncode] == [0, 0], errors
    runs = runs_per_point(log)
    assert len(runs) == 12 and all(events == ["start", "end"] for events in runs.values()), runs
    pids = {line["pid"] for line in read_log(log)}
    assert local.pid in pids and len(pids - {local.pid}) >= 1  # both sweeps ran points
    (table,) = tables(tmp_path / "shared").values()
    assert table.shape == (3, 2, 2) and not np.isnan(table).any()


@needs_ray
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@in_private_network
def test_two_points_on_one_gpu_each_task_pinned(tmp_path):
    log = tmp_path / "runs.log"
    one_gpu_each = ("--trainer.accelerator=gpu", "--sweep.launcher=ray", "--sweep.ray_address=local")
    args = ("--data.fail_width=0", "--sweep.mlist", "5", "--sweep.slist", "10", "--sweep.ray_batch=1")
    results = run_fit(quickstart(tmp_path / "run", log, *args, *one_gpu_each))
    assert [r["status"] for r in results] == ["done", "done"]
    starts = [line for line in read_log(log) if line["event"] == "start"]
    assert len(starts) == 2
    visible = {line["gpus"] for line in starts}
    assert len(visible) == 1 and visible.pop().isdigit()  # Ray pinned each task to one GPU
    assert len({line["pid"] for line in starts}) == 2  # a fresh worker process per GPU task
