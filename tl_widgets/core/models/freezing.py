"""`FreezePlan`: which backbone blocks train, with guard rails.

A plan acts on blocks (see :mod:`tl_widgets.core.models.blocks`): freeze all,
freeze up to block N, unfreeze the top N blocks, or train everything; per-block
or per-layer overrides win over the mode; BatchNormalization layers stay frozen
unless ``train_batchnorm`` is set (fine-tuning their statistics on small data is
what costs the Keras guide its accuracy). The report gives trainable and frozen
parameter counts per block, computed from the layers' own weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from tl_widgets.core.models.blocks import Block
from tl_widgets.core.config.schema import FreezeConfig

__all__ = ["FreezePlan", "FreezeError", "BlockReport", "FreezeReport", "on_weightless_backbone", "count_params", "is_batchnorm"]

_T = TypeVar("_T")


class FreezeError(ValueError):
    """A freeze plan names a block or layer that does not exist."""


@dataclass
class BlockReport:
    """Parameters of one block under a plan.

    Attributes:
        name: Block name.
        n_layers: Layers in the block.
        trainable_params: Parameters that will train.
        frozen_params: Parameters that won't (incl. BatchNorm statistics).
        trainable: True, False, or ``"mixed"`` when only some layers train.
    """

    name: str
    n_layers: int
    trainable_params: int
    frozen_params: int
    trainable: bool | str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FreezeReport:
    """Per-block and total parameter counts of a backbone under a plan."""

    blocks: list[BlockReport] = field(default_factory=list)
    head_params: int = 0

    @property
    def trainable_params(self) -> int:
        """Backbone parameters that train."""
        return sum(b.trainable_params for b in self.blocks)

    @property
    def frozen_params(self) -> int:
        """Backbone parameters that stay fixed."""
        return sum(b.frozen_params for b in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [b.to_dict() for b in self.blocks],
            "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params,
            "head_params": self.head_params,
        }


def is_batchnorm(layer: Any) -> bool:
    """True for a Keras BatchNormalization layer."""
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def count_params(weights: list[Any]) -> int:
    """The number of values in ``weights`` (from shapes: nothing is read from the device)."""
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


class FreezePlan:
    """Decides, for each backbone layer, whether it trains.

    Example:

    >>> plan = FreezePlan(FreezeConfig(mode="top", top_n=2))
    """

    def __init__(self, cfg: FreezeConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else FreezeConfig()

    @classmethod
    def freeze_all(cls) -> FreezePlan:
        """Backbone fully frozen (train the head only)."""
        return cls(FreezeConfig(mode="all"))

    @classmethod
    def unfreeze_top(cls, n: int) -> FreezePlan:
        """The top ``n`` blocks train."""
        return cls(FreezeConfig(mode="top", top_n=n))

    @classmethod
    def freeze_up_to(cls, block: str) -> FreezePlan:
        """Blocks up to and including ``block`` are frozen; the rest train."""
        return cls(FreezeConfig(mode="up_to", block=block))

    def block_states(self, blocks: list[Block]) -> dict[str, bool]:
        """Block name -> trainable, before per-layer overrides and BatchNorm.

        Raises:
            FreezeError: ``block`` or an override names no block or layer.
        """
        names = [b.name for b in blocks]
        cfg = self.cfg
        if cfg.mode == "all":
            states = {n: False for n in names}
        elif cfg.mode == "none":
            states = {n: True for n in names}
        elif cfg.mode == "top":
            if cfg.top_n > len(names):
                raise FreezeError(
                    f"Expected top_n <= {len(names)} (the backbone's block count). Received: top_n={cfg.top_n}"
                )
            cut = len(names) - cfg.top_n
            states = {n: i >= cut for i, n in enumerate(names)}
        else:  # up_to
            if cfg.block not in names:
                raise FreezeError(f"Expected a block name, one of {names}. Received: block={cfg.block!r}")
            cut = names.index(cfg.block)
            states = {n: i > cut for i, n in enumerate(names)}
        layer_names = {layer for b in blocks for layer in b.layers}
        for name, value in cfg.overrides.items():
            if name in states:
                states[name] = bool(value)
            elif name not in layer_names:
                raise FreezeError(
                    f"Expected overrides to name a block or a layer of the backbone. Received: {name!r}"
                )
        return states

    def layer_states(self, backbone: Any, blocks: list[Block]) -> dict[str, bool]:
        """Layer name -> trainable under this plan (overrides and BatchNorm applied) for a Keras backbone."""
        return self.states_for([(layer.name, is_batchnorm(layer)) for layer in backbone.layers], blocks)

    def states_for(self, layers: list[tuple[str, bool]], blocks: list[Block]) -> dict[str, bool]:
        """Layer name -> trainable under this plan, from ``(layer name, is BatchNorm)`` in model order.

        Raises:
            FreezeError: The plan names an unknown block or layer.
        """
        states = self.block_states(blocks)
        out: dict[str, bool] = {}
        for block in blocks:
            for name in block.layers:
                out[name] = states[block.name]
        for name, value in self.cfg.overrides.items():
            if name in out and name not in states:
                out[name] = bool(value)
        if not self.cfg.train_batchnorm:
            for name, batchnorm in layers:
                if batchnorm and name not in self.cfg.overrides:
                    out[name] = False
        return out

    def apply(self, backbone: Any, blocks: list[Block]) -> FreezeReport:
        """Sets ``trainable`` on every backbone layer; returns the report.

        ``trainable`` changes take effect at the next ``compile()``: the
        session recompiles before every phase.
        """
        states = self.layer_states(backbone, blocks)
        backbone.trainable = True
        for layer in backbone.layers:
            layer.trainable = states.get(layer.name, False)
        return report(backbone, blocks)

    def to_config(self) -> FreezeConfig:
        return self.cfg


def report(backbone: Any, blocks: list[Block]) -> FreezeReport:
    """Per-block parameter counts as the layers' ``trainable`` flags stand."""
    by_name = {layer.name: layer for layer in backbone.layers}
    out = FreezeReport()
    for block in blocks:
        trainable = frozen = 0
        flags = set()
        for name in block.layers:
            layer = by_name[name]
            t = count_params(layer.trainable_weights)
            trainable += t
            frozen += count_params(layer.non_trainable_weights)
            if layer.weights:
                flags.add(bool(t))
        state: bool | str = "mixed" if len(flags) > 1 else (flags.pop() if flags else False)
        out.blocks.append(BlockReport(block.name, len(block.layers), trainable, frozen, state))
    return out


