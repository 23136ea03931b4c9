"""A planted datamodule that writes a line to a log file when a point's training starts and when it
ends (with the process and the Ray node, if any), so that tests can count how often each point
ran across processes and machines; ``fail_width`` makes the points of that width raise, and
``sleep_s`` makes every point last at least that long, whatever the machine's speed."""

import json
import os
import time

from datamodules.planted import PlantedMLPDataModule


def _ray_node() -> str | None:
    try:
        import ray
    except ImportError:
        return None
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


class LoggedPlanted(PlantedMLPDataModule):
    def __init__(self, *args, run_log: str = "", fail_width: int = 0, sleep_s: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.run_log, self.fail_width, self.sleep_s = run_log, fail_width, sleep_s

    def _write(self, event: str) -> None:
        line = dict(
            event=event,
            point=[self.width, self.sparsity, self.seed],
            pid=os.getpid(),
            node=_ray_node(),
            gpus=os.environ.get("CUDA_VISIBLE_DEVICES"),
            time=time.time(),
        )
        with open(self.run_log, "a") as f:
            f.write(json.dumps(line) + "\n")

    def setup(self, stage: str) -> None:
        if self.x is None and self.run_log:
            self._write("start")
            time.sleep(self.sleep_s)
        if self.width == self.fail_width:
            raise RuntimeError(f"width {self.width} fails on purpose")
        super().setup(stage)

    def teardown(self, stage: str) -> None:
        if stage == "fit" and self.run_log:
            self._write("end")


def read_log(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def runs_per_point(path) -> dict[tuple, list[str]]:
    """Each point's events in the order they were written: "start", "end", …"""
    runs: dict[tuple, list[str]] = {}
    for line in read_log(path):
        runs.setdefault(tuple(line["point"]), []).append(line["event"])
    return runs
