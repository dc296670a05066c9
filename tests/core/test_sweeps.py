"""Sweeps on Optuna: the sweep file's checks, and real studies on real SQLite with real (tiny) runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from tl_widgets.core.config.schema import ConfigError, FreezeConfig, PhaseConfig  # noqa: E402
from tl_widgets.core.runs.store import RunStore  # noqa: E402
from tl_widgets.core.sweeps.runner import SweepRunner, best_config, trial_rows  # noqa: E402
from tl_widgets.core.sweeps.spec import SweepError, SweepSpec  # noqa: E402
from tl_widgets.core.sweeps.study import open_study  # noqa: E402


def _sweep(tiny_config, **kw):
    cfg = tiny_config
    cfg.phases = [PhaseConfig(name="head", epochs=2, learning_rate=3e-3),
                  PhaseConfig(name="fine_tune", epochs=1, learning_rate=3e-4, freeze=FreezeConfig(mode="top", top_n=1))]
    data = {"name": kw.pop("name", "t"), "trials": kw.pop("trials", 3), "seed": 0, "config": cfg.to_dict(),
            "space": kw.pop("space", {"phases[0].learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2,
                                                                  "log": True},
                                      "phases[1].freeze.top_n": {"type": "int", "low": 0, "high": 2},
                                      "model.pooling": {"choices": ["avg", "max"]}})}
    data.update(kw)
    return SweepSpec.from_dict(data)


@pytest.mark.parametrize("space, where, words", [
    ({"model.nope": {"low": 0, "high": 1}}, "space.model.nope", "'nope' is not there"),
    ({"phases[5].epochs": {"type": "int", "low": 1, "high": 2}}, "space.phases[5].epochs", "5 is not there"),
    ({"model.dropout": {"low": 0.0, "high": 1.5}}, "space.model.dropout", "1.5"),
    ({"model.pooling": {"choices": ["avg", "sum"]}}, "space.model.pooling", "'sum'"),
    ({"model.dropout": {"low": 0.5, "high": 0.1}}, "space.model.dropout", "low <= high"),
    ({"phases[0].learning_rate": {"low": 0.0, "high": 0.1, "log": True}}, "space.phases[0].learning_rate", "log"),
    ({"model.dropout": {"type": "gauss"}}, "space.model.dropout", "type in"),
    ({}, "space", "at least one"),
])
def test_bad_space_is_refused_naming_the_path(tiny_config, space, where, words):
    with pytest.raises(SweepError) as info:
        _sweep(tiny_config, space=space)
    assert info.value.field == where and words in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_sweep_file_round_trips_and_resolves_its_config(tmp_path, tiny_config):
    tiny_config.save(tmp_path / "base.yaml")
    (tmp_path / "s.yaml").write_text("config: base.yaml\ntrials: 5\nspace:\n  model.dropout: {low: 0.0, high: 0.4}\n")
    spec = SweepSpec.load(tmp_path / "s.yaml")
    assert spec.trials == 5 and spec.config == tiny_config and spec.space[0].kind == "float"
    spec.save(tmp_path / "again.json")
    assert SweepSpec.load(tmp_path / "again.json").to_dict() == spec.to_dict()
    with pytest.raises(SweepError, match="Unknown key 'trails'"):
        SweepSpec.from_dict({"trails": 3, "config": {}, "space": {}})


@pytest.mark.slow
def test_trials_are_runs_tagged_in_the_store_and_share_the_feature_cache(tmp_path, tiny_config, monkeypatch):
    from tl_widgets.core.settings import HOME_ENV

    # A home of its own: the suite's shared feature cache may already hold these features from another test.
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    spec = _sweep(tiny_config, trials=2, pruner="median",
                  space={"phases[0].learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
                         "phases[1].freeze.top_n": {"type": "int", "low": 0, "high": 2}})
    store = RunStore(tmp_path / "home")
    storage = f"sqlite:///{tmp_path / 'study.sqlite'}"
    outcomes = SweepRunner(spec, storage=storage, store=store).run()
    assert [o.number for o in outcomes] == [0, 1]
    assert all(o.state == "complete" for o in outcomes), outcomes
    # The backbone stays frozen in the head phase: its features are computed by the first trial, loaded by the next.
    assert [o.feature_cache_hit for o in outcomes] == [False, True]
    runs = store.sweep_runs(spec.study_name)
    assert [(r["trial"], r["run_id"]) for r in runs] == [(o.number, o.run_id) for o in outcomes]
    study = open_study(spec, storage)
    rows = trial_rows(study)
    assert [r["run_id"] for r in rows] == [o.run_id for o in outcomes]
    for row, o in zip(rows, outcomes):  # Optuna saw every epoch the run logged
        assert row["epochs"] == o.epochs == tiny_config.total_epochs and row["params"] == o.params
    best = best_config(study)
    winner = max(outcomes, key=lambda o: o.value)
    assert best.phases[0].learning_rate == winner.params["phases[0].learning_rate"]
    assert best.phases[1].freeze.top_n == winner.params["phases[1].freeze.top_n"]
    # Running again does nothing: the budget counts the study's trials.
    assert SweepRunner(spec, storage=storage, store=store).run() == []


@pytest.mark.slow
def test_the_median_pruner_stops_a_hopeless_trial_early(tmp_path, tiny_config):
    """Two good trials, then one whose learning rate cannot learn: it is stopped before its last epoch."""
    spec = _sweep(tiny_config, trials=3, pruner="median",
                  space={"phases[0].learning_rate": {"choices": [3e-3, 1e-8]}})
    storage = f"sqlite:///{tmp_path / 'study.sqlite'}"
    study = open_study(spec, storage)
    for lr in (3e-3, 3e-3, 1e-8):
        study.enqueue_trial({"phases[0].learning_rate": lr})
    store = RunStore(tmp_path / "home")
    outcomes = SweepRunner(spec, storage=storage, store=store).run()
    assert [o.state for o in outcomes] == ["complete", "complete", "pruned"], outcomes
    hopeless = outcomes[2]
    assert hopeless.epochs < tiny_config.total_epochs
    assert store.get_run(hopeless.run_id)["status"] == "stopped"
    assert [r["state"] for r in trial_rows(study)] == ["complete", "complete", "pruned"]


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study_and_run_no_trial_twice(tmp_path, tiny_config):
    spec = _sweep(tiny_config, trials=4, name="shared")
    spec.save(tmp_path / "sweep.json")
    storage = f"sqlite:///{tmp_path / 'study.sqlite'}"
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home")}
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cmd = [sys.executable, "-m", "tl_widgets", "sweep", str(tmp_path / "sweep.json"), "--storage", storage,
           "--mlflow", mlflow_uri]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    ran = [sorted(int(line.split()[1]) for line in out.splitlines() if line.startswith("trial ")) for out, _ in outs]
    assert sorted(ran[0] + ran[1]) == [0, 1, 2, 3], ran  # between them, each trial once
    runs = RunStore(tmp_path / "home").sweep_runs("shared")
    assert sorted(r["trial"] for r in runs) == [0, 1, 2, 3]
    assert len({r["run_id"] for r in runs}) == 4
    study = open_study(spec, storage)
    assert sorted(r["number"] for r in trial_rows(study)) == [0, 1, 2, 3]
    assert "best: trial" in outs[0][0] + outs[1][0]
    # --mlflow: each trial went to MLflow once, tagged with its sweep and trial number.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    sent = client.search_runs([client.get_experiment_by_name("tl_widgets").experiment_id])
    assert sorted(int(r.data.tags["tl_widgets.trial"]) for r in sent) == [0, 1, 2, 3]
    assert {r.data.tags["tl_widgets.sweep_id"] for r in sent} == {"shared"}


def test_cli_reports_a_bad_sweep_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: {}\nspace:\n  model.dropout: {low: 0.0, high: 2.0}\n")
    proc = subprocess.run([sys.executable, "-m", "tl_widgets", "sweep", str(bad)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("tl-widgets: error: space.model.dropout:")


def test_example_sweep_file_is_valid():
    spec = SweepSpec.load(Path(__file__).parents[2] / "examples" / "demo_sweep.yaml")
    assert spec.trials == 8 and len(spec.space) == 5