# A small cache of weightless backbones for reports the panels ask for.
_DESCRIBE_CACHE: OrderedDict[tuple[str, int], tuple[Any, list[Block]]] = OrderedDict()
_DESCRIBE_LOCK = threading.Lock()


def on_weightless_backbone(backbone: str, input_size: int | None, cfg: FreezeConfig,
                           read: Callable[[Any, list[Block]], _T]) -> _T:
    """Applies ``cfg`` to the cached weightless backbone and returns ``read(model, blocks)``, under the cache's lock.

    The model is shared (built once per backbone and size, two kept): ``read``
    must not keep it. The layer graph view reads it this way.

    Raises:
        FreezeError: The plan names an unknown block or layer.
    """
    from tl_widgets.core.models.backbones import build_backbone, resolve_backbone

    spec = resolve_backbone(backbone)
    size = input_size or spec.default_size
    key = (spec.name if spec.model_file is None else spec.model_file, size)
    with _DESCRIBE_LOCK:
        if key not in _DESCRIBE_CACHE:
            model = build_backbone(spec, size, None)
            _DESCRIBE_CACHE[key] = (model, spec.blocks(model))
            while len(_DESCRIBE_CACHE) > 2:
                _DESCRIBE_CACHE.popitem(last=False)
        model, blocks = _DESCRIBE_CACHE[key]
        FreezePlan(cfg).apply(model, blocks)
        return read(model, blocks)
