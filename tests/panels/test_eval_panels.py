"""Tests of the evaluation and export panels (no browser): instantiate, click, read the widgets."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from tl_widgets.panels.evaluate import EvaluatePanel
from tl_widgets.panels.export import ExportPanel
from tl_widgets.views.widgets.chart import PlotlyChart


@pytest.fixture(scope="module")
def result(trained_demo_result):
    """The tiny demo run shared by the suite (see tests/conftest.py)."""
    return trained_demo_result


def test_evaluate_panel_shows_figures(result):
    panel = EvaluatePanel(result)
    assert panel.run_dir == result.run_dir and panel.figures.children == ()
    panel.button.click()
    panel.wait(300)
    assert panel.error is None, panel.error
    charts = panel.figures.children
    assert len(charts) == 4 and all(isinstance(c, PlotlyChart) for c in charts)  # the 4th: reliability diagram
    assert "Reliability diagram" in charts[3].snapshot()["layout"]["title"]["text"]
    assert "ECE" in panel.summary.value and "temperature" in panel.summary.value
    heat = charts[0].snapshot()["data"][0]
    assert sum(map(sum, heat["z"])) == panel.report.count
    assert "accuracy" in panel.summary.value
    panel.view.value = "normalised"
    z = panel.figures.children[0].snapshot()["data"][0]["z"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in z if sum(row) > 0)
    with pytest.raises(TraitError):  # the browser can send anything: refused in Python, value kept
        panel.view.value = "sideways"
    assert panel.view.value == "normalised"
    if panel.report.top_losses:
        assert not panel.gradcam_button.disabled
        panel.gradcam_button.click()
        panel.wait(300)
        assert panel.error is None, panel.error
        assert panel.gradcam_result.overlays.shape[0] == len(panel.report.top_losses)
        assert len(panel.figures.children) == 5  # + Grad-CAM


def test_evaluate_panel_bad_source(tmp_path):
    with pytest.raises(ValueError, match="Expected a run folder or a RunResult"):
        EvaluatePanel(None)
    panel = EvaluatePanel(tmp_path / "missing")
    panel.start()
    panel.wait(60)
    assert "Expected a run folder" in panel.error and "Expected a run folder" in panel.notice.value


def test_export_panel(result):
    panel = ExportPanel(result.run_dir)
    with pytest.raises(TraitError):
        panel.format.value = "pdf"
    assert panel.format.value == "tflite"
    panel.format.value = "tflite-int8"
    panel.script.value = True
    panel.button.click()
    panel.wait(300)
    assert panel.error is None, panel.error
    report = panel.reports["tflite-int8"]
    assert report.ok and report.verification["top1_agreement"] >= 0.95
    assert "tflite-int8" in panel.table.value and "ok" in panel.table.value
    assert "tl-widgets train" in panel.notice.value
    assert not panel.button.disabled
