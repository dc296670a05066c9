"""Model assembly: raw RGB in, preprocessing, backbone, head, float32 probabilities out.

The saved model takes raw 0-255 RGB images: each family's preprocessing is
built from standard Keras layers (no custom classes), so ``model.keras`` loads
with plain Keras and exports cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tl_widgets.core.models.backbones import BackboneSpec, resolve_backbone
from tl_widgets.core.config.schema import ModelConfig

__all__ = ["AssembledModel", "build_model", "preprocess_layers", "backbone_of", "input_size_for", "BACKBONE_LAYER_NAME"]

BACKBONE_LAYER_NAME = "backbone"
_IMAGENET_RGB_MEAN = (123.68, 116.779, 103.939)
_IMAGENET_RGB_STD = (58.393, 57.12, 57.375)  # 0.229/0.224/0.225 * 255


@dataclass
class AssembledModel:
    """The assembled classifier and its parts.

    Attributes:
        model: The full Keras model (raw images -> class probabilities).
        backbone: The nested backbone model (freezing acts on its layers).
        spec: The backbone's registry spec.
        input_size: Square input size.
        head_input_dim: Width of the pooled features the head sees.
    """

    model: Any
    backbone: Any
    spec: BackboneSpec
    input_size: int
    head_input_dim: int


def input_size_for(spec: BackboneSpec, cfg: ModelConfig) -> int:
    """The input size a config asks of a backbone (its default when unset).

    Raises:
        ValueError: A size below the backbone's minimum, or a custom model
            file asked for a size other than its own.
    """
    if spec.model_file is not None:
        if cfg.input_size not in (None, spec.default_size):
            raise ValueError(
                f"Expected input_size={spec.default_size} (fixed by the model file {spec.model_file!r}). "
                f"Received: input_size={cfg.input_size}"
            )
        return spec.default_size
    size = cfg.input_size or spec.default_size
    if size < spec.min_size:
        raise ValueError(
            f"Expected input_size >= {spec.min_size} for backbone {spec.name!r}. Received: input_size={size}"
        )
    return size


def preprocess_layers(mode: str) -> list[Any]:
    """Standard Keras layers turning raw 0-255 RGB into the backbone's input.

    Args:
        mode: ``"tf"``, ``"torch"``, ``"caffe"`` or ``"none"``.
    """
    import keras
    import numpy as np

    if mode == "none":
        return []
    if mode == "tf":
        return [keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")]
    if mode == "torch":
        scale = [1.0 / s for s in _IMAGENET_RGB_STD]
        offset = [-m / s for m, s in zip(_IMAGENET_RGB_MEAN, _IMAGENET_RGB_STD)]
        # Rescaling broadcasts per-channel scale/offset over the last axis.
        return [keras.layers.Rescaling(scale, offset=offset, name="preprocess")]
    if mode == "caffe":
        # RGB -> BGR and subtract the BGR means: one fixed 3x3 permutation in a frozen Dense.
        perm = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype="float32")
        bias = -np.array(_IMAGENET_RGB_MEAN[::-1], dtype="float32")
        layer = keras.layers.Dense(3, name="preprocess", trainable=False)
        layer.build((None, 3))
        layer.set_weights([perm, bias])
        return [layer]
    raise ValueError(f"Expected preprocess mode 'tf', 'torch', 'caffe' or 'none'. Received: {mode!r}")


def build_model(cfg: ModelConfig, num_classes: int, *, backbone: Any = None) -> AssembledModel:
    """Assembles the classifier for ``cfg`` with ``num_classes`` outputs.

    The backbone is called with ``training=False`` so BatchNormalization stays
    in inference mode even when its block is unfrozen; the output layer is
    float32 under mixed precision.

    Args:
        cfg: Backbone, weights, input size and head.
        num_classes: Number of classes (>= 2).
        backbone: An already built backbone to reuse (else built with weights).

    Raises:
        ValueError: Fewer than two classes or a bad input size.
        WeightsUnavailableError: ImageNet weights missing offline.
    """
    import keras

    if num_classes < 2:
        raise ValueError(f"Expected at least 2 classes. Received: num_classes={num_classes}")
    spec = resolve_backbone(cfg.backbone)
    size = input_size_for(spec, cfg)
    if backbone is None:
        from tl_widgets.core.models.weights import load_backbone

        backbone = load_backbone(spec, size, cfg.weights)
    backbone.name = BACKBONE_LAYER_NAME
    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    for layer in preprocess_layers(spec.preprocess):
        x = layer(x)
    x = backbone(x, training=False)
    if len(x.shape) == 4:
        pool = keras.layers.GlobalAveragePooling2D if cfg.pooling == "avg" else keras.layers.GlobalMaxPooling2D
        x = pool(name="pool")(x)
    elif len(x.shape) != 2:
        raise ValueError(f"Expected the backbone to output a 4-D feature map or 2-D features. Received shape {x.shape}")
    features_dim = int(x.shape[-1])
    head = head_layers(cfg, num_classes)
    for layer in head:
        x = layer(x)
    model = keras.Model(inputs, x, name=f"tl_{spec.name}")
    return AssembledModel(model=model, backbone=backbone, spec=spec, input_size=size, head_input_dim=features_dim)


def head_layers(cfg: ModelConfig, num_classes: int) -> list[Any]:
    """The classification head's layers (dropout, optional hidden dense, softmax)."""
    import keras

    layers: list[Any] = []
    if cfg.dropout > 0:
        layers.append(keras.layers.Dropout(cfg.dropout, name="head_dropout"))
    if cfg.hidden_units:
        layers.append(keras.layers.Dense(cfg.hidden_units, activation="relu", name="head_hidden"))
        if cfg.dropout > 0:
            layers.append(keras.layers.Dropout(cfg.dropout, name="head_hidden_dropout"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions"))
    return layers


def backbone_of(model: Any) -> Any:
    """Returns the nested backbone of an assembled model."""
    return model.get_layer(BACKBONE_LAYER_NAME)
