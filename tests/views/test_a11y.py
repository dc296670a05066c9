"""AccessibilityHelper and the chart's accessible name (the browser side is tested in tests/browser/test_accessibility.py)."""

from __future__ import annotations

from tl_widgets.core.i18n import current_language, set_language
from tl_widgets.views.widgets.a11y import AccessibilityHelper
from tl_widgets.views.widgets.chart import PlotlyChart


def test_helper_is_invisible_and_ships_its_browser_side():
    helper = AccessibilityHelper()
    assert helper.layout.display == "none"
    assert "tlw-a11y" in helper._dom_classes
    esm, css = str(helper._esm), str(helper._css)
    assert "nameControls" in esm and "aria-label" in esm and "Collapse-header" in esm
    assert ".jupyter-button.mod-success" in css and "focus-visible" in css


def test_range_words_follow_the_language():
    before = current_language()
    try:
        set_language("en")
        assert AccessibilityHelper().texts == {"lower": "from", "upper": "to"}
    finally:
        set_language(before)


def test_chart_label_is_synced():
    chart = PlotlyChart(height=100, label="Loss by epoch")
    assert chart.label == "Loss by epoch"
    assert chart.get_state()["label"] == "Loss by epoch"
    assert PlotlyChart(height=100).label == ""
