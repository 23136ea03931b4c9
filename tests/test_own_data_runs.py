"""Sweeps on a data file through the command line: a planted problem saved to .npz and fitted from
the file recovers exactly as the planted task does; a classification file reports accuracy."""

import json

import numpy as np

from datamodules.planted import PlantedMLPDataModule
from tests.helpers import run_fit

M, S, N, D = 5, 10, 2000, 20  # a point AIHT recovers in 15 full-batch epochs


def sweep(root, *data_args: str, slist: str = str(S)) -> dict:
    """One AIHT point (m = M, s = ``slist``, seed 0, one hidden layer) on ``data_args``; its result."""
    args = [
        "fit",
        *data_args,
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--sweep.method=aiht",
        "--sweep.num_layers=1",
        "--sweep.mlist",
        str(M),
        "--sweep.slist",
        slist,
        "--sweep.seedlist",
        "0",
    ]
    (result,) = run_fit(args)
    stored = json.loads(next(root.rglob("result.json")).read_text())
    assert stored["metric"] == result["metric"]
    return stored


def test_a_planted_problem_saved_to_npz_recovers_as_the_planted_task(tmp_path):
    planted = PlantedMLPDataModule(width=M, sparsity=S, seed=0, nmeasurements=N, input_dim=D)
    planted.setup("fit")
    path = tmp_path / "planted.npz"
    np.savez(path, x=planted.x.numpy().astype(np.float32), y=planted.y.numpy().astype(np.float32))
    sizes = [f"--data.nmeasurements={N}", f"--data.input_dim={D}"]
    direct = sweep(tmp_path / "planted", "--data=datamodules.planted.PlantedMLPDataModule", *sizes)
    from_file = sweep(
        tmp_path / "file", "--data=datamodules.array_file.ArrayFileDataModule", f"--data.path={path}"
    )
    assert (direct["task"], from_file["task"]) == ("mlp_planted", "own_data")
    assert from_file["metric_name"] == direct["metric_name"] == "psnr"
    assert from_file["metric"] == direct["metric"]
    assert from_file["metric"] > 30  # recovered: the planted labels' PSNR


def test_classification_from_a_csv_reports_accuracy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    labels = (np.maximum(x[:, 0], 0) + np.maximum(-x[:, 1], 0) > 0.8).astype(int)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([x, labels]), delimiter=",", header="a,b,c,d,e,f,label", comments="")
    data = [
        "--data=datamodules.array_file.ArrayFileDataModule",
        f"--data.path={path}",
        "--data.label_column=label",
        "--data.task=classification",
        "--data.val_fraction=0.25",
    ]
    result = sweep(tmp_path / "run", *data, slist="4")
    held_out = labels[np.sort(np.random.default_rng(0).permutation(400)[:100])]
    majority = max(np.mean(held_out), 1 - np.mean(held_out))
    assert (result["task"], result["metric_name"]) == ("own_data", "accuracy")
    assert result["metric"] > majority + 0.1  # the two planted units are found
