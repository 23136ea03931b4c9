"""Run folders written by earlier versions of the project stay valid: a point finished then keeps
counting as finished for the same settings, whatever the code's layout is now, and a point whose
computation has changed since is refused, naming the setting.

``tests/fixtures/run_folder_v1`` holds the ``result.json`` and ``sparse_network.pt`` of every point of
the sweeps in ``SWEEPS``, as the project wrote them at commit 637ca03 (before the application was
split into packages and the network was injected into the LightningModule). Do not regenerate the
folder with newer code: its worth is that older code wrote it (``python -m tests.test_old_run_folders
OUT`` is how it was made, with ``SWEEPS`` as they are).

Two things have changed in what those sweeps compute since. Vector outputs now restart every row
whose largest entry is 0, where that code restarted all-zero rows only: today's sweeps that ask
for the old test (``--aiht.start_rows=all_zero``, ``ASK_FOR_THEN``) keep every such point. And
the Gaussian task now draws x*'s support and A's columns as the paper's code does: its old point
measured another matrix A, so it is refused (``REFUSED``), and reruns with ``--sweep.overwrite``.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

from lightning_app.plan.errors import SettingsError
from tests.fake_datasets import write_mnist
from tests.helpers import run_fit

FOLDER = Path(__file__).resolve().parent / "fixtures" / "run_folder_v1"
KEPT_FILES = ("result.json", "sparse_network.pt")
# The fake MNIST files the MNIST sweeps read (data_dir is not part of a point's settings).
TRAIN_LABELS = [d for d in range(10) for _ in range(4)]
TEST_LABELS = [d for d in range(10) for _ in range(3)]

SWEEPS = {
    "planted, AIHT, one hidden layer, full batch, two seeds": [
        "--data=datamodules.planted.PlantedMLPDataModule",
        "--data.nmeasurements=300",
        "--data.input_dim=8",
        "--trainer.max_epochs=3",
        "--sweep.mlist=2",
        "--sweep.slist",
        "3",
        "40",
        "--sweep.seedlist",
        "0",
        "1",
    ],
    "planted, vector output, minibatches, AIHT and IMP, one and two hidden layers": [
        "--data=datamodules.planted.PlantedMLPDataModule",
        "--data.nmeasurements=300",
        "--data.input_dim=8",
        "--data.output_dim=3",
        "--data.batch_size=100",
        "--trainer.max_epochs=2",
        "--sweep.method",
        "aiht",
        "imp",
        "--sweep.num_layers",
        "1",
        "2",
        "--sweep.mlist=3",
        "--sweep.slist=12",
    ],
    "planted, convex AIHT, float32": [
        "--data=datamodules.planted.PlantedMLPDataModule",
        "--data.nmeasurements=300",
        "--data.input_dim=8",
        "--trainer.max_epochs=3",
        "--trainer.precision=32-true",
        "--aiht.convex=true",
        "--sweep.mlist=5",
        "--sweep.slist=6",
    ],
    "Gaussian sensing": [
        "--data=datamodules.gaussian_sparse.GaussianSparseDataModule",
        "--data.nmeasurements=60",
        "--trainer.max_epochs=3",
        "--aiht.refine_steps=3",
        "--sweep.mlist=40",
        "--sweep.slist=3",
    ],
    "binary MNIST, AIHT and IMP on one trajectory, prune_iters 3": [
        "--data=datamodules.mnist.BinaryMNISTDataModule",
        "--data.download=false",
        "--data.train_per_class=4",
        "--data.test_per_class=2",
        "--trainer.max_epochs=2",
        "--imp.prune_iters=3",
        "--sweep.method",
        "aiht",
        "imp",
        "--sweep.mlist=2",
        "--sweep.slist",
        "6",
        "50",
    ],
    "10-class MNIST, cross-entropy": [
        "--data=datamodules.mnist.MNISTDataModule",
        "--data.download=false",
        "--data.train_per_class=4",
        "--data.test_per_class=2",
        "--model.loss=crossentropy",
        "--trainer.max_epochs=2",
        "--sweep.mlist=3",
        "--sweep.slist=40",
    ],
}
# What today's code needs to be asked for to compute what that code computed.
ASK_FOR_THEN = {
    "planted, vector output, minibatches, AIHT and IMP, one and two hidden layers": [
        "--aiht.start_rows=all_zero"
    ],
    "10-class MNIST, cross-entropy": ["--aiht.start_rows=all_zero"],
}
# Sweeps whose finished points today's code computes differently, and the change it names.
REFUSED = {"Gaussian sensing": "data.sensing_draws: 'seeded_blocks' → 'paper'"}


def run_sweep(name: str, root: Path, data_dir: Path, extra=()) -> list[dict]:
    args = [*SWEEPS[name], *extra]
    where = [f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false"]
    if any("MNIST" in a for a in args):
        where.append(f"--data.data_dir={data_dir}")
    return run_fit(["fit", *args, *where])


def run_sweeps(root: Path, data_dir: Path, names=SWEEPS, extra=None) -> list[dict]:
    write_mnist(data_dir, TRAIN_LABELS, TEST_LABELS)
    results = []
    for name in names:
        results += run_sweep(name, root, data_dir, (extra or {}).get(name, []))
    return results


def kept_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.name in KEPT_FILES
    }


def test_a_folder_written_before_the_restructuring_resumes_without_running_a_point(tmp_path):
    before = kept_files(FOLDER)
    assert sum(name.endswith("result.json") for name in before) == 15
    root = tmp_path / "run"
    shutil.copytree(FOLDER, root)
    kept = [name for name in SWEEPS if name not in REFUSED]
    results = run_sweeps(root, tmp_path / "data", kept, ASK_FOR_THEN)
    assert len(results) == 14 and {r["status"] for r in results} == {"done"}
    assert kept_files(root) == before  # no point ran again: every result and export as written
    point_folders = [path.parent for path in root.rglob("result.json")]
    assert not [p for folder in point_folders for p in folder.iterdir() if p.name not in KEPT_FILES]


def test_without_the_old_start_rule_the_vector_points_are_refused(tmp_path):
    root = tmp_path / "run"
    shutil.copytree(FOLDER, root)
    for name in ASK_FOR_THEN:
        with pytest.raises(SettingsError, match="aiht.start_rows: 'all_zero' → 'max_zero'"):
            run_sweeps(root, tmp_path / "data", [name])
    assert kept_files(root) == kept_files(FOLDER)


def test_the_gaussian_point_of_the_block_draws_is_refused_then_rerun_with_overwrite(tmp_path):
    root = tmp_path / "run"
    shutil.copytree(FOLDER, root)
    folder = root / "gaussian_sparse/aiht/hidden1/m40_s3_seed0"
    old = json.loads((folder / "result.json").read_text())
    for name, change in REFUSED.items():
        with pytest.raises(SettingsError, match=change) as refused:
            run_sweep(name, root, tmp_path / "data")
        assert "1 finished point(s)" in str(refused.value) and "--sweep.overwrite true" in str(refused.value)
        assert kept_files(root) == kept_files(FOLDER)
        (result,) = run_sweep(name, root, tmp_path / "data", ["--sweep.overwrite=true"])
        assert result["status"] == "done" and result["identity"]["data"]["sensing_draws"] == "paper"
    new = json.loads((folder / "result.json").read_text())
    assert "block_size" not in new["identity"]["data"] and "block_size" in old["identity"]["data"]
    assert new["metric"] != old["metric"]  # another matrix A, another x*: another result


if __name__ == "__main__":  # how tests/fixtures/run_folder_v1 was made (with the code of its time)
    out = Path(sys.argv[1])
    run_sweeps(out, out.parent / f"{out.name}-data")
    for path in sorted(out.rglob("*"), reverse=True):
        if path.is_file() and path.name not in KEPT_FILES:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    shutil.rmtree(out.parent / f"{out.name}-data")
