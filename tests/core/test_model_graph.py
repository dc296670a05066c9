"""The model graph: node and edge counts equal Keras' own layer graph; blocks collapse; frozen/trainable per plan."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_widgets.core.config.schema import FreezeConfig  # noqa: E402
from tl_widgets.core.models.facts import describe_graph  # noqa: E402
from tl_widgets.core.models.graph import layer_graph  # noqa: E402


def _keras_config_graph(model) -> tuple[int, set[tuple[str, str]]]:
    """Nodes and edges as Keras serialises the model (``get_config()['layers'][i]['inbound_nodes']``)."""
    layers = model.get_config()["layers"]
    edges: set[tuple[str, str]] = set()

    def sources(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__":
                yield obj["config"]["keras_history"][0]
            else:
                for v in obj.values():
                    yield from sources(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from sources(v)

    for layer in layers:
        for node in layer.get("inbound_nodes", []):
            for src in sources(node):
                edges.add((src, layer["config"]["name"]))
    return len(layers), edges


def _linear_cnn():
    import keras

    x = inputs = keras.Input((32, 32, 3), name="image")
    for i, filters in enumerate((8, 16)):
        x = keras.layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs, name="linear_cnn")


def test_linear_cnn_graph_is_a_chain():
    model = _linear_cnn()
    g = layer_graph(model)
    n, edges = _keras_config_graph(model)
    assert len(g.nodes) == n == 7 and set(g.edges) == edges and len(g.edges) == 6
    assert [n.kind for n in g.nodes][:2] == ["InputLayer", "Conv2D"]
    assert g.node("dense").params == 6 * 6 * 16 * 10 + 10  # 32 -> 30 -> 15 -> 13 -> 6
    assert max(g.depths().values()) == 6


def test_sequential_graph():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    g = layer_graph(model)
    assert [n.name for n in g.nodes] == ["a", "b"] and g.edges == [("a", "b")]
    with pytest.raises(TypeError, match="Expected a keras.Model"):
        layer_graph("resnet50")


@pytest.mark.parametrize("name", ["ResNet50", "InceptionV3"])
def test_keras_application_graph_matches_keras(name):
    import keras

    model = getattr(keras.applications, name)(weights=None, include_top=False, input_shape=(75, 75, 3))
    g = layer_graph(model)
    n, edges = _keras_config_graph(model)
    assert len(g.nodes) == n == len(model.layers)
    assert len(g.edges) == len(edges) and set(g.edges) == edges
    assert len(g.edges) > len(g.nodes) - 1  # skips (ResNet) and branches (Inception): not a chain
    assert sum(node.params for node in g.nodes) == model.count_params()


def test_resnet_blocks_collapse_and_expand():
    g, blocks = describe_graph("resnet50", 64, FreezeConfig(mode="top", top_n=1))
    c = g.collapse(blocks)
    assert [n.name for n in c.nodes] == [b.name for b in blocks]
    assert len(c.edges) == len(blocks) - 1  # skip connections stay inside their block
    assert c.nodes[-1].state == "mixed"  # trains, its BatchNorm layers stay frozen
    assert c.nodes[1].state == "frozen" and c.nodes[-1].trainable_params > 0
    assert sum(n.params for n in c.nodes) == sum(n.params for n in g.nodes)
    last = blocks[-1].name
    e = g.collapse(blocks, expand=[last])
    assert len(e.nodes) == len(blocks) - 1 + len(blocks[-1].layers)
    adds = [n for n in e.nodes if n.kind == "Add"]
    assert adds and all(sum(1 for a, b in e.edges if b == n.name) == 2 for n in adds)
    with pytest.raises(ValueError, match="Expected block names to expand"):
        g.collapse(blocks, expand=["nope"])


def test_inception_branches_collapse_by_block():
    g, blocks = describe_graph("inception_v3", 75, FreezeConfig(mode="all"))
    c = g.collapse(blocks)
    assert len(c.nodes) == len(blocks) and all(n.state in ("frozen", "no weights") for n in c.nodes)
    depth = g.depths()
    # Inception's branches: several layers share a depth inside a mixed block.
    assert max(list(depth.values()).count(d) for d in set(depth.values())) >= 3


def test_plain_operations_are_nodes_without_weights():
    import keras

    inputs = keras.Input((4,), name="x")
    a = keras.layers.Dense(4, name="a")(inputs)
    out = keras.layers.Dense(2, name="out")(keras.ops.add(a, inputs))  # an operation, not a layer
    model = keras.Model(inputs, out)
    g = layer_graph(model)
    n, edges = _keras_config_graph(model)
    assert len(g.nodes) == n and set(g.edges) == edges
    op = next(node for node in g.nodes if node.kind not in ("InputLayer", "Dense"))
    assert op.params == 0 and op.state == "no weights"
