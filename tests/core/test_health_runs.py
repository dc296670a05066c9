"""Issue #27: the health report is kept with the run (health.json), in its model card, after a run and from the CLI."""

from __future__ import annotations

import json
import shutil

import pytest

from health_data import make_dirty_folder
from tl_widgets.cli import main
from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig
from tl_widgets.core.data.health import check_dataset
from tl_widgets.core.runs.folder import RunFolder
from tl_widgets.core.training.session import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A dirty folder checked once (so the runs on it record their health cheaply), and a run trained on it."""
    tmp = tmp_path_factory.mktemp("health-runs")
    root = tmp / "data"
    injected = make_dirty_folder(root, per_class=40, each=8)
    unchecked = tmp / "unchecked"
    shutil.copytree(root, unchecked)
    first = check_dataset(root)
    cfg = TrainConfig(data=DataConfig(source="folder", path=str(root), batch_size=32),
                      model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
                      phases=[PhaseConfig(name="head", epochs=2, learning_rate=3e-3)],
                      output_dir=str(tmp / "runs"), run_name="parent")
    result = train(cfg)
    assert result.status == "finished", result.error
    return root, injected, first, result, cfg, unchecked, tmp


def test_a_run_on_checked_data_keeps_their_health(checked):
    _root, injected, first, result, _cfg, _u, _tmp = checked
    health = RunFolder(result.run_dir).read_health()
    assert health is not None and health["decoded"] == 0  # the check's decode pass, reused
    blurry = next(f for f in health["findings"] if f["kind"] == "blurry")
    assert set(blurry["files"]) == set(first.of_kind("blurry")[0].files)
    assert any("Data health recorded in health.json" in m for m in result.summary["messages"])


def test_a_run_on_data_never_checked_records_none(checked):
    _root, _inj, _first, _result, cfg, unchecked, tmp = checked
    other = cfg.copy()
    other.data = DataConfig(source="folder", path=str(unchecked), batch_size=32)
    other.phases = [PhaseConfig(name="head", epochs=1, learning_rate=3e-3)]
    result = train(other)
    assert result.status == "finished" and RunFolder(result.run_dir).read_health() is None
    from tl_widgets.core.export.model_card import write_model_card

    text = write_model_card(result.run_dir).text
    assert "Dataset health: not recorded for this run" in text


def test_the_child_run_with_fixes_shows_the_change(checked, tmp_path):
    from tl_widgets.core.data.curation import decide
    from tl_widgets.core.export.model_card import write_model_card
    from tl_widgets.core.runs.health import health_counts
    from tl_widgets.core.runs.lineage import child_config

    _root, injected, _first, result, _cfg, _u, _tmp = checked
    curation = tmp_path / "fixes.jsonl"
    decide(curation, injected["blurry"], "exclude")
    child = train(child_config(result.run_dir, curation))
    assert child.status == "finished", child.error
    before = health_counts(RunFolder(result.run_dir).read_health())
    after_report = RunFolder(child.run_dir).read_health()
    after = health_counts(after_report)
    assert before["blurry"] >= 4 and after.get("blurry", 0) < before["blurry"], (before, after)
    assert not set(injected["blurry"]) & {k for f in after_report["findings"] for k in f["files"]}
    assert after_report["curation"]["excluded"] == len(injected["blurry"])
    text = write_model_card(child.run_dir).text
    assert "Dataset health (`health.json`)" in text and "after its curation (0 relabelled, 8 excluded" in text
    assert "| dark | warning |" in text


def test_after_a_run_the_check_names_where_it_is_weak(checked, capsys):
    root, _injected, _first, result, _cfg, _u, _tmp = checked
    assert main(["data", "check", str(root), "--run", str(result.run_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run_id"] == result.run_id and "groups" in report["seconds"]
    for f in report["findings"]:
        if f["kind"] in ("weak_class", "weak_cluster"):
            assert f["files"] and f["scores"] == sorted(f["scores"], reverse=True) and result.run_id in f["message"]


def test_the_cli_prints_the_findings_as_a_table(checked, capsys):
    root, injected, _first, _result, _cfg, _u, _tmp = checked
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("finding"))
    assert all(col in header for col in ("severity", "files", "threshold", "worst files"))
    row = next(line for line in out.splitlines() if line.startswith("blurry "))
    assert "below" not in row and "< " in row and "blurry_" in row
    assert "0 of" in out and "images decoded, the rest cached" in out
