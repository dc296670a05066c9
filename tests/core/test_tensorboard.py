"""TensorBoard logging: a two-phase run writes event files with the expected scalar tags, and the CLI serves them."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tl_widgets.core.config.schema import FreezeConfig, PhaseConfig, TrainConfig
from tl_widgets.core.runs.folder import RunFolder


def _tags(log_dir: Path) -> dict[str, set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    return {"scalars": set(tags["scalars"]), "tensors": set(tags["tensors"]), "graph": {str(tags["graph"])}}


def _steps(log_dir: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return [e.step for e in acc.Tensors(tag)]


@pytest.fixture(scope="module")
def tb_run(tmp_path_factory):
    from tl_widgets.core.config.schema import DataConfig, ModelConfig
    from tl_widgets.core.training.session import train

    cfg = TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=20),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
        phases=[PhaseConfig(name="head", epochs=1, learning_rate=3e-3, optimizer="adagrad"),
                PhaseConfig(name="fine_tune", epochs=1, learning_rate=1e-4, freeze=FreezeConfig(mode="top", top_n=1))],
        output_dir=str(tmp_path_factory.mktemp("tb-runs")), run_name="tb", tensorboard=True, feature_cache=False,
    )
    result = train(cfg)
    assert result.status == "finished", result.error
    return result


def test_event_files_hold_batch_epoch_and_learning_rate_scalars(tb_run):
    logs = RunFolder(tb_run.run_dir).tensorboard_dir
    assert list((logs / "train").glob("events.out.tfevents.*"))
    assert list((logs / "validation").glob("events.out.tfevents.*"))
    # tf.summary writes scalars as tensors (TensorBoard's data provider reads both).
    train_tags = _tags(logs / "train")["tensors"] | _tags(logs / "train")["scalars"]
    assert {"batch_loss", "batch_accuracy", "batch_learning_rate", "epoch_loss", "epoch_accuracy",
            "epoch_learning_rate"} <= train_tags
    assert "keras" in train_tags  # the model graph (Keras' model summary)
    val_tags = _tags(logs / "validation")["tensors"] | _tags(logs / "validation")["scalars"]
    assert {"epoch_loss", "epoch_accuracy"} <= val_tags
    # One batch axis over both phases (2 epochs of steps_per_epoch batches), one point per epoch.
    batches = _steps(logs / "train", "batch_loss")
    assert batches == sorted(set(batches)) and len(batches) >= 4
    assert _steps(logs / "train", "epoch_loss") == [0, 1]


def test_off_by_default_writes_nothing(trained_demo_run):
    assert TrainConfig().tensorboard is False
    assert TrainConfig.load(RunFolder(trained_demo_run).config_file).tensorboard is False
    assert (RunFolder(trained_demo_run).path / "model.keras").is_file()
    assert not RunFolder(trained_demo_run).tensorboard_dir.exists()  # the suite's shared run, trained without it


def test_cli_flag_sets_the_option():
    from tl_widgets.cli import build_parser
    from tl_widgets.cli.train import config_from_args

    assert config_from_args(build_parser().parse_args(["train", "--demo", "--tensorboard"])).tensorboard is True
    assert config_from_args(build_parser().parse_args(["train", "--demo"])).tensorboard is False


@pytest.mark.slow
def test_runs_tensorboard_serves_the_run(tb_run):
    code = "import sys; from tl_widgets.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "runs", "tensorboard", str(tb_run.run_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"(http://\S+)", line)
        assert url, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(url.group(1).rstrip("/") + "/data/runs", timeout=30) as resp:
            text = resp.read().decode()
        assert tb_run.run_dir.name in text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_runs_tensorboard_refuses_a_run_without_logs(tmp_path, capsys):
    from tl_widgets.cli import main

    (tmp_path / "plain").mkdir()
    assert main(["runs", "tensorboard", str(tmp_path / "plain")]) == 1
    assert "Expected a run trained with TensorBoard logging" in capsys.readouterr().err
    assert main(["runs", "tensorboard", "no-such-run"]) == 1
    assert "Expected a run id or a run folder" in capsys.readouterr().err
