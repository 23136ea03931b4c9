"""Malformed settings and files, table by table: every case ends in a clear message that names
what is wrong, or in a correct result; never in a traceback or in a wrong ``done``."""

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from lightning_app.cli import main
from lightning_app.plan.grid import MAX_SEED
from lightning_app.report.events import read_event_file, results_from_events
from tests.helpers import run_fit
from tests.result_helpers import csv_rows
from tests.robust_helpers import DAMAGES, damage

BASE = [
    "fit",
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=60",
    "--data.input_dim=5",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
    "--sweep.mlist",
    "2",
    "--sweep.slist",
    "3",
]
PANEL = '--sweep.panels=[{{"method": "aiht", "mlist": [2], "slist": [3]{}}}]'

REFUSED = [  # (arguments, what the message must name)
    (["--trainer.max_epochs=-1"], "trainer.max_epochs=-1"),
    (["--trainer.max_epochs=0"], "trainer.max_epochs=0"),
    (["--trainer.max_epochs=null"], "trainer.max_epochs is not set"),
    (["--trainer.max_epochs=null", "--trainer.max_steps=5"], "trainer.max_epochs is not set"),
    (["--trainer.max_epochs=abc"], "trainer.max_epochs"),
    (["--trainer.max_epochs=1e999"], "trainer.max_epochs"),
    (["--trainer.max_steps=0"], "trainer.max_steps=0"),
    (["--trainer.max_steps=-5"], "trainer.max_steps=-5"),
    (["--trainer.limit_train_batches=0"], "trainer.limit_train_batches=0"),
    (["--trainer.limit_val_batches=0"], "trainer.limit_val_batches=0"),
    (["--trainer.fast_dev_run=true"], "trainer.fast_dev_run"),
    (["--trainer.accumulate_grad_batches=2"], "trainer.accumulate_grad_batches=2"),
    (["--trainer.gradient_clip_val=1.0"], "trainer.gradient_clip_val=1.0"),
    (["--trainer.precision=bf16-true"], "trainer.precision=bf16-true"),
    (["--trainer.precision=bf16-mixed"], "trainer.precision=bf16-mixed"),
    (["--trainer.precision=transformer-engine"], "trainer.precision=transformer-engine"),
    (["--trainer.precision=16"], "trainer.precision=16"),
    (["--trainer.precision=8-true"], "trainer.precision"),
    (["--trainer.accelerator=tpu"], "trainer.accelerator=tpu"),
    (["--trainer.accelerator=cpu", "--trainer.devices=3"], "trainer.devices=3"),
    (["--sweep.method=imp", "--sweep.imp_precision=bf16-mixed"], "sweep.imp_precision=bf16-mixed"),
    (["--sweep.method=imp", "--sweep.imp_precision=float32"], "sweep.imp_precision=float32"),
    (["--sweep.method=imp", "--sweep.imp_precision="], "sweep.imp_precision="),
    (["--sweep.method=imp", "--model.lr=-1"], "model.lr=-1"),
    (["--sweep.method=imp", "--model.lr=0"], "model.lr=0"),
    (["--sweep.method=imp", "--trainer.max_epochs=null", "--trainer.max_steps=5"], "IMP's rounds"),
    (["--sweep.num_layers=2", "--trainer.max_epochs=null", "--trainer.max_steps=5"], "deeper AIHT"),
    (["--sweep.method=imp", "--imp.prune_iters=-0.5"], "imp.prune_iters"),
    (["--sweep.method=imp", "--imp.rewind_steps=-1"], "imp.rewind_steps"),
    (["--aiht.refine_steps=-1"], "aiht.refine_steps"),
    (["--sweep.workers=0"], "sweep.workers"),
    (["--sweep.workers=-3"], "sweep.workers"),
    ([f"--sweep.workers={(os.cpu_count() or 1) + 1}"], "CPU cores"),
    (["--sweep.mlist", "-2"], "sweep.mlist"),
    (["--sweep.mlist", "abc"], "sweep.mlist"),
    (["--sweep.slist", "0"], "sweep.slist"),
    (["--sweep.seedlist", "-1"], "sweep.seedlist"),
    (["--sweep.seedlist", str(MAX_SEED + 1)], "sweep.seedlist"),
    (["--sweep.num_layers", "0"], "sweep.num_layers"),
    (["--sweep.slist", "3", "3"], "sweep.slist lists 3 more than once"),  # one folder for two points
    (["--sweep.mlist", "2", "4", "2"], "sweep.mlist lists 2 more than once"),
    (["--sweep.seedlist", "1", "0", "1"], "sweep.seedlist lists 1 more than once"),
    (["--sweep.method", "aiht", "aiht"], "is in two panels (1 and 2)"),
    (["--sweep.panels=5"], "sweep.panels"),
    ([PANEL.format(', "mlist": "abc"')], "sweep.mlist"),
    ([PANEL.format(', "num_layers": "two"')], "sweep.num_layers"),
    ([PANEL.format(', "colour": 1')], "sweep.panels"),
    ([PANEL.format(', "overrides": 5')], "overrides"),
    ([PANEL.format(', "overrides": {"trainer": {"max_epochs": -1}}')], "trainer.max_epochs=-1 (panel aiht"),
    ([PANEL.format(', "overrides": {"data": "datamodules.nope.Task"}')], "datamodules.nope.Task"),
    (["--optimizer=torch.optim.SGD", "--optimizer.lr=0.1"], "optimizer"),
    (["--data.nmeasurements=0"], "data.nmeasurements"),
    (["--data.nmeasurements=-5"], "data.nmeasurements"),
    (["--data.input_dim=0"], "data.input_dim"),
    (["--data.output_dim=0"], "data.output_dim"),
    (["--data.batch_size=-3"], "data.batch_size"),
    (["--data.batch_size=abc"], "batch_size"),
    (["--config=/nonexistent/figure.yaml"], "/nonexistent/figure.yaml"),
]


