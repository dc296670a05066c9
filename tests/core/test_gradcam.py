"""Tests of Grad-CAM: target layer found in every backbone family; a real heatmap on the demo model."""

from __future__ import annotations

import numpy as np
import pytest

from tl_widgets.core.models.backbones import build_backbone, list_backbones
from tl_widgets.core.evaluation.gradcam import colorize, find_target_layer, gradcam, overlay_heatmap


def _one_per_family():
    seen: dict[str, object] = {}
    for spec in list_backbones():
        if spec.model_file is None:
            # The cheapest member of each family (fewest parameters).
            if spec.family not in seen or spec.params < seen[spec.family].params:
                seen[spec.family] = spec
    return sorted(seen.values(), key=lambda s: s.family)


#: The families whose Grad-CAM check takes longest (3-8 s each): in the slow tier.
SLOW_FAMILIES = {"nasnet", "inception_resnet_v2", "mobilenet_v3"}


@pytest.mark.parametrize("spec", [pytest.param(s, marks=pytest.mark.slow) if s.family in SLOW_FAMILIES else s
                                  for s in _one_per_family()], ids=lambda s: s.family)
def test_target_layer_found_for_every_family(spec):
    import keras

    backbone = build_backbone(spec, spec.min_size, None)
    name = find_target_layer(backbone)
    layer = backbone.get_layer(name)
    assert len(layer.output.shape) == 4
    # It is the last 4-D output: no later layer has a 4-D output.
    later = backbone.layers[backbone.layers.index(layer) + 1:]
    assert all(len(getattr(lay.output, "shape", ())) != 4 for lay in later)
    keras.backend.clear_session()


def test_every_family_is_covered():
    families = {s.family for s in list_backbones() if s.model_file is None}
    assert {s.family for s in _one_per_family()} == families
    assert {"demo", "resnet", "efficientnet", "convnext", "mobilenet_v3"} <= families


def test_non_convolutional_backbone_is_refused():
    import keras

    inputs = keras.Input((8,))
    dense = keras.Model(inputs, keras.layers.Dense(4)(inputs), name="mlp")
    with pytest.raises(ValueError, match="4-D feature map.*'mlp'"):
        find_target_layer(dense)


@pytest.fixture(scope="module")
def demo_model():
    from tl_widgets.core.config.schema import ModelConfig
    from tl_widgets.core.models.assembly import build_model

    return build_model(ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32), 5).model


def test_gradcam_on_the_demo_model(demo_model):
    from tl_widgets.core.data.demo_datasets import demo_arrays

    x = demo_arrays("digits", "target")[0][:4].astype("float32")
    if x.shape[1] != 32:
        import keras

        x = np.asarray(keras.ops.image.resize(x, (32, 32)), np.float32)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    result = gradcam(demo_model, x)
    assert result.layer == "block4_relu"
    assert result.heatmaps.shape == (4, 32, 32) and result.overlays.shape == (4, 32, 32, 3)
    assert result.overlays.dtype == np.uint8
    assert np.all(result.heatmaps >= 0) and np.all(result.heatmaps <= 1)
    assert np.allclose(result.heatmaps.reshape(4, -1).max(1)[result.heatmaps.reshape(4, -1).max(1) > 0], 1.0)
    probs = np.asarray(demo_model.predict_on_batch(x))
    assert result.predicted == probs.argmax(1).tolist() == result.class_indices
    assert result.probabilities == pytest.approx(probs.max(1).tolist(), abs=1e-5)
    # Explaining another class gives another map.
    other = gradcam(demo_model, x, class_index=(probs.argmax(1)[0] + 1) % 5)
    assert other.class_indices[0] != result.class_indices[0]
    assert not np.allclose(other.heatmaps[0], result.heatmaps[0])
    with pytest.raises(ValueError, match="class_index in \\[0, 4\\]"):
        gradcam(demo_model, x, class_index=7)
    with pytest.raises(ValueError, match=r"Expected images of shape \[N, 32, 32, 3\]"):
        gradcam(demo_model, np.zeros((1, 48, 48, 3)))
    with pytest.raises(ValueError, match="Received: layer_name='nope'"):
        gradcam(demo_model, x, layer_name="nope")


def test_overlay_and_colors():
    heat = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    colours = colorize(heat)
    assert colours.shape == (4, 4, 3) and colours.dtype == np.uint8
    assert colours[0, 0, 2] > colours[0, 0, 0] and colours[-1, -1, 0] > colours[-1, -1, 2]  # blue low, red high
    img = np.full((4, 4, 3), 100, np.uint8)
    assert np.array_equal(overlay_heatmap(img, heat, alpha=0.0), img)
    with pytest.raises(ValueError, match="alpha=2"):
        overlay_heatmap(img, heat, alpha=2)
