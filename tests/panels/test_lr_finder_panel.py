"""The learning-rate finder panel (no browser): sweep, figure, "Use suggested", refusals."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tl_widgets.panels.lr_finder import LRFinderPanel
from tl_widgets.panels.train import TrainPanel
from tl_widgets.panels.kit.validation import PanelError


def _values(v):
    """A trace's x or y as a list: plain, or Plotly's base64 typed array ``{"dtype", "bdata"}``."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def _studio_panel(tiny_config, **kwargs):
    """A finder wired as the Studio wires it: the config comes from the Studio's one assembler."""
    from tl_widgets.studio import Studio

    studio = Studio(config=tiny_config)
    return LRFinderPanel(config_source=lambda: studio.config, train_panel=studio.train, **kwargs), studio


def _panel(tiny_config, **kwargs):
    panel, studio = _studio_panel(tiny_config, **kwargs)
    assert isinstance(studio.train, TrainPanel)
    return panel, studio.train


def test_sweep_shows_curve_and_use_sets_the_lr(tiny_config):
    panel, studio = _studio_panel(tiny_config, steps=20, min_lr=1e-5, max_lr=0.5)
    train = studio.train
    assert panel.use_button.disabled and panel.chart.snapshot()["data"] == []
    assert panel.use_suggested() is None  # the browser can click a disabled button
    assert "Find learning rate" in panel.notice.text

    panel.find_button.click()
    panel.wait(300)
    assert panel.error is None, panel.error
    result = panel.result
    assert 5 <= len(result.lrs) <= 20 and len(result.lrs) == len(result.losses)
    data = panel.chart.snapshot()["data"]
    assert _values(data[0]["x"]) == pytest.approx(result.lrs) and len(result.lrs) > 0
    assert _values(data[0]["y"]) == pytest.approx(result.losses)
    lr = panel.suggested_lr
    assert lr is not None and 1e-5 <= lr <= 0.5 and min(result.lrs) <= lr <= max(result.lrs)
    assert f"{lr:.2e}" in panel.suggestion.value
    assert not panel.use_button.disabled and not panel.find_button.disabled

    assert train.head.lr.value != pytest.approx(lr)
    panel.use_button.click()
    assert train.head.lr.value == pytest.approx(lr)
    assert studio.config.phases[0].learning_rate == pytest.approx(lr)


def test_refused_while_training(tiny_config):
    panel, train = _panel(tiny_config, steps=10)
    tiny_config.phases[0].epochs = 50
    train.set_config(tiny_config)
    assert train.start() is not None
    try:
        assert train.running
        assert panel.start() is False
        assert "Refused: a training run is active" in panel.notice.text
        assert panel._thread is None and panel.result is None
    finally:
        train.stop()
        assert train.wait(120) == "stopped"


def test_browser_values_are_rechecked(tiny_config):
    panel, _ = _panel(tiny_config)
    panel.steps.min = 1  # the browser can change a widget's own bounds too
    panel.steps.value = 3  # below the sweep's bound: the guard resets it
    assert panel.steps.value == 60 and "Refused" in panel.notice.text
    panel.min_lr.value = 0.5
    panel.max_lr.value = 0.1  # each value is in bounds, the pair is not: refused at Start
    assert panel.start() is False
    assert "Expected min_lr < max_lr" in panel.notice.text and panel._thread is None
    with pytest.raises(PanelError, match="steps"):
        LRFinderPanel(config_source=lambda: tiny_config, steps=2)
    with pytest.raises(TypeError, match="callable"):
        LRFinderPanel(config_source=tiny_config)


def test_config_errors_are_shown(tiny_config):
    def broken():
        raise PanelError("Expected a data folder. Received: none")

    panel = LRFinderPanel(config_source=broken)
    assert panel.start() is False
    assert "Cannot find a learning rate: Expected a data folder" in panel.notice.text


def test_studio_has_the_finder_in_the_train_tab():
    from tl_widgets.studio import Studio

    studio = Studio()
    train_tab = studio.train_tab
    assert studio.train in train_tab.children
    assert studio.lr_finder_box in train_tab.children and studio.lr_finder._train is studio.train