@pytest.mark.parametrize("extra, names", REFUSED, ids=[" ".join(e) for e, _ in REFUSED])
def test_malformed_settings_are_refused_naming_them(tmp_path, capsys, extra, names):
    with pytest.raises(SystemExit) as stopped:
        base = BASE[:-4] if extra[0].startswith("--sweep.panels=[") else BASE  # a panel's own lists
        main([*base, f"--trainer.default_root_dir={tmp_path}", *extra])
    code = stopped.value.code
    err = capsys.readouterr().err
    message = code if isinstance(code, str) else err
    assert code not in (0, None)
    assert names in message
    assert "Traceback" not in err + str(code)
    assert not list(tmp_path.rglob("result.json"))  # refused before any point ran


CONFIG_FILES = {  # a config file's text → what the message must name
    "": "is empty",
    "\n  \n": "is empty",
    "trainer: {max_epochs: 3": "config",
    "- 1\n- 2\n": "config",
    "trainer:\n  max_epochs: -4\n": "trainer.max_epochs=-4",
    "sweep:\n  mlist: 7\n": "sweep.mlist",
    "data:\n  init_args:\n    nmeasurements: many\n": "nmeasurements",
}


@pytest.mark.parametrize("text, names", CONFIG_FILES.items(), ids=list(CONFIG_FILES))
def test_malformed_config_files_are_refused_naming_them(tmp_path, capsys, text, names):
    config = tmp_path / "figure.yaml"
    config.write_text(text)
    with pytest.raises(SystemExit) as stopped:
        main([*BASE, f"--trainer.default_root_dir={tmp_path}", f"--config={config}"])
    code = stopped.value.code
    err = capsys.readouterr().err
    assert code not in (0, None) and names in (code if isinstance(code, str) else err)
    assert "Traceback" not in err + str(code)


def test_a_huge_budget_is_the_whole_network(tmp_path):
    """s far above m·d is not an error: the budget and the planted network are those of s = m·d
    (= 10 here), so the metric is the same number."""
    huge = run_fit([*BASE, f"--trainer.default_root_dir={tmp_path}", "--sweep.slist", "1000000000000000000"])
    whole = run_fit([*BASE, f"--trainer.default_root_dir={tmp_path}", "--sweep.slist", "10"])
    assert huge[0]["status"] == whole[0]["status"] == "done"
    assert huge[0]["s_effective"] == 10 and huge[0]["metric"] == whole[0]["metric"]


