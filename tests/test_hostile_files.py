"""Hostile and damaged files (issue 25): one test per row of its table about files — a point's
export replaced by another run, a config of nested YAML aliases, a symlink planted where a
temporary goes, damaged claims, result files that are devices, FIFOs or symlink loops, and an
unrelated events file carrying a grid point."""

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lightning_app.files import safe_write
from lightning_app.plan.config_files import MAX_DEPTH, check_yaml_limits
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.grid import GridPoint
from lightning_app.report.figures import heatmap_main
from lightning_app.run.export import EXPORT_FILE
from lightning_app.run.hparams import log_point_hparams
from lightning_app.store.claims import CLAIM_FILE, PointClaims, try_claim
from lightning_app.store.finished import previous_result
from sparse_export import read_sparse_mlp
from tests.helpers import run_fit
from tests.result_helpers import csv_rows
from tests.robust_helpers import ROOT

BASE = [
    "fit",
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.input_dim=5",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
    "--sweep.method=aiht",
    "--sweep.mlist=2",
    "--sweep.slist=3",
]
POINT = GridPoint("mlp_planted", "aiht", 1, 2, 3, 0)


def sweep(root: Path, *extra: str) -> list[dict]:
    return run_fit([*BASE, f"--trainer.default_root_dir={root}", *extra])


# Row 1: an overwrite run with other settings, killed once its export is written.
def test_a_kept_point_whose_export_another_run_replaced_runs_again(tmp_path, caplog):
    root, other = tmp_path / "run", tmp_path / "other"
    sweep(root, "--data.nmeasurements=60")
    sweep(other, "--data.nmeasurements=64")  # what the killed overwrite run had written
    folder = root / POINT.folder
    (folder / EXPORT_FILE).write_bytes((other / POINT.folder / EXPORT_FILE).read_bytes())
    caplog.set_level(logging.WARNING)
    [result] = sweep(root, "--data.nmeasurements=60")
    assert f"{folder / 'result.json'} is damaged: its export {EXPORT_FILE} is not the network" in caplog.text
    assert len(list(folder.glob("result.json.damaged-*"))) == 1
    header, _ = read_sparse_mlp(folder / EXPORT_FILE)
    assert header["info"]["identity"]["data"]["nmeasurements"] == 60
    assert result["status"] == "done"


LAUGHS = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
LAUGHS += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]


# Row 2: a billion-laughs config, its aliases under a key no setting has.
def test_a_config_of_nested_aliases_is_refused_before_expanding(tmp_path):
    config = tmp_path / "laughs.yaml"
    config.write_text("unknown_key:\n" + "".join(f"  {line}\n" for line in LAUGHS))
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30)); "
    run = f"from lightning_app.cli import main; main(['fit', '--config', {str(config)!r}])"
    done = subprocess.run(
        [sys.executable, "-c", limit + run], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: --config {config}: its YAML aliases (*name) expand to more than 100000 values, far "
        "more than a config needs: refused before expanding them"
    )


