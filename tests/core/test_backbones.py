from __future__ import annotations

import gc

import pytest

from tl_widgets.core.models.backbones import (
    UnknownBackboneError,
    build_backbone,
    custom_backbone_spec,
    get_backbone,
    list_backbones,
)

FAMILIES = {
    "xception", "vgg16", "vgg19", "resnet50", "resnet101", "resnet152", "resnet50_v2", "resnet101_v2",
    "resnet152_v2", "inception_v3", "inception_resnet_v2", "mobilenet", "mobilenet_v2", "mobilenet_v3_small",
    "mobilenet_v3_large", "densenet121", "densenet169", "densenet201", "nasnet_mobile", "nasnet_large",
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"efficientnet_v2_{s}" for s in ("b0", "b1", "b2", "b3", "s", "m", "l")),
    *(f"convnext_{s}" for s in ("tiny", "small", "base", "large", "xlarge")),
}
# Block names users rely on (issue text and docs).
EXPECTED_BLOCKS = {
    "mobilenet_v2": ["block_1", "block_16", "top"],
    "resnet50": ["conv1", "conv2", "conv3", "conv4", "conv5"],
    "efficientnet_b0": ["block1", "block7", "top"],
    "inception_v3": ["mixed0", "mixed10"],
    "vgg16": ["block1", "block5"],
    "convnext_tiny": ["stage_0", "stage_3"],
    "demo_cnn": ["stem", "block1", "block4"],
}


def test_registry_has_every_keras_family():
    names = {s.name for s in list_backbones()}
    assert FAMILIES <= names
    assert "demo_cnn" in names
    spec = get_backbone("MobileNet-V2")
    assert spec.name == "mobilenet_v2" and spec.top1 == 71.3 and spec.preprocess == "tf"


def test_unknown_name_suggests():
    with pytest.raises(UnknownBackboneError, match="Did you mean: mobilenet_v2"):
        get_backbone("mobilenet_v22")


@pytest.mark.parametrize(  # the fast tier builds the backbones whose block names users rely on; the rest are slow
    "name",
    [n if n in EXPECTED_BLOCKS else pytest.param(n, marks=pytest.mark.slow) for n in sorted(FAMILIES | {"demo_cnn"})],
)
def test_builds_at_min_size_and_blocks_cover_all_layers_in_order(name):
    spec = get_backbone(name)
    model = build_backbone(spec, spec.min_size, None)
    blocks = spec.blocks(model)
    flat = [layer for b in blocks for layer in b.layers]
    assert flat == [layer.name for layer in model.layers]
    assert len({b.name for b in blocks}) == len(blocks), "block names must be unique"
    assert len(blocks) >= 4, [b.name for b in blocks]
    for expected in EXPECTED_BLOCKS.get(name, []):
        assert expected in [b.name for b in blocks], (expected, [b.name for b in blocks])
    del model
    gc.collect()


def test_below_min_size_is_refused():
    spec = get_backbone("inception_v3")
    with pytest.raises(ValueError, match="input_size >= 75"):
        build_backbone(spec, 64, None)


def test_custom_backbone_from_model_file(tmp_path):
    import keras

    inputs = keras.Input((40, 40, 3))
    x = keras.layers.Conv2D(4, 3, name="stage1_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, name="stage1_conv2")(x)
    x = keras.layers.Conv2D(8, 3, name="stage2_conv")(x)
    keras.Model(inputs, x).save(tmp_path / "mine.keras")
    spec = custom_backbone_spec(str(tmp_path / "mine.keras"))
    assert spec.default_size == 40 and spec.params > 0
    model = build_backbone(spec, 40, None)
    assert [b.name for b in spec.blocks(model)][1:] == ["stage1", "stage2"]
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        custom_backbone_spec(str(tmp_path / "missing.keras"))


def _toy_spec(name: str, **overrides):
    from tl_widgets.core.models.backbone_spec import BackboneSpec
    from tl_widgets.core.models.demo_backbone import build_demo_backbone

    fields = dict(name=name, family="demo", builder=build_demo_backbone, default_size=48, min_size=32, params=1,
                  top1=None, preprocess="tf")
    fields.update(overrides)
    return BackboneSpec(**fields)


def test_presets_are_keyed_entries_registered_and_listed(monkeypatch):
    from tl_widgets.core.models import backbones
    from tl_widgets.core.models.blocks import BLOCK_RULES
    from tl_widgets.core.models.demo_backbone import DEMO_BLOCK_RULE, backbone_presets as demo_presets
    from tl_widgets.core.models.keras_app_presets import backbone_presets as keras_presets

    assert set(keras_presets) == FAMILIES and all(key == spec.name for key, spec in keras_presets.items())
    assert keras_presets["resnet50"].block_rule is BLOCK_RULES["resnet"]
    # The demo is one more entry: registered the same way, carrying its own block rule.
    assert list(demo_presets) == ["demo_cnn"] and demo_presets["demo_cnn"].block_rule is DEMO_BLOCK_RULE
    assert get_backbone("demo_cnn") is demo_presets["demo_cnn"]
    assert get_backbone("resnet50") is keras_presets["resnet50"]

    monkeypatch.setattr(backbones, "_REGISTRY", dict(backbones._REGISTRY))
    added = backbones.register_presets({"toy_net": _toy_spec("toy_net", params=2)})
    assert [s.name for s in added] == ["toy_net"]
    assert get_backbone("Toy-Net") is added[0]
    assert [s.name for s in list_backbones("demo")] == ["toy_net", "demo_cnn"]  # sorted by params
    with pytest.raises(ValueError, match="'toy_net' is already registered"):
        backbones.register(_toy_spec("toy_net"))
    with pytest.raises(ValueError, match="keyed by its name. Received: key 'other' for 'toy_net2'"):
        backbones.register_presets({"other": _toy_spec("toy_net2")})
    with pytest.raises(ValueError, match="Expected preprocess in .*Received: 'bgr'"):
        backbones.register(_toy_spec("toy_net3", preprocess="bgr"))
    with pytest.raises(ValueError, match="min_size <= default_size. Received: min_size=64, default_size=48"):
        backbones.register(_toy_spec("toy_net4", min_size=64))
    assert "toy_net2" not in {s.name for s in list_backbones()}


def test_an_entry_without_a_family_rule_infers_blocks():
    spec = _toy_spec("toy_custom", family=None)
    assert spec.block_rule is None
    model = build_backbone(spec, 32, None)
    assert [b.name for b in spec.blocks(model)] == ["demo", "stem", "block1", "block2", "block3", "block4"]
