"""Named blocks: groups of consecutive layers of a backbone, used for freezing.

Every layer of a backbone belongs to exactly one block and blocks keep the
layer order, so "freeze up to block N" and "unfreeze the top N blocks" are
well defined. Keras applications name their layers consistently per family
(``block_3_expand`` in MobileNetV2, ``conv4_block2_out`` in ResNet50,
``block5a_...`` in EfficientNet); two rule kinds cover them all:

- **prefix rules** map a layer name to a block name; layers that match no rule
  (Keras' auto-named ``add_3``, ``activation_17``...) join the current block;
- **boundary rules** close the current block at a named layer (Inception's
  ``mixed3`` concatenation ends the block ``mixed3``).

Custom models fall back to the text before the first ``_``/``/`` of each
layer name, merged down to at most :data:`MAX_INFERRED_BLOCKS` blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

__all__ = ["Block", "BlockRule", "split_blocks", "infer_blocks", "BLOCK_RULES", "MAX_INFERRED_BLOCKS"]

MAX_INFERRED_BLOCKS = 24


@dataclass(frozen=True)
class Block:
    """A named run of consecutive layers.

    Attributes:
        name: Block name, unique within a backbone.
        layers: Layer names in model order.
    """

    name: str
    layers: tuple[str, ...]


@dataclass(frozen=True)
class BlockRule:
    """How one backbone family names its blocks.

    Attributes:
        prefix: Regex list of ``(pattern, template)``: a layer whose name
            matches ``pattern`` starts/continues block ``template`` (formatted
            with the match groups, ``{0}`` being the whole match).
        boundary: Like ``prefix`` but the matching layer *closes* the block
            with that name; layers after the last boundary form ``top``.
        first: Name of the block holding layers before any rule matches.
    """

    prefix: tuple[tuple[str, str], ...] = ()
    boundary: tuple[tuple[str, str], ...] = ()
    first: str = "stem"


def _match(rules: Sequence[tuple[re.Pattern[str], str]], name: str) -> str | None:
    for pattern, template in rules:
        m = pattern.match(name)
        if m:
            return template.format(m.group(0), *m.groups())
    return None


def _compile(rules: tuple[tuple[str, str], ...]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(p), t) for p, t in rules]


def split_blocks(layer_names: Sequence[str], rule: BlockRule) -> list[Block]:
    """Splits ``layer_names`` into consecutive named blocks by ``rule``.

    A block name that would appear twice (a layer of an earlier block coming
    after a later one) is never re-opened: such a layer stays in the current
    block, so blocks are always consecutive and names unique.

    Args:
        layer_names: The backbone's layer names in model order.
        rule: The family's naming rule.

    Returns:
        Blocks covering every layer exactly once, in order.
    """
    prefix = _compile(rule.prefix)
    boundary = _compile(rule.boundary)
    groups: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    current: list[str] = []
    current_name = rule.first
    for name in layer_names:
        if prefix:
            key = _match(prefix, name)
            if key is not None and key != current_name and key not in seen:
                if current:
                    groups.append((current_name, current))
                    seen.add(current_name)
                current, current_name = [], key
        current.append(name)
        if boundary:
            closing = _match(boundary, name)
            if closing is not None and closing not in seen:
                groups.append((closing, current))
                seen.add(closing)
                current, current_name = [], "top"
    if current:
        name = current_name
        if name in seen:  # trailing layers after a closed block of the same name
            name = f"{name}_rest"
        groups.append((name, current))
    return [Block(n, tuple(ls)) for n, ls in groups]


def infer_blocks(layer_names: Sequence[str], max_blocks: int = MAX_INFERRED_BLOCKS) -> list[Block]:
    """Infers blocks of a custom model from layer-name prefixes.

    Consecutive layers sharing the text before the first ``_`` or ``/`` form
    a block; when that gives more than ``max_blocks``, neighbouring blocks are
    merged into ``max_blocks`` roughly even groups (named ``first..last``).
    """
    if max_blocks < 1:
        raise ValueError(f"Expected max_blocks >= 1. Received: max_blocks={max_blocks}")
    rule = BlockRule(prefix=((r"^([^_/]+)", "{1}"),), first="input")
    blocks = split_blocks(layer_names, rule)
    if len(blocks) <= max_blocks:
        return blocks
    merged: list[Block] = []
    per = len(blocks) / max_blocks
    for i in range(max_blocks):
        part = blocks[round(i * per): round((i + 1) * per)]
        if not part:
            continue
        name = part[0].name if len(part) == 1 else f"{part[0].name}..{part[-1].name}"
        merged.append(Block(name, tuple(layer for b in part for layer in b.layers)))
    return merged


# Family rules of keras.applications (layer naming as of Keras 3.15). A preset that is not a
# keras.applications family (the demo backbone) carries its own rule in its registry entry.
BLOCK_RULES: dict[str, BlockRule] = {
    "vgg": BlockRule(prefix=((r"^(block\d+)_", "{1}"),)),
    "resnet": BlockRule(prefix=((r"^(conv\d)_", "{1}"), (r"^pool1_", "conv1"), (r"^post_", "top"))),
    "densenet": BlockRule(
        prefix=(
            (r"^(conv\d)_", "{1}"),
            (r"^pool1$", "conv1"),
            (r"^pool(\d)_", "transition{1}"),
            (r"^(bn|relu)$", "top"),
        )
    ),
    "xception": BlockRule(prefix=((r"^(block\d+)_", "{1}"),)),
    "inception_v3": BlockRule(boundary=((r"^(mixed\d+)$", "{1}"),)),
    "inception_resnet_v2": BlockRule(
        boundary=(
            (r"^(mixed_5b|mixed_6a|mixed_7a)$", "{1}"),
            (r"^block35_10_ac$", "block35"),
            (r"^block17_20_ac$", "block17"),
            (r"^block8_10_conv$", "block8"),
        )
    ),
    "mobilenet": BlockRule(prefix=((r"^conv_(?:dw|pw|pad)_(\d+)", "block_{1}"),)),
    "mobilenet_v2": BlockRule(
        prefix=((r"^expanded_conv_", "block_0"), (r"^(block_\d+)_", "{1}"), (r"^(Conv_1|out_relu)", "top"))
    ),
    "mobilenet_v3": BlockRule(
        prefix=(
            (r"^expanded_conv_(\d+)_", "block_{1}"),
            (r"^expanded_conv_", "block_0"),
            (r"^conv_1", "top"),
        )
    ),
    "nasnet": BlockRule(
        boundary=(
            (r"^normal_concat_(\d+)$", "cell_{1}"),
            (r"^reduction_concat_(stem_\d+|reduce_\d+)$", "cell_{1}"),
        )
    ),
    "efficientnet": BlockRule(prefix=((r"^(block\d)", "{1}"), (r"^top_", "top"))),
    "convnext": BlockRule(
        prefix=((r"^.*_(stage_\d)_", "{1}"), (r"^.*_downsampling_block_(\d)", "downsample_{1}"), (r"^layer_normalization", "top"))
    ),
}


def blocks_for(family: str | None, layer_names: Sequence[str]) -> list[Block]:
    """Returns the blocks of a model of ``family`` (or inferred when None)."""
    if family is None or family not in BLOCK_RULES:
        return infer_blocks(layer_names)
    return split_blocks(layer_names, BLOCK_RULES[family])


BlockFn = Callable[[Sequence[str]], list[Block]]
