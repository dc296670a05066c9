"""Every optimizer choice builds Keras' own optimizer and trains; the Studio's dropdown offers them all."""

from __future__ import annotations

import os
import typing

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_widgets.core.config.checks import ConfigError, field_choices  # noqa: E402
from tl_widgets.core.config.schema import PhaseConfig, TrainConfig  # noqa: E402
from tl_widgets.core.training.optimizers import OPTIMIZER_CLASSES, make_optimizer  # noqa: E402

NEW = ("adagrad", "adamax", "nadam", "lion")


def test_choices_match_the_builder() -> None:
    choices = field_choices(PhaseConfig, "optimizer")
    assert set(NEW) <= set(choices)
    assert set(choices) == set(OPTIMIZER_CLASSES)
    assert typing.get_args(typing.get_type_hints(PhaseConfig)["optimizer"]) == tuple(choices)
    with pytest.raises(ConfigError, match="phases\\[0\\].optimizer"):
        TrainConfig.from_dict({"phases": [{"optimizer": "adadelta2"}]})


@pytest.mark.parametrize("name", NEW)
def test_new_optimizer_builds_and_trains(name: str) -> None:
    import keras

    opt = make_optimizer(PhaseConfig(optimizer=name, learning_rate=0.05, epochs=1, schedule="cosine"), 4)
    assert type(opt).__name__ == OPTIMIZER_CLASSES[name]
    assert isinstance(opt, getattr(keras.optimizers, OPTIMIZER_CLASSES[name]))
    keras.utils.set_random_seed(0)
    x = np.random.RandomState(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = float(model.evaluate(x, y, verbose=0))
    model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert float(model.evaluate(x, y, verbose=0)) < before


def test_adagrad_with_per_block_rates() -> None:
    opt = make_optimizer(PhaseConfig(optimizer="adagrad"), 4, multipliers={"dense/kernel": 0.5})
    assert type(opt).__name__ == "PerVariableRatesAdagrad"
