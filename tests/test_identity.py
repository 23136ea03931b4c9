"""A point's identity holds every setting that changes what it computes, and nothing that only
says where or how it runs (``lightning_app/plan/identity.py``)."""

import json

import pytest

from lightning_app.cli import SweepCLI
from lightning_app.plan.identity import identity_changes

BASE = [
    "--data=datamodules.planted.PlantedMLPDataModule",
    "--data.nmeasurements=60",
    "--data.input_dim=5",
    "--trainer.max_epochs=2",
    "--sweep.mlist",
    "2",
    "--sweep.slist",
    "3",
]


def identity(method: str, *extra: str) -> dict:
    plan = SweepCLI([*BASE, f"--sweep.method={method}", *extra]).plan
    return plan.identity(plan.points[0])


CHANGES = {  # method → settings that change what its points compute
    "aiht": [
        "--data.nmeasurements=70",
        "--data.input_dim=6",
        "--data.bias=true",
        "--data.batch_size=20",
        "--data=tests.helpers.RepeatedInputs",
        "--aiht.convex=true",
        "--aiht.refine_steps=3",
        "--aiht.importance=exact",
        "--trainer.max_epochs=3",
        "--trainer.max_steps=1",
        "--trainer.precision=32-true",
        "--trainer.limit_train_batches=0.5",
        "--trainer.check_val_every_n_epoch=2",
        "--trainer.num_sanity_val_steps=1",
        "--trainer.min_epochs=2",
        "--trainer.overfit_batches=1",
        "--trainer.reload_dataloaders_every_n_epochs=1",
        "--trainer.strategy=single_device",
        "--model.loss=crossentropy",
        "--sweep.draws=cupy",
    ],
    "imp": [
        "--data.nmeasurements=70",
        "--imp.prune_iters=0.2",
        "--imp.rewind_steps=1",
        "--imp.retrain=true",
        "--model.lr=0.01",
        "--sweep.imp_precision=64-true",
        "--trainer.max_epochs=3",
        "--trainer.accumulate_grad_batches=2",
        "--trainer.gradient_clip_val=1.0",
        "--trainer.gradient_clip_algorithm=value",
    ],
}
SAME = {  # method → settings that do not
    "aiht": [
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.num_nodes=1",
        "--trainer.enable_progress_bar=true",
        "--trainer.enable_model_summary=true",
        "--trainer.enable_checkpointing=false",
        "--trainer.log_every_n_steps=7",
        "--trainer.default_root_dir=elsewhere",
        "--trainer.deterministic=true",
        "--trainer.benchmark=false",
        "--trainer.detect_anomaly=true",
        "--trainer.logger=false",
        "--sweep.workers=2",
        "--sweep.overwrite=true",
        "--sweep.seedlist 0 5",
        "--sweep.mlist 2 7",
        "--model.net.gradient_memory_mb=1",
        "--model.net.storage=compact",
        "--model.net.dense_memory_mb=1",
        "--sweep.ray_batch=2",
        "--sweep.export=false",
        "--sweep.checkpoint_every_s=0",
        "--model.lr=0.5",
        "--sweep.imp_precision=64-true",
        "--imp.prune_iters=0.2",
        "--trainer.precision=64",
    ],
    "imp": [
        "--trainer.accelerator=cpu",
        "--sweep.workers=2",
        "--aiht.convex=true",
        "--trainer.precision=32-true",
        "--trainer.limit_val_batches=0.5",
        "--sweep.imp_precision=32",
        "--sweep.draws=cupy",
        "--sweep.checkpoint_every_s=5",
    ],
}


@pytest.fixture(scope="module")
def base_identities() -> dict[str, dict]:
    return {method: identity(method) for method in CHANGES}


@pytest.mark.parametrize("method, setting", [(m, s) for m, settings in CHANGES.items() for s in settings])
def test_settings_that_change_the_computation_are_in_the_identity(base_identities, method, setting):
    extra = [setting, "--data.output_dim=10"] if "crossentropy" in setting else [setting]
    changes = identity_changes(base_identities[method], identity(method, *extra))
    name = setting.removeprefix("--").split("=")[0]
    name = {"sweep.imp_precision": "trainer.precision", "data": "data.class_path"}.get(name, name)
    assert any(line.startswith(f"{name}:") for line in changes), changes


