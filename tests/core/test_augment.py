"""Augmentation: the layers built from a config, a deterministic preview, tf.data use."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_widgets.core.data.augment import augment_dataset, build_augmenter, preview_augmentations  # noqa: E402
from tl_widgets.core.config.schema import AugmentConfig  # noqa: E402

FULL = AugmentConfig(flip="horizontal", rotation=0.1, zoom=0.2, translation=0.1, contrast=0.3, brightness=0.2)


def _image() -> np.ndarray:
    img = np.zeros((24, 24, 3), np.uint8)
    img[4:12, 4:20] = (250, 40, 40)
    img[12:20, 8:16] = (20, 200, 60)
    return img


def test_build_augmenter_layers() -> None:
    assert build_augmenter(AugmentConfig()) is None
    aug = build_augmenter(FULL, seed=1)
    names = [type(layer).__name__ for layer in aug.layers]
    assert names == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness"]
    only_flip = build_augmenter(AugmentConfig(flip="vertical"))
    assert [type(layer).__name__ for layer in only_flip.layers] == ["RandomFlip"]
    assert tuple(aug.layers[-1].get_config()["value_range"]) == (0, 255)
    assert tuple(aug.layers[-2].get_config()["value_range"]) == (0, 255)


def test_preview_is_deterministic_and_changes_the_image() -> None:
    img = _image()
    a = preview_augmentations(img, FULL, n=6, seed=3)
    b = preview_augmentations(img, FULL, n=6, seed=3)
    c = preview_augmentations(img, FULL, n=6, seed=4)
    assert a.shape == (6, 24, 24, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert all(not np.array_equal(v, img) for v in a)
    assert len({v.tobytes() for v in a}) == 6  # each version differs


def test_preview_without_augmentation_and_grey_input() -> None:
    img = _image()
    out = preview_augmentations(img, AugmentConfig(), n=3)
    assert out.shape == (3, 24, 24, 3) and all(np.array_equal(v, img) for v in out)
    grey = preview_augmentations(img[..., 0], AugmentConfig(flip="horizontal"), n=2, seed=0)
    assert grey.shape == (2, 24, 24, 3)
    with pytest.raises(ValueError, match="Expected an image"):
        preview_augmentations(np.zeros((2, 2, 2, 2)), FULL)


def test_augment_dataset_maps_batches() -> None:
    import tensorflow as tf

    x = np.repeat(_image()[None].astype(np.float32), 4, axis=0)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(4, dtype=np.int32))).batch(4)
    assert augment_dataset(ds, AugmentConfig()) is ds
    xb, yb = next(iter(augment_dataset(ds, FULL, seed=0)))
    assert xb.shape == (4, 24, 24, 3) and list(yb.numpy()) == [0, 1, 2, 3]
    assert not np.allclose(xb.numpy(), x)


CROP_AND_COLOUR = AugmentConfig(crop=0.25, hue=0.3, saturation=0.6, color_jitter=0.5)


def test_crop_and_colour_layers_are_keras_own() -> None:
    aug = build_augmenter(CROP_AND_COLOUR, seed=1, image_size=(24, 24))
    names = [type(layer).__name__ for layer in aug.layers]
    assert names == ["RandomCrop", "Resizing", "RandomHue", "RandomSaturation", "RandomColorJitter"]
    crop = aug.layers[0].get_config()
    assert (crop["height"], crop["width"]) == (18, 18)
    assert AugmentConfig(hue=0.1).enabled and AugmentConfig(crop=0.1).enabled
    with pytest.raises(ValueError, match="Expected image_size"):
        build_augmenter(AugmentConfig(crop=0.2))


def test_seeded_preview_shows_crop_and_colour() -> None:
    img = _image()
    crop = preview_augmentations(img, AugmentConfig(crop=0.3), n=4, seed=2)
    assert crop.shape == (4, 24, 24, 3)
    assert np.array_equal(crop, preview_augmentations(img, AugmentConfig(crop=0.3), n=4, seed=2))
    assert all(not np.array_equal(v, img) for v in crop)
    # A crop enlarges the picture: the red patch covers more pixels than in the original.
    red = lambda a: int(((a[..., 0] > 150) & (a[..., 1] < 100)).sum())  # noqa: E731
    assert all(red(v) >= red(img) for v in crop) and any(red(v) > red(img) for v in crop)
    hue = preview_augmentations(img, AugmentConfig(hue=0.5), n=4, seed=2)
    assert np.array_equal(hue, preview_augmentations(img, AugmentConfig(hue=0.5), n=4, seed=2))
    # Hue turns the pure red patch into other colours; the black background stays black.
    assert any(abs(int(v[6, 10, 0]) - 250) > 30 or int(v[6, 10, 1]) > 80 or int(v[6, 10, 2]) > 80 for v in hue)
    assert all(v[0, 0].max() <= 1 for v in hue)
    jitter = preview_augmentations(img, CROP_AND_COLOUR, n=4, seed=5)
    assert len({v.tobytes() for v in jitter}) == 4


def test_augment_dataset_crops_to_the_same_size() -> None:
    import tensorflow as tf

    x = np.repeat(_image()[None].astype(np.float32), 4, axis=0)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(4, dtype=np.int32))).batch(4)
    xb, _ = next(iter(augment_dataset(ds, CROP_AND_COLOUR, seed=0)))
    assert xb.shape == (4, 24, 24, 3)
    assert not np.allclose(xb.numpy(), x)
