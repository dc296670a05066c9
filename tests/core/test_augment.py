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
