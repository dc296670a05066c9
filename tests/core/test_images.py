"""Formats and modes decode to the right RGB values, through Pillow and through the tf.data pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))

from make_files import COLOUR, make_16bit_png, make_image  # noqa: E402

from tl_widgets.core.config.schema import DataConfig  # noqa: E402
from tl_widgets.core.data.loading import load_datasets  # noqa: E402
from tl_widgets.core.data.decoding import jpeg_ratio  # noqa: E402
from tl_widgets.core.data.images import ImageInfo, SkippedFile, check_image, load_rgb  # noqa: E402

GREY = 77

# name -> (writer, expected RGB, tolerance, expected `convert` flag)
COLOUR_FILES = {
    "rgb.jpg": (lambda p: make_image(p, "JPEG", quality=100), 3, None),
    "rgb.png": (lambda p: make_image(p, "PNG"), 0, None),
    "rgb.bmp": (lambda p: make_image(p, "BMP"), 0, None),
    "first_frame.gif": (lambda p: _two_frame_gif(p), 0, None),
    "rgb.webp": (lambda p: make_image(p, "WEBP", lossless=True), 0, None),
    "rgba.png": (lambda p: make_image(p, "PNG", mode="RGBA"), 0, None),
    "palette.png": (lambda p: make_image(p, "PNG", mode="P"), 0, None),
    "palette_alpha.png": (lambda p: make_image(p, "PNG", mode="P", transparency=5), 0, None),
    "cmyk.jpg": (lambda p: make_image(p, "JPEG", mode="CMYK", quality=100), 3, "CMYK JPEG"),
    "palette.bmp": (lambda p: make_image(p, "BMP", mode="P"), 0, "P BMP"),
}
GREY_FILES = {
    "grey.png": (lambda p: make_image(p, "PNG", colour=(GREY,) * 3, mode="L"), 0, None),
    "grey16.png": (lambda p: make_16bit_png(p, GREY * 257), 0, None),
}


def _two_frame_gif(path: Path) -> Path:
    first = Image.new("RGB", (16, 12), COLOUR).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("RGB", (16, 12), (0, 255, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    first.save(path, save_all=True, append_images=[second], duration=100)
    return path


@pytest.fixture(scope="module")
def data_formats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats")
    for folder, files in (("colour", COLOUR_FILES), ("grey", GREY_FILES)):
        (root / folder).mkdir()
        for name, (write, _, _) in files.items():
            write(root / folder / name)
    return root


@pytest.mark.parametrize("name", sorted(COLOUR_FILES) + sorted(GREY_FILES))
def test_each_format_and_mode_loads_as_rgb_with_pillow(data_formats: Path, name: str) -> None:
    folder, files = ("grey", GREY_FILES) if name in GREY_FILES else ("colour", COLOUR_FILES)
    _, tol, flag = files[name]
    info = check_image(data_formats / folder / name)
    assert isinstance(info, ImageInfo), info
    assert info.convert == flag
    rgb = load_rgb(data_formats / folder / name)
    assert rgb.shape == (12, 16, 3) and rgb.dtype == np.uint8
    expected = np.array((GREY,) * 3 if folder == "grey" else COLOUR)
    assert np.abs(rgb.astype(int) - expected).max() <= tol, (name, rgb[0, 0])


def test_pipeline_decodes_every_format_to_the_known_colour(data_formats: Path, tmp_path: Path) -> None:
    cfg = DataConfig(source="folder", path=str(data_formats), validation_split=0.0, batch_size=64, cache="none")
    ds = load_datasets(cfg, 16, seed=0, work_dir=tmp_path)
    assert ds.class_names == ["colour", "grey"]
    assert ds.train_count == len(COLOUR_FILES) + len(GREY_FILES)
    x, y = next(iter(ds.train))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (ds.train_count, 16, 16, 3) and x.dtype == np.float32
    for img, label in zip(x, y):
        expected = np.array(COLOUR if label == 0 else (GREY,) * 3, np.float32)
        assert np.abs(img - expected).max() <= 3, (label, img[0, 0])
    # files TF would get wrong were converted once into the work folder
    assert len(list((tmp_path / "converted").glob("*.png"))) == 2


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (20, 10), (255, 0, 0))
    img.paste((0, 0, 255), (10, 0, 20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    info = check_image(tmp_path / "rot.jpg")
    assert isinstance(info, ImageInfo) and info.convert is None and info.orientation == 6  # turned by the decoder
    rgb = load_rgb(tmp_path / "rot.jpg")
    assert rgb.shape == (20, 10, 3)
    # turned clockwise: the left (red) half is now on top, the right (blue) half at the bottom
    assert rgb[2, 5, 0] > 200 and rgb[2, 5, 2] < 60
    assert rgb[17, 5, 0] < 60 and rgb[17, 5, 2] > 200


def test_jpeg_ratio_uses_dct_scaling_only_when_big_enough(tmp_path: Path) -> None:
    make_image(tmp_path / "big.jpg", "JPEG", size=(800, 640))
    info = check_image(tmp_path / "big.jpg")
    assert isinstance(info, ImageInfo)
    assert jpeg_ratio(info, 96) == 4  # 800/8=100, 640/8=80 < 96; /4 -> 200 x 160
    assert jpeg_ratio(info, 600) == 1
    png = check_image(make_image(tmp_path / "big.png", size=(800, 640)))
    assert isinstance(png, ImageInfo) and jpeg_ratio(png, 32) == 1


def test_unknown_extension_and_unreadable(tmp_path: Path) -> None:
    (tmp_path / "x.tiff").write_bytes(b"II*\x00")
    res = check_image(tmp_path / "x.tiff")
    assert isinstance(res, SkippedFile) and res.reason == "not an image file type"
    res = check_image(tmp_path / "missing.png")
    assert isinstance(res, SkippedFile) and res.reason.startswith("unreadable")


def test_too_many_pixels_is_refused_from_the_header(tmp_path: Path) -> None:
    p = make_image(tmp_path / "wide.png", size=(400, 300))
    res = check_image(p, max_pixels=100_000)
    assert isinstance(res, SkippedFile) and res.reason.startswith("too large (400 x 300")
