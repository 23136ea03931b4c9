"""The command line reads like one: ``fit --help`` describes the sweep and offers no setting it
refuses, an unknown command names those that exist, switches are spelled ``--name true|false``
in every command (the old ``--no-tensorboard`` still works, with a warning)."""

import re

import pytest

from lightning_app.cli import main
from lightning_app.report.figures import DEPRECATED_NO_TENSORBOARD, FIGURES_RUN, heatmap_main
from tests.result_helpers import log_point, point, point_folder


def test_fit_help_describes_the_sweep_without_optimizer_settings(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "Run a figure's grid of sparse MLPs" in text and "Lightning Trainer command line" not in text
    assert not re.search(r"--(optimizer|lr_scheduler)\b", text)
    assert "--sweep.dry_run" in text


def test_optimizer_settings_are_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--lr_scheduler.class_path=torch.optim.lr_scheduler.StepLR"])
    assert str(stop.value.code).startswith("error: lr_scheduler: the sweep does not use it")


@pytest.mark.parametrize("command", ["validate", "heatmaps", ""])
def test_an_unknown_command_names_the_commands(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command] if command else [])
    message = str(stop.value.code)
    assert message.endswith("the commands are fit, heatmap")
    assert (f"unknown command {command!r}" if command else "no command given") in message
    assert "usage: cli.py {fit,heatmap}" in capsys.readouterr().err


@pytest.fixture
def logdir(tmp_path):
    result = point("aiht", m=2, s=10, metric=3.5)
    log_point(point_folder(tmp_path / "logs", result), result)
    return tmp_path / "logs"


@pytest.mark.parametrize(
    "switch, logged, warned",
    [([], True, False), (["--tensorboard", "false"], False, False), (["--no-tensorboard"], False, True)],
)
def test_heatmap_tensorboard_switch(logdir, tmp_path, capsys, switch, logged, warned):
    heatmap_main(["--logdir", str(logdir), "--out", str(tmp_path / "out"), *switch])
    assert (tmp_path / "out" / FIGURES_RUN).is_dir() == logged
    assert (DEPRECATED_NO_TENSORBOARD in capsys.readouterr().err) == warned
    assert (tmp_path / "out" / "results.csv").is_file()


def test_heatmap_tensorboard_switch_takes_true_or_false(logdir, capsys):
    with pytest.raises(SystemExit):
        heatmap_main(["--logdir", str(logdir), "--tensorboard", "no"])
    assert "'no' is neither true nor false" in capsys.readouterr().err
