"""Grad-CAM heatmaps for the assembled classifier (nested backbone).

The target layer is the last layer of the nested ``backbone`` with a 4-D
output (the last convolutional feature map), found automatically for every
registered family. The gradient model is rebuilt from the inner layers:
backbone input -> [target feature map, backbone output], and the outer
model's preprocessing and head layers are applied around it, so the nested
backbone needs no flattening. Gradients use TensorFlow's ``GradientTape``
(imported lazily); other Keras backends get a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["GradCamResult", "find_target_layer", "gradcam", "overlay_heatmap", "colorize"]


@dataclass
class GradCamResult:
    """Grad-CAM output for a batch of images.

    Attributes:
        layer: Name of the backbone layer the maps come from.
        heatmaps: float32 ``[N, S, S]`` in 0..1 at the model's input size.
        overlays: uint8 ``[N, S, S, 3]``: the image blended with the coloured heatmap.
        class_indices: The class each map explains.
        probabilities: The model's probability of that class per image.
        predicted: The model's top-1 class per image.
    """

    layer: str
    heatmaps: np.ndarray
    overlays: np.ndarray
    class_indices: list[int]
    probabilities: list[float]
    predicted: list[int]


def _rank(layer: Any) -> int | None:
    try:
        out = layer.output
    except (AttributeError, ValueError):  # a layer used several times has no single output
        return None
    shape = getattr(out, "shape", None)
    return None if shape is None else len(shape)


def find_target_layer(backbone: Any) -> str:
    """The name of the last layer of ``backbone`` with a 4-D (feature map) output.

    Raises:
        ValueError: The backbone has no 4-D layer output (not convolutional).
    """
    import keras

    for layer in reversed(backbone.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if _rank(layer) == 4:
            return layer.name
    raise ValueError(
        f"Expected a convolutional backbone with a 4-D feature map for Grad-CAM. Received: {backbone.name!r} "
        "with no 4-D layer output"
    )


def _chain(model: Any, backbone_name: str) -> tuple[list[Any], Any, list[Any]]:
    """Splits a linear classifier into (layers before, backbone, layers after)."""
    import keras

    before: list[Any] = []
    after: list[Any] = []
    backbone = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.name == backbone_name:
            backbone = layer
        elif backbone is None:
            before.append(layer)
        else:
            after.append(layer)
    if backbone is None:
        raise ValueError(
            f"Expected a model with a nested layer named {backbone_name!r}. Received layers: "
            f"{[layer.name for layer in model.layers]}"
        )
    for layer in before + after:
        if len(getattr(layer, "_inbound_nodes", [])) > 1:
            raise ValueError(f"Expected a chain of layers around the backbone. Received: {layer.name!r} shared")
    return before, backbone, after


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """Maps 0..1 values to a blue-cyan-yellow-red palette (uint8 RGB, same leading shape)."""
    h = np.clip(np.asarray(heatmap, np.float32), 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4 * h - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * h - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * h - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blends a coloured ``[S, S]`` heatmap over an ``[S, S, 3]`` 0-255 image (uint8 out)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected 0 <= alpha <= 1. Received: alpha={alpha}")
    img = np.clip(np.asarray(image, np.float32), 0, 255)
    blend = (1 - alpha) * img + alpha * colorize(heatmap).astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def gradcam(
    model: Any,
    images: Any,
    *,
    class_index: int | Sequence[int] | None = None,
    layer_name: str | None = None,
    backbone_name: str = "backbone",
    alpha: float = 0.45,
) -> GradCamResult:
    """Grad-CAM maps for ``images`` from the assembled classifier.

    Args:
        model: The assembled model (raw 0-255 RGB in, probabilities out) with a
            nested backbone layer.
        images: ``[N, S, S, 3]`` (or one ``[S, S, 3]``) raw 0-255 images at the model's input size.
        class_index: The class to explain (one for all, one per image), or None
            for each image's predicted class.
        layer_name: A backbone layer with a 4-D output (default: found automatically).
        backbone_name: Name of the nested backbone layer.
        alpha: Heatmap opacity in the overlays.

    Raises:
        RuntimeError: The Keras backend is not TensorFlow.
        ValueError: Bad images, class indices or layer.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"Expected the TensorFlow Keras backend for Grad-CAM. Received: KERAS_BACKEND={keras.backend.backend()!r}"
        )
    import tensorflow as tf

    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = x[None]
    size = tuple(model.input_shape[1:3])
    if x.ndim != 4 or x.shape[1:] != size + (3,):
        raise ValueError(f"Expected images of shape [N, {size[0]}, {size[1]}, 3]. Received: {x.shape}")
    before, backbone, after = _chain(model, backbone_name)
    name = layer_name or find_target_layer(backbone)
    try:
        target = backbone.get_layer(name)
    except ValueError as exc:
        raise ValueError(f"Expected a layer of {backbone.name!r}. Received: layer_name={name!r}") from exc
    if _rank(target) != 4:
        raise ValueError(f"Expected a layer with a 4-D output. Received: {name!r} with rank {_rank(target)}")
    grad_model = keras.Model(backbone.inputs, [target.output, backbone.output])
    n_cls = int(model.output_shape[-1])

    inputs = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        h = inputs
        for layer in before:
            h = layer(h)
        fmap, feats = grad_model(h, training=False)
        tape.watch(fmap)
        out = feats
        for layer in after:
            out = layer(out, training=False)
        probs = out
        predicted = tf.argmax(probs, axis=1, output_type=tf.int32).numpy()
        if class_index is None:
            idx = predicted
        else:
            idx = np.broadcast_to(np.asarray(class_index, np.int32), (len(x),)).copy()
        if idx.min() < 0 or idx.max() >= n_cls:
            raise ValueError(f"Expected class_index in [0, {n_cls - 1}]. Received: {class_index!r}")
        score = tf.gather(probs, idx, axis=1, batch_dims=1)
    grads = tape.gradient(score, fmap)
    if grads is None:
        raise ValueError(f"Expected the output to depend on layer {name!r}. Received: no gradient")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))[..., None]
    cam = tf.image.resize(cam, size, method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(x), -1).max(axis=1).reshape(-1, 1, 1)
    heat = np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)
    overlays = np.stack([overlay_heatmap(img, hm, alpha) for img, hm in zip(x, heat)])
    p = probs.numpy()
    return GradCamResult(
        layer=name,
        heatmaps=heat,
        overlays=overlays,
        class_indices=[int(i) for i in idx],
        probabilities=[float(p[i, c]) for i, c in enumerate(idx)],
        predicted=[int(i) for i in predicted],
    )
