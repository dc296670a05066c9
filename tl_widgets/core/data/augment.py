"""Augmentation with Keras preprocessing layers, and a deterministic preview.

The layers work on images in 0..255 (the pipelines' range) under every Keras
backend. Use :func:`build_augmenter` inside a model (it is only active in
training), or :func:`augment_dataset` to apply it in a ``tf.data`` pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tl_widgets.core.config.schema import AugmentConfig

__all__ = ["build_augmenter", "augmentation_layers", "preview_augmentations", "augment_dataset"]


def augmentation_layers(cfg: AugmentConfig, seed: int | None = None) -> list[Any]:
    """The enabled Keras layers for ``cfg``, in a fixed order (each seeded from ``seed``)."""
    import keras

    def s(k: int) -> int | None:
        return None if seed is None else int(seed) * 10 + k

    layers: list[Any] = []
    if cfg.flip != "none":
        layers.append(keras.layers.RandomFlip(cfg.flip, seed=s(1), name="aug_flip"))
    if cfg.rotation > 0:
        layers.append(keras.layers.RandomRotation(cfg.rotation, fill_mode="reflect", seed=s(2), name="aug_rotation"))
    if cfg.zoom > 0:
        layers.append(keras.layers.RandomZoom((-cfg.zoom, cfg.zoom), fill_mode="reflect", seed=s(3), name="aug_zoom"))
    if cfg.translation > 0:
        layers.append(
            keras.layers.RandomTranslation(
                cfg.translation, cfg.translation, fill_mode="reflect", seed=s(4), name="aug_translation"
            )
        )
    if cfg.contrast > 0:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=(0, 255), seed=s(5), name="aug_contrast"))
    if cfg.brightness > 0:
        layers.append(
            keras.layers.RandomBrightness(cfg.brightness, value_range=(0, 255), seed=s(6), name="aug_brightness")
        )
    return layers


def build_augmenter(cfg: AugmentConfig, seed: int | None = None) -> Any:
    """A ``keras.Sequential`` of the enabled augmentation layers, or None when none is enabled.

    Args:
        cfg: Which augmentations and how strong.
        seed: Seed for the layers' random generators (None: unseeded).

    Returns:
        A ``keras.Sequential`` named ``"augmentation"`` (random only when
        called with ``training=True``), or None.
    """
    layers = augmentation_layers(cfg, seed)
    if not layers:
        return None
    import keras

    return keras.Sequential(layers, name="augmentation")


def preview_augmentations(image: np.ndarray, cfg: AugmentConfig, n: int = 8, seed: int = 0) -> np.ndarray:
    """``n`` augmented versions of one image, for the data panel's gallery.

    Args:
        image: ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]``, uint8 or
            float in 0..255.
        cfg: The augmentation settings.
        n: How many versions.
        seed: The same seed gives the same pictures.

    Returns:
        ``uint8 [n, H, W, 3]``. With no augmentation enabled, ``n`` copies.

    Raises:
        ValueError: On an image of an unsupported shape, or ``n < 1``.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Expected an image shaped [H, W] or [H, W, 1|3|4]. Received: shape {np.shape(image)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Expected n >= 1. Received: n={n!r}")
    rgb = np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr[..., :3]
    batch = np.repeat(rgb[None].astype(np.float32), n, axis=0)
    layers = augmentation_layers(cfg, seed)
    if not layers:
        return np.clip(np.round(batch), 0, 255).astype(np.uint8)
    import keras

    out = keras.ops.convert_to_tensor(batch)
    for layer in layers:
        out = layer(out, training=True)
    result = keras.ops.convert_to_numpy(out)
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


def augment_dataset(ds: Any, cfg: AugmentConfig, seed: int | None = None) -> Any:
    """Applies the augmentation to a batched ``tf.data`` pipeline of ``(images, labels)``.

    The layers are mapped one by one, which Keras supports inside ``tf.data``
    under every backend. Returns ``ds`` unchanged when nothing is enabled.
    """
    layers = augmentation_layers(cfg, seed)
    if not layers:
        return ds
    import tensorflow as tf

    def apply(x: Any, y: Any) -> Any:
        for layer in layers:
            x = layer(x, training=True)
        return x, y

    return ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