def test_yaml_limits_count_expanded_values_and_depth():
    check_yaml_limits("\n".join(LAUGHS[:4]), "ok")  # 12 344 values with the lists: allowed
    with pytest.raises(SettingsError, match="a value: its YAML aliases"):
        check_yaml_limits("\n".join(LAUGHS[:5]), "a value")  # 123 455
    check_yaml_limits("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok")
    with pytest.raises(SettingsError, match=f"deep nests more than {MAX_DEPTH} levels"):
        check_yaml_limits("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "deep")


# Row 3: a symlink planted where the sweep writes a temporary.
def test_a_planted_symlink_at_a_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    root, outside = tmp_path / "run", tmp_path / "outside.csv"
    root.mkdir()
    outside.write_text("untouched")
    tokens = iter(["deadbeef"] + [f"{n:08x}" for n in range(1000)])
    monkeypatch.setattr(safe_write.secrets, "token_hex", lambda n: next(tokens))
    for name in (
        f"results.csv.{os.getpid()}.tmp",
        f"results.csv.{safe_write.host_tag()}.{os.getpid()}.deadbeef.tmp",
    ):
        (root / name).symlink_to(outside)
    sweep(root, "--data.nmeasurements=60")
    assert outside.read_text() == "untouched"
    assert [r["status"] for r in csv_rows(root / "results.csv")] == ["done"]


def make_damaged_claim(path: Path, how: str) -> None:
    if how == "random bytes":
        path.write_bytes(bytes(range(128, 256)))
    elif how == "a folder":
        path.mkdir()
    elif how == "a symlink loop":
        path.symlink_to(path)
    elif how == "a dangling symlink":
        path.symlink_to(path.parent / "nowhere")


# Row 6: claim.json that is random bytes, a folder, a symlink loop or a dangling symlink.
@pytest.mark.parametrize("how", ["random bytes", "a folder", "a symlink loop", "a dangling symlink"])
def test_a_damaged_claim_is_named_and_taken_over(tmp_path, caplog, how):
    path = tmp_path / CLAIM_FILE
    make_damaged_claim(path, how)
    caplog.set_level(logging.WARNING)
    claim = try_claim(tmp_path)
    assert claim is not None
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert len(list(tmp_path.glob(f"{CLAIM_FILE}.damaged-*"))) == 1
    assert f"{path} is damaged" in caplog.text
    claim.release()


def test_a_wait_on_another_sweeps_claim_says_who_holds_it_and_ends(tmp_path):
    held = try_claim(tmp_path / POINT.folder)  # a live claim of this process: another sweep's
    told, idled = [], []

    def idle(seconds: float) -> None:
        idled.append(seconds)
        held.release()

    with PointClaims(tmp_path, stale_after=60) as claims:
        turns = list(
            claims.turns([("job", [POINT])], adopt=None, idle=idle, read=lambda p: None, tell=told.append)
        )
    assert turns == [("job", [POINT])] and len(idled) == 1
    assert len(told) == 1 and told[0].startswith(
        f"{POINT.folder}: claimed by another sweep (process {os.getpid()} on {socket.gethostname()} since "
    )


def read_with_deadline(path: Path, seconds: float = 20):
    """``previous_result`` of ``path``'s folder in a thread; fails instead of hanging."""
    out = []
    thread = threading.Thread(
        target=lambda: out.append(previous_result(path.parent, POINT, out.append)), daemon=True
    )
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"reading {path} hangs"
    return out


# Rows 7 and 8: result.json a symlink to /dev/zero or a FIFO; the point folder a symlink loop.
@pytest.mark.parametrize("how", ["/dev/zero", "a FIFO"])
def test_a_result_that_is_a_device_or_a_fifo_is_set_aside_at_once(tmp_path, how):
    path = tmp_path / "result.json"
    if how == "a FIFO":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    start = time.monotonic()
    warning, result = read_with_deadline(path)
    assert result is None and time.monotonic() - start < 5
    kind = "a FIFO (named pipe)" if how == "a FIFO" else "a character device"
    assert warning.startswith(f"{path} is damaged: it is {kind}, not a regular file; set aside as ")
    assert len(list(tmp_path.glob("result.json.damaged-*"))) == 1


def test_a_point_folder_that_is_a_symlink_loop_is_set_aside_and_runs(tmp_path, caplog):
    folder = tmp_path / POINT.folder
    folder.parent.mkdir(parents=True)
    folder.symlink_to(folder)
    caplog.set_level(logging.WARNING)
    [result] = sweep(tmp_path, "--data.nmeasurements=60")
    assert result["status"] == "done" and folder.is_dir() and not folder.is_symlink()
    assert f"{folder} is a symlink to nothing or a symlink loop; set aside as" in caplog.text
    assert [p.is_symlink() for p in folder.parent.glob(f"{folder.name}.damaged-*")] == [True]


# Row 13: an unrelated events file carrying a grid point's hparams.
def test_heatmap_names_both_files_of_a_point_found_twice(tmp_path, capsys):
    point = {"task": "mlp_planted", "method": "aiht", "num_layers": 1, "m": 2, "s": 3, "seed": 0}
    point |= {"epochs": 2, "batch_size": 0, "status": "done", "metric_name": "psnr"}
    log_point_hparams(tmp_path / "a", {**point, "metric": 11.0})
    time.sleep(0.05)
    log_point_hparams(tmp_path / "unrelated", {**point, "metric": 42.0})
    heatmap_main(["--logdir", str(tmp_path), "--no-tensorboard"])
    [older] = (tmp_path / "a").glob("events.out.tfevents.*")
    [newer] = (tmp_path / "unrelated").glob("events.out.tfevents.*")
    err = capsys.readouterr().err
    assert (
        "warning: the point mlp_planted aiht num_layers=1 m=2 s=3 seed=0 is found twice with different "
        f"results: in {older} and in {newer} (the newer wins)"
    ) in err
    assert [float(r["metric"]) for r in csv_rows(tmp_path / "results.csv")] == [42.0]
