"""Which settings differ between two runs: core.runs.config_diff over real configs and a real run store."""

from __future__ import annotations

import dataclasses

import pytest

from tl_widgets.core.config.schema import FreezeConfig, PhaseConfig, TrainConfig, demo_config
from tl_widgets.core.runs.config_diff import MISSING, config_diff, flatten_config, run_config_diff


def test_flatten_names_every_leaf_by_its_path():
    cfg = demo_config()
    flat = flatten_config(cfg)
    assert flat["model.dropout"] == cfg.model.dropout
    assert flat["phases[1].freeze.top_n"] == 2 and flat["phases[0].freeze"] is None
    assert flat["data.augmentation.flip"] == "none"
    assert flat["freeze.overrides"] == {}  # a dict-valued field stays one leaf
    assert flatten_config(cfg.to_dict()) == flat


def test_diff_lists_only_what_differs_in_field_order():
    a = demo_config()
    b = dataclasses.replace(a, seed=7, model=dataclasses.replace(a.model, dropout=0.5),
                            phases=[dataclasses.replace(a.phases[0], learning_rate=1e-2, schedule="cosine")],
                            run_name="other")
    rows = config_diff(a, b.to_dict())
    assert rows == [("model.dropout", 0.2, 0.5), ("phases[0].learning_rate", 3e-3, 1e-2),
                    ("phases[0].schedule", "constant", "cosine"),
                    *[(f"phases[1].{k}", v, MISSING) for k, v in flatten_config(a.phases[1]).items()],
                    ("seed", 42, 7)]
    assert ("run_name", "demo", "other") in config_diff(a, b, include_names=True)
    assert config_diff(a, a.copy()) == []


def test_diff_tells_a_flag_from_a_number():
    a = TrainConfig(phases=[PhaseConfig(block_lr_multipliers={"b": 1.0})])
    b = TrainConfig(phases=[PhaseConfig(block_lr_multipliers={"b": 1})])
    assert config_diff(a.to_dict(), b.to_dict()) == []
    c = TrainConfig(freeze=FreezeConfig(overrides={"b": True}))
    assert config_diff(TrainConfig(), c) == [("freeze.overrides", {}, {"b": True})]
    with pytest.raises(TypeError, match="Expected a TrainConfig or a config dict for b"):
        config_diff(a, "not a config")


def test_run_config_diff_reads_the_configs_the_store_recorded(tmp_path):
    from tl_widgets.core.events import RunStarted
    from tl_widgets.core.runs.store import RunNotFoundError, RunRecorder, RunStore

    store = RunStore(tmp_path / "home")
    rec = RunRecorder(store)
    a = demo_config()
    b = dataclasses.replace(a, early_stopping_patience=3)
    rec(RunStarted("run-a", config=a.to_dict(), run_dir=None, total_epochs=1, steps_per_epoch=1))
    rec(RunStarted("run-b", config=b.to_dict(), run_dir=None, total_epochs=1, steps_per_epoch=1))
    rec.flush()
    assert run_config_diff(store, "run-a", "run-b") == [("early_stopping_patience", 0, 3)]
    with pytest.raises(RunNotFoundError):
        run_config_diff(store, "run-a", "nope")
