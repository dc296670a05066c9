"""A backbone's facts: its layers, blocks, parameter counts and graph — enough to describe any freeze plan.

Building a backbone needs Keras; describing a freeze plan on it does not.
:func:`backbone_facts` builds the weightless backbone once (in the engine) and
reads, per layer, its class, its parameters and how many of them train when
the layer trains, plus its blocks and the layer graph's edges. A
:class:`BackboneFacts` is plain data: a seat that never imports TensorFlow
asks the engine for it once per backbone and size, then answers every move of
the freeze slider itself (:meth:`BackboneFacts.freeze_report`,
:meth:`BackboneFacts.graph`). The Studio's panels and the CLI read freeze
reports only through here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.core.models.blocks import Block
from tl_widgets.core.models.freezing import BlockReport, FreezePlan, FreezeReport, count_params
from tl_widgets.core.models.graph import GraphNode, ModelGraph

__all__ = ["LayerFacts", "BackboneFacts", "backbone_facts", "describe_freeze", "describe_graph", "block_names"]


@dataclass(frozen=True)
class LayerFacts:
    """One backbone layer.

    Attributes:
        name: Layer name.
        kind: Its class name (``Conv2D``, ...).
        params: All its parameters.
        trainable_params: Those that train when the layer trains (BatchNorm statistics never do).
        batchnorm: A BatchNormalization layer (kept frozen unless the plan trains BatchNorm).
    """

    name: str
    kind: str
    params: int
    trainable_params: int
    batchnorm: bool = False


@dataclass(frozen=True)
class BackboneFacts:
    """A backbone at one input size: layers in model order, blocks and graph edges.

    Attributes:
        backbone: The registered name (or model file).
        input_size: The square input side these facts are for.
        layers: Every layer, in model order (what a freeze plan sets).
        blocks: The named blocks used for freezing.
        nodes: The layer graph's nodes in model order: the layers and the plain operations between them.
        edges: The layer graph's connections ``(source, destination)``.
    """

    backbone: str
    input_size: int
    layers: tuple[LayerFacts, ...]
    blocks: tuple[Block, ...]
    nodes: tuple[LayerFacts, ...] = field(default=())
    edges: tuple[tuple[str, str], ...] = field(default=())

    @property
    def block_names(self) -> list[str]:
        """Block names, in order."""
        return [b.name for b in self.blocks]

    def layer_states(self, plan: FreezeConfig) -> dict[str, bool]:
        """Layer name -> trainable under ``plan`` (FreezeError for a plan naming an unknown block or layer)."""
        return FreezePlan(plan).states_for([(layer.name, layer.batchnorm) for layer in self.layers],
                                           list(self.blocks))

    def freeze_report(self, plan: FreezeConfig) -> FreezeReport:
        """Per-block parameters under ``plan``: what training would apply to the real model."""
        states = self.layer_states(plan)
        by_name = {layer.name: layer for layer in self.layers}
        out = FreezeReport()
        for block in self.blocks:
            trainable = frozen = 0
            flags = set()
            for name in block.layers:
                layer = by_name[name]
                t = layer.trainable_params if states.get(name, False) else 0
                trainable += t
                frozen += layer.params - t
                if layer.params:
                    flags.add(bool(t))
            state: bool | str = "mixed" if len(flags) > 1 else (flags.pop() if flags else False)
            out.blocks.append(BlockReport(block.name, len(block.layers), trainable, frozen, state))
        return out

    def graph(self, plan: FreezeConfig | None = None) -> ModelGraph:
        """The layer graph under ``plan`` (None: every layer as it trains), one node per layer."""
        states = self.layer_states(plan or FreezeConfig())
        nodes = [GraphNode(node.name, node.kind, node.params,
                           node.trainable_params if states.get(node.name, False) else 0, (node.name,))
                 for node in self.nodes]
        return ModelGraph(nodes=nodes, edges=list(self.edges))


_CACHE: OrderedDict[tuple[str, int], BackboneFacts] = OrderedDict()
_LOCK = threading.Lock()
_KEEP = 16


def backbone_facts(backbone: str, input_size: int | None = None) -> BackboneFacts:
    """The facts of a registered backbone (or model file) at ``input_size`` (None: its default), cached.

    Builds the backbone without weights the first time (Keras needed here, not
    by the caller of the facts).

    Raises:
        KeyError: Unknown backbone.
    """
    from tl_widgets.core.models.backbones import resolve_backbone
    from tl_widgets.core.models.freezing import on_weightless_backbone

    spec = resolve_backbone(backbone)
    size = int(input_size or spec.default_size)
    key = (spec.name if spec.model_file is None else spec.model_file, size)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]

    def read(model: Any, blocks: list[Block]) -> BackboneFacts:
        from tl_widgets.core.models.freezing import is_batchnorm
        from tl_widgets.core.models.graph import layer_graph

        model.trainable = True
        for layer in model.layers:
            layer.trainable = True
        layers = tuple(LayerFacts(layer.name, type(layer).__name__, count_params(layer.weights),
                                  count_params(layer.trainable_weights), is_batchnorm(layer))
                       for layer in model.layers)
        graph = layer_graph(model)  # every layer trainable: each node's trainable_params is "when it trains"
        nodes = tuple(LayerFacts(n.name, n.kind, n.params, n.trainable_params) for n in graph.nodes)
        return BackboneFacts(backbone, size, layers, tuple(blocks), nodes, tuple(graph.edges))

    facts = on_weightless_backbone(backbone, size, FreezeConfig(mode="none"), read)
    with _LOCK:
        _CACHE[key] = facts
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    return facts


def describe_freeze(backbone: str, input_size: int | None, cfg: FreezeConfig) -> FreezeReport:
    """The per-block report of ``cfg`` on a backbone, without weights.

    Raises:
        FreezeError: The plan names an unknown block or layer.
    """
    return backbone_facts(backbone, input_size).freeze_report(cfg)


def describe_graph(backbone: str, input_size: int | None, cfg: FreezeConfig | None = None
                   ) -> tuple[ModelGraph, list[Block]]:
    """A backbone's layer graph under a freeze plan, without weights, and its blocks.

    Raises:
        FreezeError: The plan names an unknown block or layer.
    """
    facts = backbone_facts(backbone, input_size)
    return facts.graph(cfg), list(facts.blocks)


def block_names(backbone: str, input_size: int | None = None) -> list[str]:
    """The block names of a backbone, in order."""
    return backbone_facts(backbone, input_size).block_names
