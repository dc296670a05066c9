"""The backbone preset entry: what the registry keeps about one backbone.

A :class:`BackboneSpec` is one keyed entry of the backbone registry, in the
style of keras-hub's presets: its name and family, how to build it without its
top, the input sizes it accepts, its size and ImageNet accuracy, the
preprocessing its weights expect and the block rule that names its layer
groups for freezing. Preset modules (:mod:`tl_widgets.core.models.keras_app_presets`,
:mod:`tl_widgets.core.models.demo_backbone`) build entries; the registry
(:mod:`tl_widgets.core.models.backbones`) registers and looks them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tl_widgets.core.models.blocks import BLOCK_RULES, Block, BlockRule, infer_blocks, split_blocks

__all__ = ["BackboneSpec", "PREPROCESS_MODES", "WeightsUnavailableError"]

# Preprocessing modes: how raw 0-255 RGB becomes what the backbone expects.
#   "tf":    x / 127.5 - 1
#   "torch": x / 255, then ImageNet mean/std per channel
#   "caffe": RGB -> BGR, minus ImageNet BGR means
#   "none":  the backbone has its preprocessing built in (EfficientNet, ConvNeXt, MobileNetV3)
PREPROCESS_MODES = ("tf", "torch", "caffe", "none")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights (an ImageNet file, a keras-hub preset) are not cached and cannot be downloaded."""


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone.

    Attributes:
        name: Registry name (snake case), e.g. ``"mobilenet_v2"``.
        family: Block-rule family (see :data:`tl_widgets.core.models.blocks.BLOCK_RULES`).
        builder: ``builder(input_shape=..., weights=...)`` returning a Keras model
            without its classification top.
        default_size: Default square input size.
        min_size: Smallest input size the architecture accepts.
        params: Parameter count with the ImageNet top, from the Keras docs.
        top1: ImageNet top-1 accuracy in percent, from the Keras docs (None
            when not published).
        preprocess: One of ``"tf"``, ``"torch"``, ``"caffe"``, ``"none"``.
        pretrained: What ``weights="pretrained"`` means: ``"imagenet"`` or a
            path to a bundled weights file.
        description: One line for tables.
        model_file: For custom backbones, the model file they come from.
        block_rule: How layer names map to named blocks. Defaults to the
            family's rule in ``BLOCK_RULES``; None (no rule for the family)
            infers blocks from layer-name prefixes.
    """

    name: str
    family: str | None
    builder: Callable[..., Any] = field(repr=False, compare=False)
    default_size: int
    min_size: int
    params: int
    top1: float | None
    preprocess: str
    pretrained: str = "imagenet"
    description: str = ""
    model_file: str | None = None
    block_rule: BlockRule | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.block_rule is None and self.family is not None:
            object.__setattr__(self, "block_rule", BLOCK_RULES.get(self.family))

    def blocks(self, model: Any) -> list[Block]:
        """Returns the named blocks of a model built from this spec."""
        names = [layer.name for layer in model.layers]
        if self.block_rule is None:
            return infer_blocks(names)
        return split_blocks(names, self.block_rule)

    def as_row(self) -> dict[str, Any]:
        """A plain dict for tables (panels, CLI)."""
        return {
            "name": self.name,
            "family": self.family or "custom",
            "params_m": round(self.params / 1e6, 1),
            "top1": self.top1,
            "default_size": self.default_size,
            "min_size": self.min_size,
            "pretrained": "imagenet" if self.pretrained == "imagenet" else "bundled",
            "description": self.description,
        }
