"""The model-graph figure: one marker per node, one segment per edge, coloured by the freeze plan."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_widgets import views  # noqa: E402
from tl_widgets.core.config.schema import FreezeConfig, ModelConfig, TrainConfig  # noqa: E402
from tl_widgets.core.models.facts import describe_graph  # noqa: E402
from tl_widgets.core.models.graph import layer_graph  # noqa: E402
from tl_widgets.views.figures.graph import GRAPH_COLORS  # noqa: E402


def _markers(fig):
    return {t.name: list(t.customdata) for t in fig.data if t.name in GRAPH_COLORS}


def test_config_graph_is_collapsed_coloured_and_clickable():
    cfg = TrainConfig(model=ModelConfig(backbone="demo_cnn", input_size=32), freeze=FreezeConfig(mode="top", top_n=1))
    graph, blocks = describe_graph("demo_cnn", 32, cfg.freeze)
    fig = views.model_graph(cfg)
    markers = _markers(fig)
    shown = [name for names in markers.values() for name in names]
    collapsed = graph.collapse(blocks)
    assert sorted(shown) == sorted(n.name for n in collapsed.nodes)
    assert blocks[-1].name in markers.get("trainable", []) + markers.get("mixed", [])
    assert blocks[1].name in markers["frozen"]
    edges = fig.data[0]
    assert list(edges.x).count(None) == len(collapsed.edges)  # one polyline per edge
    assert "parameters" in next(t for t in fig.data if t.name == "frozen").hovertext[0]
    expanded = _markers(views.model_graph(cfg, expand=[blocks[-1].name]))
    assert set(blocks[-1].layers) <= {n for names in expanded.values() for n in names}


def test_keras_model_graph_shows_every_layer():
    import keras

    model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    fig = views.model_graph(model)
    assert sum(len(v) for v in _markers(fig).values()) == len(model.layers)
    ys = [y for t in fig.data if t.name in GRAPH_COLORS for y in t.y]
    assert len(set(ys)) < len(model.layers)  # skip branches share rows: a DAG layout, not a list
    lines, line = [], []
    for x in fig.data[0].x:
        if x is None:
            lines.append(line)
            line = []
        else:
            line.append(x)
    assert len(lines) == len(layer_graph(model).edges)
    adds = sum(1 for layer in model.layers if type(layer).__name__ == "Add")
    assert sum(len(p) == 3 for p in lines) >= adds == 16  # every shortcut skips rows: drawn bent, beside the chain
    with pytest.raises(TypeError, match="Expected a keras.Model, a TrainConfig or a ModelConfig"):
        views.model_graph("resnet50")
