"""The Freeze step's model graph: coloured by the plan, a block expands, a click toggles the block (checked input)."""

from __future__ import annotations

from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.panels.freeze import FreezePanel
from tl_widgets.views.figures.graph import GRAPH_COLORS


def _nodes(panel):
    fig = panel.graph.snapshot()
    return {name: (state["name"], x, y) for state in fig["data"] if state.get("name") in GRAPH_COLORS
            for name, x, y in zip(state["customdata"], state["x"], state["y"])}


def _click(panel, name):
    state, x, y = _nodes(panel)[name]
    trace = [t.get("name") for t in panel.graph.snapshot()["data"]].index(state)
    panel.graph._on_browser_msg(None, {"type": "click", "trace": trace, "x": x, "y": y}, [])


def test_graph_follows_the_plan_and_a_click_toggles_a_block():
    panel = FreezePanel("demo_cnn", 32, FreezeConfig(mode="all"))
    nodes = _nodes(panel)
    assert set(panel.blocks) <= set(nodes)
    assert nodes["block3"][0] == "frozen"
    _click(panel, "block3")
    assert panel.overrides == {"block3": True} and panel.toggles["block3"].value is True
    assert panel.config.overrides == {"block3": True}
    assert _nodes(panel)["block3"][0] in ("trainable", "mixed")
    _click(panel, "block3")  # again: back to the mode's state, no override left
    assert panel.overrides == {} and panel.config.overrides == {}


def test_expand_shows_layers_and_bad_clicks_are_ignored():
    panel = FreezePanel("demo_cnn", 32, FreezeConfig(mode="top", top_n=1))
    panel.graph_expand.value = "block4"
    shown = _nodes(panel)
    assert "block4" not in shown and len(shown) > len(panel.blocks)
    layer = next(n for n in shown if n.startswith("block4") or n not in panel.blocks)
    before = dict(panel.overrides)
    rejected = panel.graph.requests_rejected
    panel.graph._on_browser_msg(None, {"type": "click", "trace": 1, "x": "<script>", "y": 99}, [])
    panel.graph._on_browser_msg(None, {"type": "click", "trace": 99, "x": 0, "y": 0}, [])
    assert panel.overrides == before and panel.graph.requests_rejected == rejected + 1
    assert layer in shown
