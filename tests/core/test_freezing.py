from __future__ import annotations

import math

import pytest

from tl_widgets.core.models.backbones import build_backbone, get_backbone
from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.core.models.facts import describe_freeze
from tl_widgets.core.models.freezing import FreezeError, FreezePlan


def _count(weights) -> int:
    return sum(int(math.prod(w.shape)) for w in weights)


@pytest.fixture(scope="module")
def mnv2():
    spec = get_backbone("mobilenet_v2")
    model = build_backbone(spec, 32, None)
    return model, spec.blocks(model)


@pytest.mark.parametrize(
    "cfg",
    [
        FreezeConfig(mode="all"),
        FreezeConfig(mode="none"),
        FreezeConfig(mode="none", train_batchnorm=True),
        FreezeConfig(mode="top", top_n=3),
        FreezeConfig(mode="up_to", block="block_10"),
        FreezeConfig(mode="all", overrides={"block_16": True, "Conv_1": True}),
    ],
)
def test_report_matches_keras_counts(mnv2, cfg):
    model, blocks = mnv2
    rep = FreezePlan(cfg).apply(model, blocks)
    # The backbone's facts (plain data a thin seat computes from, no Keras) give the same report, block by block,
    # and the same layer graph as Keras' own graph of the frozen model.
    from tl_widgets.core.models.facts import backbone_facts
    from tl_widgets.core.models.graph import layer_graph

    facts = backbone_facts("mobilenet_v2", 32)
    assert facts.freeze_report(cfg).to_dict() == rep.to_dict()
    keras_graph, facts_graph = layer_graph(model), facts.graph(cfg)
    # (auto-generated names such as the input layer's differ between two builds of one backbone)
    assert [(n.kind, n.params, n.trainable_params) for n in facts_graph.nodes] == \
        [(n.kind, n.params, n.trainable_params) for n in keras_graph.nodes]
    assert len(facts_graph.edges) == len(keras_graph.edges)
    assert rep.trainable_params == _count(model.trainable_weights)
    assert rep.frozen_params == _count(model.non_trainable_weights)
    assert rep.trainable_params + rep.frozen_params == model.count_params()


def test_modes_pick_the_right_blocks(mnv2):
    model, blocks = mnv2
    names = [b.name for b in blocks]
    rep = FreezePlan(FreezeConfig(mode="top", top_n=2)).apply(model, blocks)
    states = {b.name: b.trainable for b in rep.blocks}
    # BatchNorm stays frozen by default, so a trainable block with a BatchNorm layer reads "mixed".
    assert states[names[-1]] in (True, "mixed") and states[names[-2]] in (True, "mixed")
    assert rep.blocks[-1].trainable_params > 0 and rep.blocks[-2].trainable_params > 0
    assert all(states[n] is False for n in names[:-2])
    rep = FreezePlan(FreezeConfig(mode="up_to", block="block_10")).apply(model, blocks)
    idx = names.index("block_10")
    assert all(b.trainable is False for b in rep.blocks[: idx + 1])
    assert all(b.trainable in (True, "mixed") for b in rep.blocks[idx + 1:] if b.trainable_params + b.frozen_params)


def test_batchnorm_stays_frozen_by_default(mnv2):
    import keras

    model, blocks = mnv2
    FreezePlan(FreezeConfig(mode="none")).apply(model, blocks)
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and not any(l.trainable for l in bns)
    FreezePlan(FreezeConfig(mode="none", train_batchnorm=True)).apply(model, blocks)
    assert all(l.trainable for l in bns)


def test_layer_override_beats_block(mnv2):
    model, blocks = mnv2
    FreezePlan(FreezeConfig(mode="all", overrides={"block_16_project": True})).apply(model, blocks)
    assert model.get_layer("block_16_project").trainable
    assert not model.get_layer("block_16_expand").trainable


@pytest.mark.parametrize(
    "cfg, match",
    [
        (FreezeConfig(mode="up_to", block="block_99"), "block_99"),
        (FreezeConfig(mode="top", top_n=999), "top_n=999"),
        (FreezeConfig(mode="all", overrides={"nope": True}), "'nope'"),
    ],
)
def test_bad_plans_are_refused(mnv2, cfg, match):
    model, blocks = mnv2
    with pytest.raises(FreezeError, match=match):
        FreezePlan(cfg).apply(model, blocks)


def test_describe_freeze_for_panels():
    rep = describe_freeze("demo_cnn", None, FreezeConfig(mode="top", top_n=1))
    assert [b.name for b in rep.blocks] == ["stem", "block1", "block2", "block3", "block4"]
    assert rep.blocks[-1].trainable == "mixed" and rep.blocks[0].trainable is False  # block4_bn stays frozen
    assert rep.blocks[-1].trainable_params > 0 and rep.blocks[-2].trainable_params == 0
    d = rep.to_dict()
    assert d["trainable_params"] == rep.trainable_params > 0
