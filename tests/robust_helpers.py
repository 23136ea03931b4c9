"""Helpers of the robustness tests: a planted task whose points end in each possible way, the
processes of a session, and the ways a result file can be damaged."""

import json
import random
import sys
from pathlib import Path

from datamodules.planted import PlantedMLPDataModule
from datamodules.task import SkipPoint

ROOT = Path(__file__).resolve().parent.parent


class ScriptedPlanted(PlantedMLPDataModule):
    """Planted data whose point with m=2 diverges (labels of 1e200: their squares overflow float64),
    m=3 fails (an error in setup) and m=4 is skipped; other widths are the planted task."""

    def setup(self, stage: str) -> None:
        if self.width == 3:
            raise RuntimeError("scripted failure of the m=3 point")
        if self.width == 4:
            raise SkipPoint("scripted skip of the m=4 point")
        super().setup(stage)
        if self.width == 2:
            self.y = self.y * 1e200


def session_processes(session: int) -> list[int]:
    """Living (not zombie) processes of a session, by /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, sid = fields[0], int(fields[3])
        if sid == session and state not in ("Z", "X"):
            pids.append(int(stat.parent.name))
    return pids


def fit_command(root: Path, *extra: str) -> list[str]:
    """``python cli.py fit`` on a tiny planted grid under ``root``."""
    return [
        sys.executable,
        "cli.py",
        "fit",
        "--data=datamodules.planted.PlantedMLPDataModule",
        "--data.nmeasurements=60",
        "--data.input_dim=5",
        "--trainer.max_epochs=2",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        *extra,
    ]


def _with(result: dict, **changes) -> str:
    return json.dumps({**result, **changes})


def _without(result: dict, key: str) -> str:
    return json.dumps({k: v for k, v in result.items() if k != key})


#: Ways a result.json can be damaged: name → the damaged text or bytes, given the real result.
DAMAGES = {
    "empty": lambda r, text: "",
    "truncated": lambda r, text: text[: len(text) // 2],
    "random bytes": lambda r, text: random.Random(0).randbytes(300),
    "a list": lambda r, text: "[1, 2]",
    "null": lambda r, text: "null",
    "a string": lambda r, text: '"done"',
    "only a status": lambda r, text: '{"status": "done"}',
    "no identity": lambda r, text: _without(r, "identity"),
    "metric of the wrong type": lambda r, text: _with(r, metric="high"),
    "metric NaN": lambda r, text: text.replace(f'"metric": {r["metric"]}', '"metric": NaN'),
    "metric -Infinity": lambda r, text: text.replace(f'"metric": {r["metric"]}', '"metric": -Infinity'),
    "metric null": lambda r, text: _with(r, metric=None),
    "negative m": lambda r, text: _with(r, m=-r["m"]),
    "m as text": lambda r, text: _with(r, m=str(r["m"])),
    "unknown status": lambda r, text: _with(r, status="finished"),
    "huge": lambda r, text: text + " " * (2 << 20),
    "deeply nested": lambda r, text: "[" * 100_000 + "]" * 100_000,
}


def damage(path: Path, how: str) -> bytes:
    """Damages the result.json at ``path`` the named way; returns the bytes it now holds."""
    text = path.read_text()
    damaged = DAMAGES[how](json.loads(text), text)
    data = damaged if isinstance(damaged, bytes) else damaged.encode()
    assert data != text.encode(), how
    path.write_bytes(data)
    return data
