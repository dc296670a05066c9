"""MLflow tracking against a real local MLflow store, read back through MLflow's own client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

from tl_widgets.core.runs.folder import RunFolder  # noqa: E402
from tl_widgets.core.tracking.mlflow_tracking import RUN_ID_TAG, flatten_params, log_run_folder  # noqa: E402


@pytest.fixture(scope="module")
def exported_run(trained_demo_result):
    """The suite's shared tiny run, with a Keras export added (so an export report exists)."""
    from tl_widgets.core.export.formats import export_run

    export_run(trained_demo_result.run_dir, "keras", max_verify=32)
    return trained_demo_result


def test_a_run_folder_becomes_one_mlflow_run(tmp_path, exported_run):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mid, created = log_run_folder(exported_run.run_dir, tracking_uri=uri, experiment="tests",
                                  run_record={"sweep_id": "s1", "trial": 3})
    assert created
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(mid)
    cfg = json.loads(RunFolder(exported_run.run_dir).config_file.read_text())
    assert run.data.params["model.backbone"] == "demo_cnn"
    assert run.data.params["phases.0.learning_rate"] == str(cfg["phases"][0]["learning_rate"])
    assert run.data.tags[RUN_ID_TAG] == exported_run.run_id
    assert run.data.tags["tl_widgets.sweep_id"] == "s1" and run.data.tags["tl_widgets.trial"] == "3"
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(mid, "val_accuracy")
    assert [m.step for m in history] == list(range(len(exported_run.history["epoch"]["val_accuracy"])))
    assert [m.value for m in history] == pytest.approx(exported_run.history["epoch"]["val_accuracy"])
    assert run.data.metrics["final_val_accuracy"] == pytest.approx(exported_run.metrics["val_accuracy"])
    names = {a.path for a in client.list_artifacts(mid)}
    assert {"config.json", "summary.json", "history_epochs.csv", "model.keras", "exports"} <= names
    assert [a.path for a in client.list_artifacts(mid, "exports/keras")] == ["exports/keras/export_report.json"]
    # The model MLflow kept is the run's model, byte for byte.
    local = client.download_artifacts(mid, "model.keras", str(tmp_path))
    assert open(local, "rb").read() == RunFolder(exported_run.run_dir).model_file.read_bytes()
    # Sending it again finds it instead of duplicating it.
    assert log_run_folder(exported_run.run_dir, tracking_uri=uri, experiment="tests") == (mid, False)
    exp = client.get_experiment_by_name("tests")
    assert len(client.search_runs([exp.experiment_id])) == 1


def test_cli_export_mlflow_by_run_id_and_bad_input(tmp_path, exported_run):
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    cmd = [sys.executable, "-m", "tl_widgets", "runs", "export-mlflow", "--tracking-uri", uri]
    proc = subprocess.run(cmd + [exported_run.run_id], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{exported_run.run_id}: sent as run " in proc.stdout
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tl_widgets").experiment_id])
    assert run.data.tags[RUN_ID_TAG] == exported_run.run_id
    proc = subprocess.run(cmd + ["no-such-run"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Expected the id of a recorded run. Received: 'no-such-run'" in proc.stderr


def test_flatten_params_names_every_field_by_its_path():
    flat = flatten_params({"model": {"backbone": "x"}, "phases": [{"epochs": 2}], "tags": [1, 2], "n": None})
    assert flat == {"model.backbone": "x", "phases.0.epochs": "2", "tags": "[1, 2]", "n": "None"}
