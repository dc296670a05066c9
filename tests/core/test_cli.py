from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tl_widgets.cli import build_parser, main


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tl_widgets", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ})


@pytest.mark.slow
def test_train_demo_end_to_end(tmp_path):
    proc = _cli("train", "--demo", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("finished: ") and "val_accuracy=" in last
    run_dir = tmp_path / os.listdir(tmp_path)[0]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["metrics"]["val_accuracy"] > 0.6  # 5 classes: chance is 0.2
    for name in ("config.json", "model.keras", "history_batches.csv", "history_epochs.csv", "labels.txt"):
        assert (run_dir / name).is_file()
    assert "skipped_files" in summary and "total_s" in summary["timings"]


@pytest.mark.slow
def test_train_failure_is_one_line_and_nonzero(tmp_path):
    proc = _cli("train", "--demo", "--data", str(tmp_path / "missing"), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 1
    err = [l for l in proc.stderr.splitlines() if l.startswith("tl-widgets: error:")]
    assert len(err) == 1 and "does not exist" in err[0]


def test_bad_config_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"phases": [{"learning_rate": -1}]}))
    assert main(["train", str(bad)]) == 1
    assert main(["train"]) == 1


def test_config_demo_round_trips(capsys):
    from tl_widgets.core.config.schema import TrainConfig, demo_config

    assert main(["config", "--demo"]) == 0
    assert TrainConfig.from_json(capsys.readouterr().out) == demo_config()
    assert main(["config", "--yaml"]) == 0
    assert TrainConfig.from_yaml(capsys.readouterr().out) == demo_config()


def test_backbones_table_and_blocks(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v2" in out and "71.3%" in out and "convnext_xlarge" in out
    assert main(["backbones", "--blocks", "demo_cnn"]) == 0
    assert "block4" in capsys.readouterr().out


def test_weights_status_and_offline_prefetch(capsys):
    assert main(["weights", "status", "mobilenet_v2"]) == 0
    assert "missing" in capsys.readouterr().out
    assert main(["weights", "prefetch", "resnet50"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resnet50_weights" in err and "tl-widgets weights prefetch resnet50" in err


def test_demo_data_writes_folders(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path), "--which", "shapes"]) == 0
    assert capsys.readouterr().out.strip() == f"shapes: {tmp_path / 'shapes_target'}"
    classes = sorted(p.name for p in (tmp_path / "shapes_target").iterdir())
    assert classes == sorted(["cross", "ring", "diamond", "hexagon"])


@pytest.mark.parametrize("cmd", [[], ["train"], ["backbones"], ["weights"], ["config"], ["demo-data"], ["runs"],
                                 ["evaluate"], ["export"], ["studio"], ["serve"]])
def test_every_help_is_complete(cmd, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*cmd, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: tl-widgets" in text
    # every option carries a help text (on its line, or indented on the next)
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("options:"))
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.startswith("  -") and "  " not in line.strip():
            assert i + 1 < len(lines) and lines[i + 1].startswith(" " * 10), f"option without help: {line}"
