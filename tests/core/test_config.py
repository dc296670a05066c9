from __future__ import annotations

import json

import pytest

from tl_widgets.core.config.schema import (
    ConfigError,
    FreezeConfig,
    PhaseConfig,
    StrategyConfig,
    TrainConfig,
    demo_config,
)


def test_round_trip_json_and_yaml(tmp_path):
    cfg = demo_config()
    cfg.phases[1].freeze = FreezeConfig(mode="up_to", block="block2", overrides={"block3": True})
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert TrainConfig.from_yaml(cfg.to_yaml()) == cfg
    for name in ("c.json", "c.yaml"):
        cfg.save(tmp_path / name)
        assert TrainConfig.load(tmp_path / name) == cfg


def test_missing_keys_take_defaults():
    cfg = TrainConfig.from_dict({"model": {"backbone": "mobilenet_v2"}})
    assert cfg.model.backbone == "mobilenet_v2"
    assert cfg.data.batch_size == 32 and cfg.phases[0].epochs == 5


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"phases": [{"learning_rate": -1}]}, "phases[0].learning_rate", "learning_rate=-1"),
        ({"data": {"batch_size": 0}}, "data.batch_size", "batch_size=0"),
        ({"data": {"batch_size": "big"}}, "data.batch_size", "'big'"),
        ({"model": {"pooling": "median"}}, "model.pooling", "'median'"),
        ({"model": {"colour": "red"}}, "model.colour", "Unknown field 'colour'"),
        ({"phases": []}, "phases", "at least one phase"),
        ({"data": {"source": "folder"}}, "data.path", "Received: None"),
        ({"freeze": {"mode": "up_to"}}, "freeze.block", "block name"),
        ({"strategy": {"num_processes": 2}}, "strategy.coordinator", "HOST:PORT"),
        ({"strategy": {"num_processes": 2, "process_id": 2, "coordinator": "h:1"}}, "strategy.process_id", "process_id=2"),
        ({"strategy": {"coordinator": "nohost"}}, "strategy.coordinator", "'nohost'"),
        ({"data": {"augmentation": {"rotation": 3.0}}}, "data.augmentation.rotation", "rotation=3.0"),
        ({"seed": True}, "seed", "True"),
        ({"phases": [{"epochs": 1.5}]}, "phases[0].epochs", "1.5"),
        ({"model": {"dropout": float("nan")}}, "model.dropout", "finite"),
        ("not a mapping", "", "Expected a mapping"),
    ],
)
def test_bad_values_name_field_and_value(data, field, fragment):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(data)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        TrainConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="valid JSON"):
        TrainConfig.load(tmp_path / "bad.json")
    (tmp_path / "bad.yaml").write_text("a: [1, 2")
    with pytest.raises(ConfigError, match="valid YAML"):
        TrainConfig.load(tmp_path / "bad.yaml")


def test_constructor_validates():
    with pytest.raises(ConfigError, match="phases\\[0\\].optimizer"):
        TrainConfig(phases=[PhaseConfig(optimizer="adadelta")])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="jit_compile"):
        TrainConfig(strategy=StrategyConfig(jit_compile="yes"))  # type: ignore[arg-type]
    assert TrainConfig(strategy=StrategyConfig(jit_compile=True)).strategy.jit_compile is True


def test_copy_is_independent():
    cfg = demo_config()
    other = cfg.copy()
    other.phases[0].epochs = 99
    assert cfg.phases[0].epochs != 99
    assert json.loads(cfg.to_json())["phases"][0]["epochs"] == cfg.phases[0].epochs
    assert cfg.total_epochs == sum(p.epochs for p in cfg.phases)


# -- the one validator (core/config/checks.py) ---------------------------------------


def test_out_of_bounds_is_a_typed_bounds_error_even_inside_optional():
    from tl_widgets.core.config.checks import BoundsError

    # `max_per_class: int | None` has only a lower bound: the union picks the bounds error by its type.
    with pytest.raises(BoundsError) as info:
        TrainConfig.from_dict({"data": {"max_per_class": 0}})
    assert info.value.field == "data.max_per_class" and ">= 1" in str(info.value)
    assert (info.value.lo, info.value.hi) == (1, None)
    with pytest.raises(BoundsError, match="seed"):
        TrainConfig.from_dict({"seed": -1})
    with pytest.raises(ConfigError) as wrong_type:
        TrainConfig.from_dict({"data": {"max_per_class": "many"}})
    assert not isinstance(wrong_type.value, BoundsError)
    with pytest.raises(BoundsError, match="block_lr_multipliers"):
        TrainConfig(phases=[PhaseConfig(block_lr_multipliers={"block1": 101.0})])


def test_one_validator_rules():
    from tl_widgets.core.config.checks import BoundsError, check_choice, check_number, check_text

    assert check_number(3, "epochs", 0, 10, integer=True) == 3
    assert check_number(2.5, "lr", 0.0, None) == 2.5
    for bad, kind in ((True, ConfigError), ("3", ConfigError), (2.5, ConfigError), (11, BoundsError)):
        with pytest.raises(kind, match="epochs") as info:
            check_number(bad, "epochs", 0, 10, integer=True)
        assert "Received: epochs=" in str(info.value)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite"):
            check_number(bad, "lr", 0.0, 1.0)
    assert str(pytest.raises(BoundsError, check_number, 0, "batch_size", 1, 8192).value) == \
        "Expected batch_size between 1 and 8192. Received: batch_size=0"
    assert check_choice("sgd", "optimizer", ("adam", "sgd")) == "sgd"
    with pytest.raises(ConfigError, match="one of True, False"):
        check_choice(1, "flag", (True, False))  # 1 == True, but it is not a bool
    with pytest.raises(ConfigError, match="NUL"):
        check_text("a\x00b", "name")
    with pytest.raises(ConfigError, match="phases\\[0\\].name"):
        TrainConfig.from_dict({"phases": [{"name": "x\x00"}]})


def test_choices_and_bounds_come_from_the_schema():
    from tl_widgets.core.config import AugmentConfig, DataConfig, field_bounds, field_choices

    assert field_choices(PhaseConfig, "optimizer") == ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax", "nadam", "lion")
    assert field_choices(StrategyConfig, "jit_compile") == ("auto", True, False)
    assert field_choices(DataConfig, "source") == ("demo", "folder", "zip", "code")
    assert field_bounds(AugmentConfig, "rotation") == (0.0, 0.5)
    assert field_bounds(DataConfig, "max_per_class") == (1, None)
    with pytest.raises(KeyError, match="nope"):
        field_bounds(DataConfig, "nope")
    with pytest.raises(KeyError, match="batch_size"):
        field_choices(DataConfig, "batch_size")  # a number has bounds, not choices
