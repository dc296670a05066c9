"""Every value from the browser is checked in Python: refused values are reset with a message."""

from __future__ import annotations

import datetime
import io
import os
import zipfile

import pytest

from tl_widgets.panels.kit.validation import PanelError, check_number, resolve_under_roots


def test_check_number_bounds_and_types():
    assert check_number(3, "epochs", 0, 10, integer=True) == 3
    for bad in (11, -1, 2.5, True, "3", float("nan")):
        with pytest.raises(PanelError, match="epochs"):
            check_number(bad, "epochs", 0, 10, integer=True)


def test_resolve_under_roots_refuses_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "ok").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", root / "link")
    assert resolve_under_roots(root / "ok", [root.resolve()]) == (root / "ok").resolve()
    for hostile in (root / ".." / "secret", root / "link", "/etc", "x\x00y"):
        with pytest.raises(PanelError, match="Expected"):
            resolve_under_roots(hostile, [root.resolve()])
    with pytest.raises(PanelError, match="no data roots"):
        resolve_under_roots(root / "ok", [])


def test_data_panel_refuses_hostile_values(data_root, tmp_path):
    from tl_widgets.panels.data import DataPanel

    panel = DataPanel(data_roots=[data_root])
    # The browser can raise a widget's own max: the Python bound still holds.
    panel.batch_size.max = 10**9
    panel.batch_size.value = 10**8
    assert panel.batch_size.value == 32 and "batch_size" in panel.notice.text
    panel.validation_split.max = 5.0
    panel.validation_split.value = 3.0
    assert panel.validation_split.value == 0.2
    # A folder outside the data roots, through a crafted option or '..'.
    outside = tmp_path / "outside"
    (outside / "a").mkdir(parents=True)
    panel.folder.options = [*panel.folder.options, ("x", str(outside)), ("y", str(data_root / ".." / "outside"))]
    panel.source_picker.value = "folder"
    panel.folder.value = str(outside)
    assert panel.folder.value != str(outside) and "data roots" in panel.notice.text
    panel.folder.value = str(data_root / ".." / "outside")
    assert "data roots" in panel.notice.text
    assert panel.guard.refusals >= 4


def test_data_panel_refuses_big_upload_and_bad_zip(data_root):
    from tl_widgets.panels.data import DataPanel

    panel = DataPanel(data_roots=[data_root], max_upload_bytes=1000)
    panel.upload.value = ({"name": "big.zip", "type": "application/zip", "size": 5000, "content": memoryview(b"x" * 5000),
                           "last_modified": datetime.datetime(2026, 1, 1)},)
    assert "at most" in panel.notice.text and panel.source_picker.value == "demo" and panel.path is None
    panel.max_upload_bytes = 10**6
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil/a.png", b"x")
    panel.take_zip_bytes(buf.getvalue(), "evil.zip")
    assert "Refused" in panel.notice.text and panel.path is None
    assert panel.take_zip_bytes(b"not a zip", "junk.zip") is None


def test_backbone_panel_refuses_unknown_and_small(data_root):
    from tl_widgets.panels.backbone import BackbonePanel

    panel = BackbonePanel(data_roots=[data_root])
    assert panel.backbone == "demo_cnn"
    with pytest.raises(Exception):
        panel.select.value = "evil_net"  # not an option: ipywidgets refuses it itself
    panel.size.min = 1
    panel.size.value = 8  # below demo_cnn's min size 32
    assert panel.size.value == 48 and "input_size" in panel.notice.text
    with pytest.raises(PanelError, match="model.backbone"):
        panel.backbone = "evil_net"
    panel.weights.value = "file"
    panel.weights_file.options = [*panel.weights_file.options, ("passwd", "/etc/passwd")]
    panel.weights_file.value = "/etc/passwd"
    assert panel.weights_file.value != "/etc/passwd" and "data roots" in panel.notice.text


def test_freeze_panel_refuses_unknown_blocks():
    from tl_widgets.panels.freeze import FreezePanel

    panel = FreezePanel("demo_cnn", 32)
    assert panel.blocks[0] == "stem"
    panel.mode_picker.value = "top"
    panel.top_n.max = 99
    panel.top_n.value = 50
    assert panel.top_n.value <= len(panel.blocks) and "top_n" in panel.notice.text
    with pytest.raises(PanelError, match="overrides"):
        panel.overrides = {"not_a_block": True}
    from tl_widgets.core.config.schema import FreezeConfig

    with pytest.raises(PanelError, match="freeze.block"):
        panel.set_config(FreezeConfig(mode="up_to", block="nope"))


def test_strategy_panel_refuses_unavailable():
    from tl_widgets.panels.strategy import StrategyPanel

    panel = StrategyPanel()
    unavailable = [o.kind for o in panel.options if not o.available]
    assert unavailable and all(k not in panel.allowed for k in unavailable)
    assert "unavailable" in panel.reasons.value
    from tl_widgets.core.config.schema import StrategyConfig

    with pytest.raises(PanelError, match="strategy.kind"):
        panel.set_config(StrategyConfig(kind=unavailable[0]))
    panel.logical_cpus.max = 1000
    panel.logical_cpus.value = 999
    assert panel.logical_cpus.value == 0
