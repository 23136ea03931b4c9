"""Trained networks exported as their nonzeros (``lightning_app/run/export.py``) and loaded back by
the standalone ``sparse_export.py``: same predictions as the trained model, nothing stored but
the nonzeros, a loader that needs no other file of the project, and the sweep's exports."""

import ast
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_app.run.export import EXPORT_FILE, aiht_network, export_network, imp_network
from modules.compact_gated import CompactGated
from sparse_export import ExportError, load_sparse_mlp, read_sparse_mlp
from tests.helpers import imp_run, run_fit, tiny_run
from tests.vector_helpers import tiny_vector_run

ROOT = Path(__file__).resolve().parent.parent


def exported(tmp_path: Path, network, name: str = "net") -> tuple[Path, torch.nn.Module]:
    path = export_network(tmp_path / name, network, {"case": name})
    return path, load_sparse_mlp(path)


def never_dense(monkeypatch) -> None:
    """Compact storage's m × d forms fail from here on: an export must not build them."""

    def refuse(self):
        raise AssertionError("the export built a dense m × d tensor")

    for name in ("dense_weight", "dense_gates", "dense_output_weight"):
        monkeypatch.setattr(CompactGated, name, refuse)


def psnr(pred: torch.Tensor, y: torch.Tensor) -> float:
    mse = float((pred.double() - y.double()).square().mean())
    return 20 * math.log10(float(y.abs().max())) - 10 * math.log10(mse)


