"""The model's computation graph as a Plotly figure: layers (or blocks) as nodes, connections as edges.

Laid out as a DAG (each node one row below its deepest input), so ResNet's
skip connections and Inception's branches read as they are; coloured
frozen / trainable / mixed, with parameter counts on hover. Each node's
``customdata`` is its name, so a click tells which block was hit (the Freeze
step toggles that block's training with it).
"""

from __future__ import annotations

from typing import Any, Iterable

import plotly.graph_objects as go

from tl_widgets.core.i18n import N_, _
from tl_widgets.core.models.graph import ModelGraph

__all__ = ["model_graph", "graph_figure", "graph_positions", "GRAPH_COLORS"]

#: Node colour per training state.
GRAPH_COLORS = {"trainable": "#f28e2b", "mixed": "#edc948", "frozen": "#8c9aab", "no weights": "#d9d9d9"}  # as the layer map
#: The training states as the legend shows them (msgid: the English state).
STATE_LABELS = {"trainable": N_("trainable"), "mixed": N_("mixed"), "frozen": N_("frozen"),
                "no weights": N_("no weights")}


def graph_positions(graph: ModelGraph) -> dict[str, tuple[float, float]]:
    """Node name -> ``(x, y)`` in the figure: one row per DAG depth (top down), each row centred on x = 0."""
    depth = graph.depths()
    rows: dict[int, list[str]] = {}
    for node in graph.nodes:
        rows.setdefault(depth[node.name], []).append(node.name)
    pos: dict[str, tuple[float, float]] = {}
    for d, names in rows.items():
        for i, name in enumerate(names):
            pos[name] = (i - (len(names) - 1) / 2, float(-d))
    return pos


def graph_figure(graph: ModelGraph, title: str = "", height: int | None = None) -> go.Figure:
    """Draws a :class:`ModelGraph` top to bottom.

    Args:
        graph: Nodes and edges (e.g. ``layer_graph(model).collapse(blocks)``).
        title: Figure title.
        height: Pixels (None: grows with the graph's depth).
    """
    depth = graph.depths()
    pos = graph_positions(graph)
    ex: list[float | None] = []
    ey: list[float | None] = []
    for a, b in graph.edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        if abs(y0 - y1) > 1:  # a skip over rows: bend it to the side so it does not hide under the chain
            ex += [x0, max(x0, x1) + 0.6, x1, None]
            ey += [y0, (y0 + y1) / 2, y1, None]
        else:
            ex += [x0, x1, None]
            ey += [y0, y1, None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#9a9a9a", "width": 1}, hoverinfo="skip",
                             showlegend=False, name="edges"))
    few = len(graph.nodes) <= 40
    for state, color in GRAPH_COLORS.items():
        nodes = [n for n in graph.nodes if n.state == state]
        if not nodes:
            continue
        label = _(STATE_LABELS[state])
        hover = [f"<b>{n.name}</b> ({n.kind}"
                 + (_(", {n} layers").format(n=len(n.layers)) if n.kind == "Block" else "") + ")<br>"
                 + _("{params:,} parameters, {trainable:,} trainable").format(params=n.params,
                                                                               trainable=n.trainable_params)
                 + f"<br>{label}" for n in nodes]
        fig.add_trace(go.Scatter(
            x=[pos[n.name][0] for n in nodes], y=[pos[n.name][1] for n in nodes], name=label,
            mode="markers+text" if few else "markers", text=[n.name for n in nodes], textposition="middle right",
            customdata=[n.name for n in nodes], hovertext=hover, hoverinfo="text",
            marker={"color": color, "size": [18 if n.kind == "Block" else 10 for n in nodes], "symbol": "square",
                    "line": {"color": "#333", "width": 1}},
        ))
    max_depth = max(depth.values(), default=0)
    half = max((abs(x) for x, _ in pos.values()), default=0.0) + 1.5  # narrow graphs stay narrow
    fig.update_layout(
        title={"text": title} if title else None, height=height or min(1600, max(260, 60 + 34 * (max_depth + 1))),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}, hovermode="closest",
        xaxis={"visible": False, "range": [-half, half + 1.0]}, yaxis={"visible": False}, legend={"orientation": "h", "y": 1.02, "x": 0},
        plot_bgcolor="white",
    )
    return fig


def model_graph(model_or_config: Any, expand: Iterable[str] = (), collapsed: bool = True) -> go.Figure:
    """The computation graph of a Keras model, or of a config's backbone under its freeze plan.

    The figure's ``layout.height`` grows with the graph's depth: show it with
    ``PlotlyChart(fig, height=fig.layout.height)`` (or ``fig.show()``).

    Args:
        model_or_config: A ``keras.Model``, a ``TrainConfig`` (backbone and freeze plan), or a ``ModelConfig``
            (backbone, everything frozen).
        expand: Blocks shown as their layers (configs only).
        collapsed: Show blocks (configs) instead of every layer.

    Raises:
        TypeError: Anything else.
    """
    from tl_widgets.core.config.schema import ModelConfig, TrainConfig
    from tl_widgets.core.models.facts import describe_graph
    from tl_widgets.core.models.graph import layer_graph

    if isinstance(model_or_config, (TrainConfig, ModelConfig)):
        model_cfg = model_or_config.model if isinstance(model_or_config, TrainConfig) else model_or_config
        freeze = model_or_config.freeze if isinstance(model_or_config, TrainConfig) else None
        graph, blocks = describe_graph(model_cfg.backbone, model_cfg.input_size, freeze)
        if collapsed:
            graph = graph.collapse(blocks, expand)
        return graph_figure(graph, title=_("{name}: {nodes} nodes, {edges} edges").format(
            name=model_cfg.backbone, nodes=len(graph.nodes), edges=len(graph.edges)))
    if type(model_or_config).__module__.startswith("keras") or hasattr(model_or_config, "_operations"):
        graph = layer_graph(model_or_config)
        return graph_figure(graph, title=_("{name}: {nodes} layers, {edges} edges").format(
            name=model_or_config.name, nodes=len(graph.nodes), edges=len(graph.edges)))
    raise TypeError("Expected a keras.Model, a TrainConfig or a ModelConfig. "
                    f"Received: {type(model_or_config).__name__}")
