"""Data previews (core/data/preview.py): folder listing, thumbnails, demo and folder reports."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tl_widgets.core.data.preview import (
    THUMBNAIL_SIDE,
    DataPreview,
    demo_preview,
    folder_preview,
    square_thumbnails,
    sub_folders,
)


def test_sub_folders_two_levels_deep_without_hidden(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / ".hidden" / "x").mkdir(parents=True)
    (root / "file.txt").write_text("x")
    got = sub_folders([root])
    assert got == [("root/a", str(root / "a")), ("root/a/b", str(root / "a" / "b"))]
    assert sub_folders([tmp_path / "missing"]) == []


def test_square_thumbnails_grey_and_rgb():
    grey = np.zeros((10, 20, 1), np.uint8)
    rgb = np.full((30, 5, 3), 200, np.uint8)
    out = square_thumbnails([grey, rgb], side=16)
    assert out.shape == (2, 16, 16, 3) and out.dtype == np.uint8 and out[1].min() == 200
    assert square_thumbnails([]).shape == (0, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)


def test_demo_preview_has_one_sample_per_class():
    preview = demo_preview("digits")
    names = preview.report["class_names"]
    assert len(names) == len(preview.titles) == len(preview.samples)
    assert preview.titles == names[: len(preview.titles)]
    assert sum(preview.report["counts"].values()) > 0 and preview.samples.shape[1:] == (64, 64, 3)


def test_folder_preview_skips_unreadable_and_caps_per_class(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((12, 12, 3), 40 * i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "0.png").write_bytes(b"not a png")  # the first file is broken: the next one is sampled
    preview = folder_preview(tmp_path, max_per_class=2)
    assert preview.report["class_names"] == ["cat", "dog"]
    assert preview.report["counts"]["dog"] == 2 and 1 <= preview.report["counts"]["cat"] <= 2  # capped at 2
    assert any(s["path"].endswith("0.png") for s in preview.report["skipped"])
    assert preview.titles == ["cat", "dog"] and preview.samples.shape == (2, 64, 64, 3)
    assert preview.samples[0].max() == 40  # cat's sample is 1.png (value 40), not the broken 0.png


def test_empty_preview():
    empty = DataPreview.empty()
    assert empty.report["counts"] == {} and len(empty.samples) == 0 and empty.titles == []


def test_folder_preview_refuses_a_non_dataset(tmp_path):
    from tl_widgets.core.data.images import DataError

    with pytest.raises(DataError):
        folder_preview(tmp_path / "missing")