@pytest.mark.parametrize(
    "case",
    [
        dict(m=5, s=7, d=6),
        dict(m=5, s=7, d=6, convex=True),
        dict(m=4, s=8, d=6, num_layers=2),
        dict(m=4, s=8, d=6, num_layers=2, convex=True),
    ],
    ids=["one_layer", "one_layer_convex", "two_layers", "two_layers_convex"],
)
@pytest.mark.parametrize("storage", ["dense", "compact"])
def test_aiht_export_predicts_as_the_trained_model(tmp_path, monkeypatch, case, storage):
    _, model, dm, *_ = tiny_run(n=64, epochs=4, model_kwargs={"storage": storage}, **case)
    assert model.storage == storage
    never_dense(monkeypatch)
    path, net = exported(tmp_path, aiht_network(model))
    x = dm.x
    with torch.no_grad():
        expected = model(x)
    assert net(x).dtype == torch.float64 and net(x).shape == expected.shape
    torch.testing.assert_close(net(x), expected, rtol=1e-10, atol=1e-12)
    header, tensors = read_sparse_mlp(path)
    assert header["gating"] == ("random_gates" if case.get("convex") else "relu")
    assert [layer["nnz"] for layer in header["layers"]] == aiht_network(model).nnz_per_layer()
    assert sum(layer["nnz"] for layer in header["layers"]) == model.nnz()
    if not case.get("convex"):
        torch.testing.assert_close(net.to_dense()(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("storage", ["dense", "compact"])
def test_vector_output_export_predicts_as_the_trained_model(tmp_path, monkeypatch, convex, storage):
    _, model, dm, *_ = tiny_vector_run(
        m=4, s=12, n=64, d=5, k=3, convex=convex, model_kwargs={"storage": storage}
    )
    assert model.storage == storage
    never_dense(monkeypatch)
    _, net = exported(tmp_path, aiht_network(model))
    with torch.no_grad():
        expected = model(dm.x)
    assert expected.shape == (64, 3)
    torch.testing.assert_close(net(dm.x), expected, rtol=1e-10, atol=1e-12)
    assert net.header["output"] == "linear" and net.header["output_dim"] == 3


def test_imp_export_predicts_as_the_trained_model_and_each_target_as_measured(tmp_path):
    _, model, dm, imp = imp_run(m=4, d=6, n=64, s=10, epochs=2, targets=[3, 10, 20])
    _, last = exported(tmp_path, imp_network(imp.networks[3]), "s3")
    with torch.no_grad():
        expected = model(dm.x)
    assert last(dm.x).dtype == torch.float32
    torch.testing.assert_close(last(dm.x), expected, rtol=1e-5, atol=1e-6)
    for s in (3, 10, 20):  # a shared trajectory: each s's network is the one its metric measured
        _, net = exported(tmp_path, imp_network(imp.networks[s]), f"s{s}")
        assert sum(net.header["layers"][i]["nnz"] for i in range(2)) == imp.results[s]["nnz"]
        with torch.no_grad():
            assert psnr(net(dm.x), dm.y) == pytest.approx(imp.results[s]["metric"], rel=1e-5)


def test_file_holds_the_nonzeros_only_and_grows_with_s_not_m(tmp_path):
    sizes = {}
    for m, s in ((5, 7), (400, 7), (400, 30)):
        _, model, *_ = tiny_run(m=m, s=s, n=64, d=6, epochs=3)
        path, _ = exported(tmp_path, aiht_network(model), f"m{m}_s{s}")
        header, tensors = read_sparse_mlp(path)
        nnz = model.nnz()
        assert header["layers"][0]["nnz"] == nnz and nnz == min(s, m * 6)
        assert sorted(tensors) == ["layer0.indices", "layer0.values"]
        assert tensors["layer0.indices"].shape == (2, nnz) and tensors["layer0.values"].shape == (nnz,)
        sizes[m, s] = path.stat().st_size
    assert abs(sizes[400, 7] - sizes[5, 7]) < 64  # only the header's digits differ
    assert sizes[400, 7] < 400 * 6 * 8 / 5  # a fifth of the dense float64 matrix alone
    payload = (30 - 7) * (2 * 8 + 8)  # two int64 indices and one float64 value per nonzero
    assert sizes[400, 30] - sizes[400, 7] >= payload - 2 * 64  # each record is padded to 64 bytes


def test_the_loader_imports_nothing_from_the_project_and_runs_alone(tmp_path):
    tree = ast.parse((ROOT / "sparse_export.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"collections", "json", "pathlib", "torch"}

    _, model, dm, *_ = tiny_run(m=5, s=7, n=64, d=6, epochs=3)
    export_network(tmp_path, aiht_network(model), {"task": "mlp_planted"})
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(ROOT / "sparse_export.py", alone)
    torch.save(dm.x, alone / "x.pt")
    script = alone / "predict.py"
    script.write_text(
        "import sys, torch\n"
        "from sparse_export import load_sparse_mlp\n"
        f"net = load_sparse_mlp({str(tmp_path / EXPORT_FILE)!r})\n"
        "pred = net(torch.load(sys.argv[1]))\n"
        "torch.save(pred, sys.argv[2])\n"
        "ours = {'lightning_app', 'callbacks', 'modules', 'datamodules', 'tests'}\n"
        "assert not ours & {name.split('.')[0] for name in sys.modules}, 'project code was imported'\n"
    )
    subprocess.run(
        [sys.executable, "-E", "-s", str(script), str(alone / "x.pt"), str(alone / "pred.pt")],
        cwd=alone,
        check=True,
    )
    with torch.no_grad():
        torch.testing.assert_close(torch.load(alone / "pred.pt"), model(dm.x), rtol=1e-10, atol=1e-12)


def test_a_bad_file_is_refused_with_its_reason(tmp_path):
    torch.save({"header": json.dumps({"format": "sparse-mlp", "version": 99})}, tmp_path / "new.pt")
    with pytest.raises(ValueError, match="version 99"):
        load_sparse_mlp(tmp_path / "new.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a sparse MLP export"):
        load_sparse_mlp(tmp_path / "other.pt")


SWEEP = [
    "fit",
    "--data",
    "datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=64",
    "--data.input_dim=4",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_checkpointing=false",
    "--sweep.mlist",
    "3",
    "--sweep.seedlist",
    "0",
]


def test_sweep_exports_every_point_with_per_layer_counts(tmp_path):
    run_fit(
        [
            *SWEEP,
            f"--trainer.default_root_dir={tmp_path}",
            "--sweep.method",
            "aiht",
            "imp",
            "--sweep.slist",
            "4",
            "6",
        ]
    )
    folders = sorted(p.parent for p in tmp_path.rglob("result.json"))
    assert len(folders) == 4
    for folder in folders:
        result = json.loads((folder / "result.json").read_text())
        assert result["export"] == EXPORT_FILE
        assert sum(result["nnz_layers"]) == result["nnz"]
        net = load_sparse_mlp(folder / EXPORT_FILE)
        info = net.header["info"]
        assert (info["method"], info["m"], info["s"], info["seed"]) == (result["method"], 3, result["s"], 0)
        assert info["metric"] == result["metric"] and info["nnz_layers"] == result["nnz_layers"]
        assert [layer["nnz"] for layer in net.header["layers"]] == result["nnz_layers"]
        assert len(result["nnz_layers"]) == (1 if result["method"] == "aiht" else 2)


def test_export_false_saves_no_file_but_still_counts(tmp_path):
    run_fit(
        [*SWEEP, f"--trainer.default_root_dir={tmp_path}", "--sweep.slist", "4", "--sweep.export", "false"]
    )
    (result_path,) = tmp_path.rglob("result.json")
    result = json.loads(result_path.read_text())
    assert "export" not in result and sum(result["nnz_layers"]) == result["nnz"]
    assert not list(tmp_path.rglob(EXPORT_FILE))


def tampered(path: Path, how: str) -> None:
    """Rewrites the export at ``path`` with one thing wrong, as a hostile or damaged file has."""
    if how == "empty file":
        path.write_bytes(b"")
        return
    if how == "random bytes":
        path.write_bytes(bytes(range(256)) * 4)
        return
    stored = torch.load(path, weights_only=True)
    header = json.loads(stored["header"])
    if how == "nnz -5":
        header["layers"][0]["nnz"] = -5
    elif how == "output bogus":
        header["output"] = "bogus"
    elif how == "no layers":
        header["layers"] = []
    elif how == "float indices":
        stored["layer0.indices"] = stored["layer0.indices"].double()
    elif how == "index out of range":
        stored["layer0.indices"][1, 0] = header["layers"][0]["shape"][1]
    elif how == "nnz not the stored count":
        header["layers"][0]["nnz"] += 1
    elif how == "extra tensor":
        stored["payload"] = torch.zeros(3)
    stored["header"] = json.dumps(header)
    torch.save(stored, path)


TAMPERED = {
    "empty file": ("file", "not a torch.save file"),
    "random bytes": ("file", "not a torch.save file"),
    "nnz -5": ("layers[0].nnz", "-5 is not a count"),
    "output bogus": ("output", "'bogus' is not 'sum' or 'linear'"),
    "no layers": ("layers", "[] is not a non-empty list"),
    "float indices": ("layer0.indices", "dtype torch.float64, the format needs torch.int64"),
    "index out of range": ("layer0.indices", "outside the layer's"),
    "nnz not the stored count": ("layer0.indices", "shape (2, {nnz}), the header says (2, {more})"),
    "extra tensor": ("payload", "not part of the format"),
}


@pytest.mark.parametrize("how", TAMPERED)
def test_a_tampered_export_is_refused_naming_the_file_and_field(tmp_path, how):
    _, model, *_ = tiny_run(m=5, s=7, n=64, d=6, epochs=3)
    path, _ = exported(tmp_path, aiht_network(model))
    nnz = read_sparse_mlp(path)[0]["layers"][0]["nnz"]
    assert nnz > 0
    tampered(path, how)
    field, reason = TAMPERED[how]
    reason = reason.format(nnz=nnz, more=nnz + 1)
    with pytest.raises(ExportError) as caught:
        load_sparse_mlp(path)
    assert caught.value.field == field and str(caught.value).startswith(f"{path}: {field}: ")
    assert reason in str(caught.value)
