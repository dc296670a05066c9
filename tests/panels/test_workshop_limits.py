"""Under a workshop file the panels enforce its limits in Python, whatever the browser sends."""

from __future__ import annotations

import pytest
import traitlets

from tl_widgets.core.room.workshop import load_workshop
from tl_widgets.panels.kit.validation import PanelError


@pytest.fixture
def workshop_file(tmp_path, data_root):
    path = tmp_path / "workshop.yaml"
    path.write_text(f"name: Test class\ndata_roots: [{str(data_root)!r}]\n"
                    "allowed_backbones: [demo_cnn, mobilenet_v2]\nmax_epochs: 3\nmax_batch_size: 16\n"
                    "max_upload_mb: 1\n", encoding="utf-8")
    return path


@pytest.fixture
def studio(workshop_file, monkeypatch, tiny_config):
    from tl_widgets.studio import Studio

    monkeypatch.setenv("TL_WIDGETS_WORKSHOP", str(workshop_file))
    monkeypatch.delenv("TL_WIDGETS_MAX_UPLOAD_BYTES", raising=False)
    tiny_config.phases[0].epochs = 5  # above the workshop's 3: lowered at start
    return Studio(config=tiny_config)


def test_studio_reads_the_workshop_from_the_environment(studio, data_root):
    assert studio.workshop is not None and studio.workshop.max_epochs == 3
    assert [v for _, v in studio.backbone.select.options] == ["demo_cnn", "mobilenet_v2"]
    assert studio.data.roots == [data_root.resolve(), studio.captures.resolve()]  # + the webcam captures
    assert studio.data.max_upload_bytes == 2**20
    assert studio.train.head.epochs.value == 3
    assert "head epochs 5 -> 3" in studio.notice.text
    assert any("Test class" in getattr(w, "value", "") for w in studio.children)


def test_epochs_above_the_limit_are_refused_with_a_message(studio):
    epochs = studio.train.head.epochs
    epochs.value = 2
    epochs.max = 10**6  # the browser can raise the widget's own bound first
    epochs.value = 500
    assert epochs.value == 2
    assert "Refused: Expected epochs between 0 and 3. Received: epochs=500" in studio.train.notice.text
    studio.train.fine_tune.value = True
    studio.train.ft.epochs.value = 4
    assert studio.train.ft.epochs.value != 4


def test_batch_size_above_the_limit_is_refused(studio):
    box = studio.data.batch_size
    before = box.value
    box.value = 17
    assert box.value == before <= 16
    assert "Expected batch_size between 1 and 16. Received: batch_size=17" in studio.data.notice.text
    box.value = 16
    assert studio.config.data.batch_size == 16


def test_backbone_outside_the_list_is_refused(studio):
    with pytest.raises((traitlets.TraitError, PanelError), match="resnet50"):
        studio.backbone.backbone = "resnet50"
    with pytest.raises(traitlets.TraitError):
        studio.backbone.select.value = "resnet50"  # not an option: the widget itself refuses
    assert studio.config.model.backbone == "demo_cnn"


def test_start_rechecks_values_that_bypassed_the_guard(studio):
    studio.train.guard._set(studio.train.head.epochs, 9)  # as if the observer had been skipped
    assert studio.start() is None
    assert "Cannot start: Expected epochs between 0 and 3. Received: epochs=9" in studio.train.notice.text
    studio.data.guard._set(studio.data.batch_size, 64)
    studio.train.guard._set(studio.train.head.epochs, 1)
    assert studio.start() is None
    assert "batch_size between 1 and 16" in studio.train.notice.text


def test_check_limits_for_resumed_configs(studio, tiny_config, tmp_path):
    cfg = studio.config
    studio.check_limits(cfg)
    cfg.phases[0].epochs = 4
    with pytest.raises(PanelError, match="head epochs \\(workshop limit\\) between 1 and 3"):
        studio.check_limits(cfg)
    cfg.phases[0].epochs = 1
    cfg.model.backbone = "resnet50"
    with pytest.raises(PanelError, match="one of 'demo_cnn', 'mobilenet_v2'"):
        studio.check_limits(cfg)
    cfg.model.backbone = "demo_cnn"
    cfg.data.source, cfg.data.path = "folder", str(tmp_path)
    with pytest.raises(PanelError, match="inside the data roots"):
        studio.check_limits(cfg)


def test_disallowed_default_backbone_is_replaced(workshop_file, tmp_path, data_root):
    from tl_widgets.studio import Studio

    path = tmp_path / "only-mobilenet.yaml"
    path.write_text(f"data_roots: [{str(data_root)!r}]\nallowed_backbones: [mobilenet_v2]\n"
                    "max_epochs: 2\nmax_batch_size: 8\n", encoding="utf-8")
    studio = Studio(workshop=load_workshop(path))
    assert studio.backbone.backbone == "mobilenet_v2"
    assert "backbone 'demo_cnn' -> 'mobilenet_v2'" in studio.notice.text
    assert studio.config.model.backbone == "mobilenet_v2"
