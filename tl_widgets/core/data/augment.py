"""Augmentation with Keras preprocessing layers, and a deterministic preview.

The layers work on images in 0..255 (the pipelines' range) under every Keras
backend. Use :func:`build_augmenter` inside a model (it is only active in
training), or :func:`augment_dataset` to apply it in a ``tf.data`` pipeline.

Random crop is Keras' ``RandomCrop`` to ``(1 - crop)`` of each side followed by
``Resizing`` back to the image size (so the model's input size is unchanged);
Keras picks one crop window per batch. The colour layers (``RandomHue``,
``RandomSaturation``, ``RandomColorJitter``) need RGB images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tl_widgets.core.config.schema import AugmentConfig

__all__ = ["build_augmenter", "augmentation_layers", "preview_augmentations", "augment_dataset"]


def augmentation_layers(cfg: AugmentConfig, seed: int | None = None,
                        image_size: tuple[int, int] | None = None) -> list[Any]:
    """The enabled Keras layers for ``cfg``, in a fixed order (each seeded from ``seed``).

    Args:
        cfg: Which augmentations and how strong.
        seed: Seed for the layers' random generators (None: unseeded).
        image_size: ``(height, width)`` of the images; needed by the random
            crop (which resizes its window back to this size).

    Raises:
        ValueError: ``cfg.crop > 0`` without an ``image_size``.
    """
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
    if cfg.crop > 0:
        if image_size is None or len(image_size) != 2 or not all(isinstance(v, int) and v > 0 for v in image_size):
            raise ValueError("Expected image_size=(height, width) in pixels for the random crop. "
                             f"Received: image_size={image_size!r}")
        h, w = image_size
        ch, cw = max(1, round(h * (1 - cfg.crop))), max(1, round(w * (1 - cfg.crop)))
        layers.append(keras.layers.RandomCrop(ch, cw, seed=s(7), name="aug_crop"))
        layers.append(keras.layers.Resizing(h, w, name="aug_crop_resize"))
    if cfg.hue > 0:
        layers.append(keras.layers.RandomHue(cfg.hue, value_range=(0, 255), seed=s(8), name="aug_hue"))
    if cfg.saturation > 0:
        # RandomSaturation's factor is a range in [0, 1] around 0.5 (no change): map strength s to 0.5 ± s/2.
        lo, hi = 0.5 - cfg.saturation / 2, 0.5 + cfg.saturation / 2
        layers.append(keras.layers.RandomSaturation((lo, hi), value_range=(0, 255), seed=s(9), name="aug_saturation"))
    if cfg.color_jitter > 0:
        j = cfg.color_jitter
        layers.append(keras.layers.RandomColorJitter(
            value_range=(0, 255), brightness_factor=0.5 * j, contrast_factor=0.5 * j,
            saturation_factor=(0.5 - j / 2, 0.5 + j / 2), hue_factor=0.25 * j, seed=s(10), name="aug_color_jitter"))
    return layers


def build_augmenter(cfg: AugmentConfig, seed: int | None = None, image_size: tuple[int, int] | None = None) -> Any:
    """A ``keras.Sequential`` of the enabled augmentation layers, or None when none is enabled.

    Args:
        cfg: Which augmentations and how strong.
        seed: Seed for the layers' random generators (None: unseeded).
        image_size: ``(height, width)``; needed when ``cfg.crop > 0``.

    Returns:
        A ``keras.Sequential`` named ``"augmentation"`` (random only when
        called with ``training=True``), or None.
    """
    layers = augmentation_layers(cfg, seed, image_size)
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
    layers = augmentation_layers(cfg, seed, (int(rgb.shape[0]), int(rgb.shape[1])))
    if not layers:
        return np.repeat(np.clip(np.round(rgb[None].astype(np.float32)), 0, 255).astype(np.uint8), n, axis=0)
    import keras

    # One call per version: some Keras layers (RandomCrop) draw one transform per batch.
    versions = []
    for _ in range(n):
        out = keras.ops.convert_to_tensor(rgb[None].astype(np.float32))
        for layer in layers:
            out = layer(out, training=True)
        versions.append(keras.ops.convert_to_numpy(out)[0])
    return np.clip(np.round(np.stack(versions)), 0, 255).astype(np.uint8)


def augment_dataset(ds: Any, cfg: AugmentConfig, seed: int | None = None) -> Any:
    """Applies the augmentation to a batched ``tf.data`` pipeline of ``(images, labels)``.

    The layers are mapped one by one, which Keras supports inside ``tf.data``
    under every backend. Returns ``ds`` unchanged when nothing is enabled.

    Raises:
        ValueError: ``cfg.crop > 0`` and the dataset's images have no static height and width.
    """
    shape = ds.element_spec[0].shape
    size = (int(shape[1]), int(shape[2])) if len(shape) == 4 and shape[1] and shape[2] else None
    layers = augmentation_layers(cfg, seed, size)
    if not layers:
        return ds
    import tensorflow as tf

    def apply(x: Any, y: Any) -> Any:
        for layer in layers:
            x = layer(x, training=True)
        return x, y

    return ds.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
