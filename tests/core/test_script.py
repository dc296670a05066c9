"""Tests of export-as-script: the generated script reproduces a run in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.export.script import export_script


@pytest.mark.slow
def test_script_runs_and_writes_a_run(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tiny_config.save(run_dir / "config.json")
    written = export_script(run_dir)
    assert written.script == run_dir / "train_run.py"
    assert written.command == f"tl-widgets train {written.config}"
    assert TrainConfig.load(written.config) == tiny_config
    source = written.script.read_text()
    assert "from tl_widgets import TrainConfig, train" in source and written.command in source
    compile(source, str(written.script), "exec")
    out = tmp_path / "out"
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1")
    proc = subprocess.run([sys.executable, str(written.script), "--epochs", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (folder,) = list(out.iterdir())
    assert (folder / "model.keras").is_file() and (folder / "summary.json").is_file()
    assert TrainConfig.load(folder / "config.json").phases[0].epochs == 1
    assert "finished" in proc.stdout


def test_from_config_and_bad_inputs(tiny_config, tmp_path):
    written = export_script(tiny_config, tmp_path, name="My run!")
    assert written.script.name == "train_my_run.py" and written.config.name == "config_my_run.json"
    with pytest.raises(FileNotFoundError, match="Expected a run folder with config.json"):
        export_script(tmp_path / "missing")
    with pytest.raises(TypeError, match="Received: int"):
        export_script(3)
