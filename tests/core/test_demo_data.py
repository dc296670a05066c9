"""The embedded demo datasets: deterministic, disjoint classes, written as folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tl_widgets.core.data import demo_datasets as dd


def test_digits_arrays_splits_and_determinism() -> None:
    x, y, names = dd.digits_arrays("target")
    xs, ys, snames = dd.digits_arrays("source", size=16)
    assert names == list(dd.DIGITS_TARGET_CLASSES) and snames == list(dd.DIGITS_SOURCE_CLASSES)
    assert not set(names) & set(snames)
    assert x.shape[1:] == (32, 32, 3) and x.dtype == np.uint8 and xs.shape[1:] == (16, 16, 3)
    assert len(x) == len(y) > 800 and set(y.tolist()) == set(range(5))
    x2, y2, _ = dd.digits_arrays("target")
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert x.std() > 20  # real contrast, not a blank image
    assert len({tuple(img[0, 0]) for img in x[:50]}) > 10  # colour variation between images


def test_shapes_arrays_determinism_and_seed() -> None:
    x, y, names = dd.shapes_arrays("source", n_per_class=5, size=24, seed=1)
    assert names == list(dd.SHAPES_SOURCE_CLASSES) and x.shape == (20, 24, 24, 3)
    assert y.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    assert np.array_equal(x, dd.shapes_arrays("source", n_per_class=5, size=24, seed=1)[0])
    assert not np.array_equal(x, dd.shapes_arrays("source", n_per_class=5, size=24, seed=2)[0])
    assert not set(dd.SHAPES_SOURCE_CLASSES) & set(dd.SHAPES_TARGET_CLASSES)
    assert dd.shapes_arrays()[0].shape == (600, 48, 48, 3)
    with pytest.raises(ValueError, match="split"):
        dd.shapes_arrays("both")


def test_write_demo_data_folders(tmp_path: Path) -> None:
    root = dd.write_demo_data(tmp_path, "shapes", "target", size=16)
    assert root == tmp_path / "shapes_target"
    assert sorted(p.name for p in root.iterdir()) == sorted(dd.SHAPES_TARGET_CLASSES)
    files = sorted(root.rglob("*.png"))
    assert len(files) == 600
    x, _, _ = dd.shapes_arrays("target", size=16)
    assert np.array_equal(np.asarray(Image.open(files[0]).convert("RGB")), x[0])
    digits = dd.write_demo_data(tmp_path, "digits", "source")
    assert sorted(p.name for p in digits.iterdir()) == sorted(dd.DIGITS_SOURCE_CLASSES)
    with pytest.raises(ValueError, match="which"):
        dd.write_demo_data(tmp_path, "cats")