@pytest.mark.parametrize("method, setting", [(m, s) for m, settings in SAME.items() for s in settings])
def test_where_and_how_points_run_is_not_in_the_identity(base_identities, method, setting):
    assert identity_changes(base_identities[method], identity(method, *setting.split(" "))) == []


def test_the_identity_is_plain_json_that_survives_a_round_trip(base_identities):
    for value in base_identities.values():
        assert json.loads(json.dumps(value, allow_nan=False)) == value
    assert base_identities["aiht"]["trainer"]["precision"] == "64-true"
    assert base_identities["imp"]["trainer"]["precision"] == "32-true"
    assert "aiht" not in base_identities["imp"] and "imp" not in base_identities["aiht"]


def test_a_setting_recorded_as_null_and_now_absent_is_the_same_setting():
    before = {"model": {"gate_seed": None, "loss": "mse", "lr": 0.001}}  # an IMP point's, as recorded
    assert identity_changes(before, {"model": {"loss": "mse", "lr": 0.001}}) == []
    assert identity_changes({"model": {"loss": "mse", "lr": 0.001}}, before) == []
    assert identity_changes({"model": {"gate_seed": 0, "loss": "mse"}}, {"model": {"loss": "mse"}}) == [
        "model.gate_seed: 0 → '(not set)'"
    ]
    assert identity_changes({"model": {"gate_seed": None}}, {"model": {"gate_seed": False}}) != []


def test_the_identity_describes_the_computation_not_the_code(base_identities):
    assert base_identities["aiht"]["model"] == {"gate_seed": None, "loss": "mse"}
    assert base_identities["imp"]["model"] == {"loss": "mse", "lr": 0.001}  # a ReLU MLP has no gates
    gated = identity("aiht", "--model.net.gate_seed=3")
    assert identity_changes(base_identities["aiht"], gated) == ["model.gate_seed: None → 3"]
    assert identity_changes(base_identities["imp"], identity("imp", "--model.net.gate_seed=3")) == []


VECTOR = ["--data.output_dim=3"]
GAUSSIAN = ["--config=configs/gaussian_sparse.yaml", "--sweep.mlist", "30", "--sweep.slist", "2"]


def gaussian_identity(*extra: str) -> dict:
    plan = SweepCLI([*GAUSSIAN, *extra]).plan
    return plan.identity(plan.points[0])


def test_the_start_rule_is_in_vector_output_identities_only(base_identities):
    vector = identity("aiht", *VECTOR)
    assert vector["aiht"]["start_rows"] == "max_zero"
    assert "start_rows" not in base_identities["aiht"]["aiht"]  # scalar output: the rule is never used
    assert identity_changes(base_identities["aiht"], identity("aiht", "--aiht.start_rows=all_zero")) == []
    old_rule = identity("aiht", *VECTOR, "--aiht.start_rows=all_zero")
    assert identity_changes(vector, old_rule) == ["aiht.start_rows: 'max_zero' → 'all_zero'"]
    assert "start_rows" not in identity("imp", *VECTOR).get("aiht", {})


def test_a_record_without_the_start_rule_was_computed_with_the_all_zero_test():
    vector = identity("aiht", *VECTOR)
    recorded = json.loads(json.dumps(vector))
    del recorded["aiht"]["start_rows"]  # as results written before the setting existed
    assert identity_changes(recorded, vector) == ["aiht.start_rows: 'all_zero' → 'max_zero'"]
    assert identity_changes(recorded, identity("aiht", *VECTOR, "--aiht.start_rows=all_zero")) == []


def test_the_gaussian_tasks_draws_are_in_its_identity_and_its_memory_settings_are_not():
    current = gaussian_identity()
    assert current["data"]["sensing_draws"] == "paper"
    assert "block_size" not in current["data"] and "sensing_memory_mb" not in current["data"]
    for memory in ("--data.block_size=7", "--data.sensing_memory_mb=0"):
        assert identity_changes(current, gaussian_identity(memory)) == []
    assert "sensing_draws" not in identity("aiht")["data"]  # the planted task draws as before


def test_a_gaussian_record_from_the_block_draws_is_another_matrix():
    recorded = json.loads(json.dumps(gaussian_identity()))
    del recorded["data"]["sensing_draws"]
    recorded["data"]["block_size"] = 256  # as results written before the per-column draws
    changes = identity_changes(recorded, gaussian_identity())
    assert changes == ["data.sensing_draws: 'seeded_blocks' → 'paper'"]
