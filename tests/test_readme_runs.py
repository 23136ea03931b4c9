"""The README's ``cli.py fit`` commands run, from a clean working folder, at a small size: each
command as written with a tiny grid appended (m = 2, s = 3, seed 0, one epoch) and a temporary run
folder, so that a real run reads every setting it names, every point it plans trains and records
its result, and a dry run writes nothing. Commands whose data this machine cannot hold (MNIST and
CIFAR-10, downloaded on first use) or whose hardware it lacks (a GPU) are planned only, by
tests/test_readme.py."""

import csv

import pytest
import torch

from lightning_app.cli import fit
from tests.test_readme import README, ROOT, commands, fit_args, make_files

TINY = ["--sweep.mlist", "2", "--sweep.slist", "3", "--sweep.seedlist", "0", "--trainer.max_epochs", "1"]
DOWNLOADED = ("figure3", "figure4", "figure5", "binary_cifar10")


def runnable(args: list[str]) -> bool:
    if any(name in arg for arg in args for name in DOWNLOADED):
        return False
    return "gpu" not in args or torch.cuda.is_available()


def readme_runs() -> list:
    found = [fit_args(tokens) for _, tokens, _ in commands([README])]
    return [
        pytest.param(args, id=" ".join(args)[:70])
        for args in found
        if args is not None and "--help" not in args and runnable(args)
    ]


@pytest.mark.parametrize("args", readme_runs())
def test_readme_command_runs_at_a_small_size(tmp_path, monkeypatch, args):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    make_files(README)
    root = tmp_path / "run"
    results = fit([*args, *TINY, "--trainer.default_root_dir", str(root)])
    if "--sweep.dry_run" in args:
        assert results == [] and not root.exists()
        return
    assert results and all(r["status"] in ("done", "diverged", "skipped") for r in results), results
    assert {(r["m"], r["s"], r["seed"]) for r in results} == {(2, 3, 0)}
    with open(root / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(results)


def test_the_runs_cover_the_readmes_planted_and_own_data_commands():
    ran = [" ".join(p.values[0]) for p in readme_runs()]
    assert any("configs/quickstart.yaml" in a for a in ran)
    assert any("configs/figure1.yaml" in a and "imp" in a for a in ran)
    assert any("ArrayFileDataModule" in a for a in ran)
    assert any("--sweep.dry_run" in a for a in ran)
