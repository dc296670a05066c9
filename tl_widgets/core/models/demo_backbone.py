"""The demo backbone: a small CNN shipped inside the package with pretrained weights.

It is pretrained (by ``scripts/pretrain_demo_backbone.py``, which calls
:func:`pretrain_demo_backbone`) on the demo's **source** classes — digits 0-4
and four shape kinds — which are disjoint from the **target** classes the demo
trains on (digits 5-9, four other shapes). That makes the demo a real transfer
learning run, offline, in seconds on a laptop CPU.

The demo is one more preset: :data:`backbone_presets` holds its registry
entry, which :mod:`tl_widgets.core.models.backbones` registers like the
``keras.applications`` ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tl_widgets.core.i18n import N_
from tl_widgets.core.models.backbone_spec import BackboneSpec
from tl_widgets.core.models.blocks import BlockRule

__all__ = [
    "DEMO_BACKBONE",
    "DEMO_WEIGHTS",
    "DEMO_BLOCK_RULE",
    "backbone_presets",
    "build_demo_backbone",
    "pretrain_demo_backbone",
]

DEMO_BACKBONE = "demo_cnn"
DEMO_WEIGHTS = Path(__file__).parent / "assets" / "demo_cnn.weights.h5"
# Layers are named ``stem_*`` then ``block1_*``..``block4_*`` (see build_demo_backbone).
DEMO_BLOCK_RULE = BlockRule(prefix=((r"^(block\d+)_", "{1}"),))
_WIDTHS = (32, 48, 96, 128)


def build_demo_backbone(input_shape: tuple[int, int, int] = (48, 48, 3), weights: Any = None, **_: Any) -> Any:
    """Builds the demo CNN without a top: stem, then ``block1``..``block4``.

    Args:
        input_shape: ``(H, W, 3)``; any size >= 32 (it is fully convolutional).
        weights: None, or a path to a weights file (``.weights.h5``).
    """
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="demo_input")
    x = layers.Conv2D(24, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for i, width in enumerate(_WIDTHS, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"block{i}_bn")(x)
        x = layers.Activation("relu", name=f"block{i}_relu")(x)
        if i < len(_WIDTHS):
            x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    model = keras.Model(inputs, x, name="demo_cnn")
    if weights not in (None, "none"):
        model.load_weights(str(weights))
    return model


def _param_count() -> int:
    total, prev = 0, 3
    for width in (24, *_WIDTHS):
        total += 9 * prev * width + 4 * width  # conv (no bias) + batchnorm
        prev = width
    return total


# The demo's entry in the backbone registry, registered like every other preset.
backbone_presets: dict[str, BackboneSpec] = {
    DEMO_BACKBONE: BackboneSpec(
        name=DEMO_BACKBONE,
        family="demo",
        builder=build_demo_backbone,
        default_size=48,
        min_size=32,
        params=_param_count(),
        top1=None,
        preprocess="tf",
        pretrained=str(DEMO_WEIGHTS),
        description=N_("small CNN bundled with tl_widgets, pretrained on the demo's source classes"),
        block_rule=DEMO_BLOCK_RULE,
    ),
}


def pretrain_demo_backbone(
    out: str | Path = DEMO_WEIGHTS, *, epochs: int = 12, size: int = 48, seed: int = 0
) -> dict[str, float]:
    """Pretrains the demo backbone on the source classes and saves its weights.

    Args:
        out: Where to write the backbone's ``.weights.h5``.
        epochs: Training epochs.
        size: Training image size.
        seed: Random seed (data and initialisation).

    Returns:
        Final training and validation accuracy on the source classes.
    """
    import keras
    import numpy as np

    from tl_widgets.core.data import demo_datasets as demo_data
    from tl_widgets.core.fileio import atomic_save

    keras.utils.set_random_seed(seed)
    xd, yd, dn = demo_data.digits_arrays("source", size=size)
    xs, ys, sn = demo_data.shapes_arrays("source", n_per_class=300, size=size, seed=seed + 1)
    x = np.concatenate([xd, xs]).astype("float32")
    y = np.concatenate([yd, ys + len(dn)])
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    backbone = build_demo_backbone((size, size, 3))
    inputs = keras.Input((size, size, 3))
    h = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    aug = keras.Sequential(
        [keras.layers.RandomTranslation(0.1, 0.1, seed=seed), keras.layers.RandomRotation(0.05, seed=seed)]
    )
    h = aug(h)
    h = backbone(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(len(dn) + len(sn), activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.15, verbose=2)
    atomic_save(out, lambda tmp: backbone.save_weights(str(tmp)))
    return {"accuracy": float(hist.history["accuracy"][-1]), "val_accuracy": float(hist.history["val_accuracy"][-1])}
