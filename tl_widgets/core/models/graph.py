"""The model as a computation graph: Keras' own layer graph, collapsible to blocks.

:func:`layer_graph` reads a Keras model's layers (nodes) and their
connections (edges) the way ``keras.utils.model_to_dot`` does: a Functional
model's operations and the inbound nodes that belong to it, a Sequential
model's chain. :meth:`ModelGraph.collapse` groups the layers of each freeze
block (see :mod:`tl_widgets.core.models.blocks`) into one node, optionally
keeping some blocks expanded. :func:`describe_graph` gives a registered
backbone's graph under a freeze plan without weights or downloads (the same
weightless backbone the freeze report uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.core.models.blocks import Block
from tl_widgets.core.models.freezing import count_params

__all__ = ["GraphNode", "ModelGraph", "layer_graph"]


@dataclass(frozen=True)
class GraphNode:
    """One node: a layer, or a block of layers.

    Attributes:
        name: Layer name, or block name for a collapsed block.
        kind: The layer's class name (``Conv2D``...), or ``"Block"``.
        params: All parameters (trainable and not).
        trainable_params: Parameters that train.
        layers: The layer names the node stands for.
        block: The freeze block the node belongs to (None: outside every block).
    """

    name: str
    kind: str
    params: int
    trainable_params: int
    layers: tuple[str, ...]
    block: str | None = None

    @property
    def state(self) -> str:
        """``"trainable"``, ``"frozen"``, ``"mixed"`` or ``"no weights"``."""
        if self.params == 0:
            return "no weights"
        if self.trainable_params == 0:
            return "frozen"
        return "trainable" if self.trainable_params == self.params else "mixed"


@dataclass
class ModelGraph:
    """Nodes in model order and directed edges ``(source, destination)`` between node names."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def node(self, name: str) -> GraphNode:
        """The node called ``name`` (KeyError when there is none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"Expected a node of the graph. Received: {name!r}")

    def depths(self) -> dict[str, int]:
        """Node name -> longest path from a source (the DAG's layer), for layouts."""
        preds: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for a, b in self.edges:
            preds[b].append(a)
        depth: dict[str, int] = {}
        for n in self.nodes:  # model order is a topological order
            depth[n.name] = 1 + max((depth.get(p, 0) for p in preds[n.name]), default=-1)
        return depth

    def collapse(self, blocks: list[Block], expand: Iterable[str] = ()) -> ModelGraph:
        """One node per block (layers outside every block stay); edges between different nodes, once.

        Args:
            blocks: The freeze blocks (``BackboneSpec.blocks(model)``).
            expand: Block names shown as their layers instead.

        Raises:
            ValueError: ``expand`` names no block.
        """
        names = [b.name for b in blocks]
        unknown = sorted(set(expand) - set(names))
        if unknown:
            raise ValueError(f"Expected block names to expand, some of {names}. Received: {unknown[0]!r}")
        keep = set(expand)
        owner = {layer: b.name for b in blocks for layer in b.layers}
        group = {n.name: (n.name if owner.get(n.name) in keep or n.name not in owner else owner[n.name])
                 for n in self.nodes}
        out = ModelGraph()
        members: dict[str, list[GraphNode]] = {}
        for n in self.nodes:
            members.setdefault(group[n.name], []).append(n)
        for name, nodes in members.items():
            if len(nodes) == 1 and nodes[0].name == name:
                n = nodes[0]
                out.nodes.append(GraphNode(n.name, n.kind, n.params, n.trainable_params, n.layers, owner.get(n.name)))
            else:
                out.nodes.append(GraphNode(name, "Block", sum(m.params for m in nodes),
                                           sum(m.trainable_params for m in nodes),
                                           tuple(layer for m in nodes for layer in m.layers), name))
        seen: set[tuple[str, str]] = set()
        for a, b in self.edges:
            edge = (group[a], group[b])
            if edge[0] != edge[1] and edge not in seen:
                seen.add(edge)
                out.edges.append(edge)
        return out


def layer_graph(model: Any) -> ModelGraph:
    """Keras' own layer graph of ``model``: one node per layer, one edge per connection.

    Args:
        model: A built Functional or Sequential Keras model (a subclassed
            model is one node, as in ``keras.utils.model_to_dot``).

    Raises:
        TypeError: ``model`` is not a Keras model.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")

    def node_of(layer: Any) -> GraphNode:
        # A Functional model may hold plain operations (``keras.ops`` calls such as Add): no weights.
        return GraphNode(layer.name, type(layer).__name__, count_params(getattr(layer, "weights", [])),
                         count_params(getattr(layer, "trainable_weights", [])), (layer.name,))

    graph = ModelGraph()
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        graph.nodes = [node_of(layer) for layer in layers]
        graph.edges = [(a.name, b.name) for a, b in zip(layers, layers[1:])]
        return graph
    if not hasattr(model, "_operations"):
        graph.nodes = [node_of(model)]
        return graph
    ops = list(model._operations)
    graph.nodes = [node_of(op) for op in ops]
    seen: set[tuple[str, str]] = set()
    from keras.src.models.functional import make_node_key

    for op in ops:
        for index, node in enumerate(op._inbound_nodes):
            if make_node_key(op, index) not in model._nodes:
                continue
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation
                if source is None:
                    continue
                edge = (source.name, op.name)
                if edge not in seen:
                    seen.add(edge)
                    graph.edges.append(edge)
    return graph