def test_the_largest_seed_runs(tmp_path):
    results = run_fit([*BASE, f"--trainer.default_root_dir={tmp_path}", "--sweep.seedlist", str(MAX_SEED)])
    assert results[0]["status"] == "done" and results[0]["seed"] == MAX_SEED


DAMAGED_FOLDER = "damaged folder"  # a folder where result.json should be
CASES = [*DAMAGES, DAMAGED_FOLDER, "missing"]


def test_every_kind_of_damaged_result_json_runs_again(tmp_path, caplog):
    """One grid, one kind of damage per point: the rerun names and sets aside each damaged file
    and ends with the clean run's table; the missing result simply runs."""
    slist = [str(s) for s in range(3, 3 + (len(CASES) + 1) // 2)]
    args = [*BASE, "--sweep.mlist", "2", "3", "--sweep.slist", *slist]
    clean = tmp_path / "clean"
    run_fit([*args, f"--trainer.default_root_dir={clean}"])
    root = tmp_path / "damaged"
    shutil.copytree(clean, root)
    paths = sorted(root.rglob("result.json"))
    assert len(paths) >= len(CASES)
    held = {}
    for path, how in zip(paths, CASES, strict=False):
        if how == "missing":
            path.unlink()
        elif how == DAMAGED_FOLDER:
            path.unlink()
            path.mkdir()
        else:
            held[path] = damage(path, how)
    caplog.clear()
    results = run_fit([*args, f"--trainer.default_root_dir={root}"])
    assert all(r["status"] == "done" for r in results)
    assert table(root) == table(clean)
    for path, how in zip(paths, CASES, strict=False):
        aside = list(path.parent.glob("result.json.damaged-*"))
        assert json.loads(path.read_text())["status"] == "done", how
        if how == "missing":
            assert aside == [] and str(path) not in caplog.text
            continue
        assert len(aside) == 1 and f"{path} is damaged" in caplog.text, how
        if how != DAMAGED_FOLDER:
            assert aside[0].read_bytes() == held[path], how


def table(root: Path) -> dict[tuple, str]:
    return {(r["m"], r["s"], r["seed"]): r["metric"] for r in csv_rows(root / "results.csv")}


EVENT_DAMAGES = {
    "empty": lambda data: b"",
    "one byte": lambda data: data[:1],
    "cut in half": lambda data: data[: len(data) // 2],
    "last byte missing": lambda data: data[:-1],
    "a byte changed": lambda data: data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],
    "random bytes": lambda data: random.Random(0).randbytes(len(data)),
    "garbage appended": lambda data: data + b"\x00garbage",
}


@pytest.fixture(scope="module")
def logged_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("events")
    run_fit([*BASE, f"--trainer.default_root_dir={root}", "--sweep.mlist", "2", "3"])
    return root


@pytest.mark.parametrize("how", EVENT_DAMAGES)
def test_damaged_events_files_are_named_and_the_rest_is_read(logged_sweep, tmp_path, how):
    root = tmp_path / "logs"
    shutil.copytree(logged_sweep, root)
    expected = {(r["m"], r["s"]): float(r["metric"]) for r in csv_rows(root / "results.csv")}
    folder = root / "mlp_planted/aiht/hidden1/m2_s3_seed0"
    victim = next(
        p for p in folder.glob("events.out.tfevents.*") if "task" in (read_event_file(p) or [{}])[0]
    )
    victim.write_bytes(EVENT_DAMAGES[how](victim.read_bytes()))
    named = []
    results = results_from_events(root, on_damaged=lambda path, reason: named.append(path))
    assert named == [victim]
    read = {(str(r["m"]), str(r["s"])): r for r in results}
    assert read[("3", "3")]["metric"] == expected[("3", "3")]
    if ("2", "3") in read:  # read up to the damage: then the numbers are the logged ones
        assert read[("2", "3")]["metric"] == expected[("2", "3")]
