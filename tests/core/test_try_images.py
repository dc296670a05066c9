"""Trying a finished run on new image bytes: top-k, Grad-CAM, the export Predictor's numbers, bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tl_widgets.core.data.images import DataError, png_bytes
from tl_widgets.core.evaluation.try_images import (
    MAX_TRY_IMAGES, decode_image, predictor_for_run, top_k,
)


def _encoded(image: np.ndarray, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG claiming ``width x height`` (valid chunks) with only a few bytes of pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def val_images(trained_demo_run):
    """Four validation images of the shared demo run, uint8 at its input size."""
    from tl_widgets.core.evaluation.evaluate import load_run, run_datasets
    from tl_widgets.core.export.formats import take_images

    images, _ = take_images(run_datasets(load_run(trained_demo_run)).val, 4)
    return np.clip(images, 0, 255).astype(np.uint8)


def test_top_k_sums_and_order_and_matches_export_predictor(trained_demo_run, val_images):
    from tl_widgets.core.export.verify import predictor_for
    from tl_widgets.core.runs.folder import RunFolder

    predictor = predictor_for_run(trained_demo_run)
    assert predictor_for_run(trained_demo_run) is predictor  # loaded once per run
    n = len(predictor.class_names)
    items = [(f"val{i}.png", _encoded(img)) for i, img in enumerate(val_images)]
    outcome = predictor.try_images(items, k=n)
    assert outcome.errors == [] and [r.name for r in outcome.results] == [n for n, _ in items]
    for result, image in zip(outcome.results, val_images):
        probs = [p for _, p in result.top]
        assert len(result.top) == n and sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert probs == sorted(probs, reverse=True)
        assert result.top[0][0] == predictor.class_names[int(np.argmax(result.probabilities))]
        np.testing.assert_array_equal(result.image, image)  # a lossless PNG at the input size comes back as is
        assert result.overlay is not None and result.overlay.shape == image.shape and result.ms > 0
    assert outcome.gradcam_layer and outcome.gradcam_note == "" and outcome.ms_per_image > 0
    keras_predictor = predictor_for("keras", RunFolder(trained_demo_run).model_file)  # the export path
    expected = keras_predictor(np.stack([r.image for r in outcome.results]).astype(np.float32))
    np.testing.assert_allclose(np.stack([r.probabilities for r in outcome.results]), expected, atol=1e-6)
    # A batch of one against the batch of four: oneDNN's last float bits depend on the batch size.
    alone = predictor.try_images(items[:1], k=3).results[0].top
    wanted = top_k(expected[0], predictor.class_names, 3)
    assert [name for name, _ in alone] == [name for name, _ in wanted], (alone, wanted)
    assert [p for _, p in alone] == pytest.approx([p for _, p in wanted], abs=1e-6), (alone, wanted)


def test_bad_images_get_a_message_and_the_rest_are_tried(trained_demo_run, val_images):
    predictor = predictor_for_run(trained_demo_run)
    good = _encoded(val_images[0])
    items = [
        ("notes.txt", b"this is not an image"),
        ("good.png", good),
        ("cut.png", good[: len(good) // 2]),
        ("empty.jpg", b""),
        ("photo.tiff", _encoded(val_images[1], "TIFF")),
        ("cmyk.jpg", _encoded(val_images[1], "JPEG", "CMYK")),  # converted once, as in training
    ]
    outcome = predictor.try_images(items, k=3)
    assert [r.name for r in outcome.results] == ["good.png", "cmyk.jpg"]
    assert outcome.results[1].image.shape == val_images[1].shape
    messages = {e.name: e.message for e in outcome.errors}
    assert list(messages) == ["notes.txt", "cut.png", "empty.jpg", "photo.tiff"]
    assert messages["notes.txt"] == ("Expected a JPEG, PNG, GIF, BMP or WebP image. Received: 'notes.txt' "
                                     "(its contents are not an image)")
    assert "corrupt or truncated" in messages["cut.png"]
    assert "0 bytes" in messages["empty.jpg"] and "TIFF format" in messages["photo.tiff"]
    only_bad = predictor.try_images(items[:1])
    assert only_bad.results == [] and len(only_bad.errors) == 1
    with pytest.raises(ValueError, match=f"Expected at most {MAX_TRY_IMAGES} images at a time. Received: 17"):
        predictor.try_images([("a.png", good)] * 17)
    with pytest.raises(ValueError, match="Expected at least one image"):
        predictor.try_images([])


def test_decode_limits_bytes_and_pixels():
    big = _encoded(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(DataError, match=r"Expected an image of at most 0.0 MiB. Received: 'big.png'"):
        decode_image("big.png", big, 32, max_bytes=10)
    with pytest.raises(DataError, match=r"too large \(64 x 64 pixels, limit 100\)"):
        decode_image("big.png", big, 32, max_pixels=100)
    with pytest.raises(DataError, match="Expected the bytes of an image file. Received: 'x' \\(str\\)"):
        decode_image("x", "not bytes", 32)
    # Headers claiming huge images (with a few bytes of data): refused from the header, never decoded.
    with pytest.raises(DataError, match=r"too large \(12000 x 12000 pixels, limit 89,478,485\)"):
        decode_image("big-header.png", _png_header(12000, 12000), 32)
    with pytest.raises(DataError, match=r"'bomb.png' \(too large \(30000 x 30000 pixels, limit 89,478,485\)\)"):
        decode_image("bomb.png", _png_header(30000, 30000), 32)
    out = decode_image("big.png", big, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert png_bytes(out, side=96).startswith(b"\x89PNG")


def test_missing_run_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected a finished run folder with model.keras"):
        predictor_for_run(tmp_path / "nothing")


def test_a_camera_snapshot_is_decoded_at_reduced_size_like_training():
    """A 640 x 480 JPEG (a webcam snapshot) for a 32 px model is read by the JPEG decoder at 1/8 (DCT scaling), as
    the training pipeline reads it; a PNG of the same size goes through the general decoder."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for fmt in ("JPEG", "PNG"):
        out = decode_image(f"snap.{fmt.lower()}", _encoded(photo, fmt), 32)
        assert out.shape == (32, 32, 3) and out.dtype == np.uint8
        assert abs(float(out.mean()) - float(photo.mean())) < 12  # the same picture, smaller
