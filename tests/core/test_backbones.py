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
BIG = {"nasnet_large", "efficientnet_v2_l", "convnext_large", "convnext_xlarge", "efficientnet_b7", "resnet152",
       "resnet152_v2", "inception_resnet_v2", "efficientnet_v2_m", "convnext_base", "vgg19", "efficientnet_b6"}
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


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in sorted(FAMILIES | {"demo_cnn"})],
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
