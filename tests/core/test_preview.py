"""The deployment preview: Keras and an export on the same images, disagreements first."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from tl_widgets.core.export.formats import export_run
from tl_widgets.core.export.preview import exported_formats, images_from_bytes, preview_export


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def exported(trained_demo_run):
    if "tflite-int8" not in exported_formats(trained_demo_run):
        export_run(trained_demo_run, "tflite-int8")
    return trained_demo_run


def test_preview_on_the_validation_split(exported):
    p = preview_export(exported, "tflite-int8", limit=40, k=2)
    assert p.count == 40 and len(p.rows) == 40 and p.file_size > 10_000
    assert p.agreement == pytest.approx(np.mean([r.agree for r in p.rows]))
    assert p.agreement >= 0.9 and p.keras_ms_per_image > 0 and p.export_ms_per_image > 0
    assert all(len(r.keras_top) == 2 and r.label is not None for r in p.rows)
    keys = [(r.agree, -r.max_abs_diff) for r in p.rows]
    assert keys == sorted(keys)  # disagreements first, then the largest differences
    assert p.max_abs_diff == pytest.approx(max(r.max_abs_diff for r in p.rows))
    assert p.to_dict()["rows"][0]["index"] == p.rows[0].index and "images" not in p.to_dict()
    assert p.images.shape == (40, 32, 32, 3) and p.images.dtype == np.uint8


def test_preview_on_dropped_images(exported):
    rng = np.random.default_rng(0)
    files = [(f"img{i}.png", _png(rng.integers(0, 255, (50, 40, 3)))) for i in range(3)]
    images, names = images_from_bytes(files, 32)
    assert images.shape == (3, 32, 32, 3) and names == ["img0.png", "img1.png", "img2.png"]
    p = preview_export(exported, "tflite-int8", images=images, names=names)
    assert sorted(r.name for r in p.rows) == names and all(r.label is None for r in p.rows)


def test_preview_refuses_bad_input(exported, tmp_path):
    with pytest.raises(ValueError, match="Expected an image file. Received: 'notes.png'"):
        images_from_bytes([("notes.png", b"not an image")], 32)
    with pytest.raises(ValueError, match="at least one image"):
        images_from_bytes([], 32)
    bare = tmp_path / exported.name  # the run without its exports
    shutil.copytree(exported, bare, ignore=shutil.ignore_patterns("exports"))
    assert exported_formats(bare) == []
    with pytest.raises(FileNotFoundError, match="Expected an tflite export of this run"):
        preview_export(bare, "tflite")
    with pytest.raises(ValueError, match="Expected an export format"):
        preview_export(exported, "pdf")
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, 32, 32, 3\)"):
        preview_export(exported, "tflite-int8", images=np.zeros((2, 8, 8, 3), np.float32))
