"""Image files: fast up-front checks, RGB conversion, the tf.data decoder and the one PNG encoder.

The checks read headers (plus a cheap integrity test per format) so that a
corrupt, truncated, empty or oversized file is reported with a reason before
training starts, instead of failing in the middle of an epoch.

TensorFlow's decoders handle JPEG, PNG (8- and 16-bit, grey, alpha, palette),
GIF (first frame), WebP and RGB BMP correctly and fast. The few files they get
wrong (palette or low-bit BMPs, CMYK JPEGs, formats TF can't read) are flagged
here and converted once with Pillow into a PNG cache (see :func:`convert_to_png`);
a JPEG's EXIF orientation is recorded (``ImageInfo.orientation``) for the decoder
to apply (:mod:`tl_widgets.core.data.decoding`). Every file is opened through
:func:`tl_widgets.core.data.image_open.open_image` (the known formats only, under
the pixel limit).

:func:`png_bytes` (and :func:`png_data_uri`) turn an array into PNG bytes for every figure, thumbnail and
model card that shows an image.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from tl_widgets.core.data.image_open import (
    DEFAULT_MAX_PIXELS, ImageRefused, effective_max_pixels, limit_pixels, open_image,
)

from tl_widgets.core.i18n import _

__all__ = [
    "DataError",
    "limit_pixels",
    "effective_max_pixels",
    "SkippedFile",
    "ImageInfo",
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "check_image",
    "load_rgb",
    "pil_to_rgb",
    "convert_to_png",
    "png_bytes",
    "png_data_uri",
    "exif_orientation",
    "size_stats",
    "small_image_warning",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp"})
_TF_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP"}
_EXIF_ORIENTATION = 0x0112


class DataError(ValueError):
    """A problem with the user's data: a missing folder, no classes, bad files.

    The message says what was expected and quotes what was received.
    """


@dataclass
class SkippedFile:
    """A file left out of the dataset and why.

    Attributes:
        path: The file.
        reason: ``"0 bytes"``, ``"not an image"``, ``"corrupt or truncated"``,
            ``"unreadable"``, ``"not an image file type"``, ``"<FORMAT> format"`` (an
            image of a kind that is never opened, e.g. ``"EPS format"`` behind a ``.jpg`` name) or
            ``"too large (W x H pixels, limit N)"``.
    """

    path: str
    reason: str


@dataclass
class ImageInfo:
    """What the header check learned about one valid image file.

    Attributes:
        path: The file.
        width: Width in pixels.
        height: Height in pixels.
        format: Pillow's format name (``"JPEG"``, ``"PNG"``...).
        mode: Pillow's mode (``"RGB"``, ``"L"``, ``"CMYK"``, ``"I;16"``...).
        convert: Why TensorFlow can't decode it correctly (then it goes
            through :func:`convert_to_png`), or None.
        orientation: A JPEG's EXIF orientation (1 to 8; 1: the pixels as stored, and for other formats).
    """

    path: str
    width: int
    height: int
    format: str
    mode: str
    convert: str | None = None
    orientation: int = 1


def _jpeg_complete(fh: Any, size: int, im: Image.Image) -> bool:
    """True when a JPEG ends with its EOI marker or fully decodes at 1/8 scale."""
    fh.seek(max(0, size - 4096))
    if b"\xff\xd9" in fh.read():
        return True
    # Some cameras append data after EOI: confirm with a cheap DCT-scaled decode.
    im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
    im.load()
    return True


def _needs_conversion(im: Image.Image) -> str | None:
    fmt, mode = im.format or "", im.mode
    if fmt not in _TF_FORMATS:
        return f"{fmt or 'unknown'} format"
    if fmt == "BMP" and mode not in ("RGB", "RGBA"):
        return f"{mode} BMP"
    if fmt in ("JPEG", "MPO") and mode == "CMYK":
        return "CMYK JPEG"
    return None


def exif_orientation(im: Image.Image) -> int:
    """A JPEG's EXIF orientation (1 to 8), 1 when absent, out of range, or for other formats."""
    if (im.format or "") not in ("JPEG", "MPO"):
        return 1
    value = im.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def check_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo | SkippedFile:
    """Checks one file without decoding it fully (except for rare formats).

    PNGs are verified chunk by chunk (CRCs), JPEGs must end with their EOI
    marker, other formats are decoded by Pillow (they are usually small).

    Args:
        path: The file.
        max_pixels: Images with more pixels are skipped as too large, from the
            header alone (a 20,000 x 20,000 PNG is never decoded).

    Returns:
        An :class:`ImageInfo` for a usable image, else a :class:`SkippedFile`.
    """
    p = Path(path)
    max_pixels = effective_max_pixels(max_pixels)
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        return SkippedFile(str(p), _("not an image file type"))
    try:
        size = p.stat().st_size
    except OSError as exc:
        return SkippedFile(str(p), _("unreadable ({error})").format(error=exc.strerror or exc))
    if size == 0:
        return SkippedFile(str(p), _("0 bytes"))
    try:
        with open_image(p, max_pixels) as im:
            width, height = im.size
            info = ImageInfo(str(p), width, height, im.format or "", im.mode, _needs_conversion(im),
                             exif_orientation(im))
            if im.format == "PNG":
                im.verify()
            elif im.format in ("JPEG", "MPO"):
                _jpeg_complete(im.fp, size, im)
            else:
                im.load()
    except ImageRefused as exc:
        return SkippedFile(str(p), exc.reason)
    return info


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Converts any Pillow image to an RGB ``uint8`` array ``[H, W, 3]``.

    EXIF orientation is applied; 16- and 32-bit integer images are scaled to
    0..255 (Pillow's own ``convert("RGB")`` clips them); alpha is dropped
    (the colour channels are kept as stored, as TensorFlow's decoders do).
    """
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() <= 65535 else float(arr.max())
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if im.mode == "F":
        grey = np.clip(np.round(np.asarray(im)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def load_rgb(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decodes one image file (first frame) to RGB ``uint8`` ``[H, W, 3]`` with Pillow.

    Raises:
        DataError: The file is not a usable image; the message gives the reason.
    """
    checked = check_image(path, max_pixels)
    if isinstance(checked, SkippedFile):
        raise DataError(_("Expected a readable image file. Received: {path!r} ({reason})").format(
            path=str(path), reason=checked.reason))
    try:
        with open_image(path, max_pixels) as im:
            im.seek(0)
            return pil_to_rgb(im)
    except ImageRefused as exc:
        raise DataError(_("Expected a readable image file. Received: {path!r} ({reason})").format(
            path=str(path), reason=exc.reason)) from exc


def convert_to_png(src: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> str:
    """Converts ``src`` once into an RGB PNG under ``cache_dir``; returns its path.

    The cache name is derived from the source path, size and modification
    time, so an edited file is converted again and an unchanged one is not.
    """
    st = os.stat(src)
    key = hashlib.sha1(f"{os.path.abspath(src)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    out = Path(cache_dir) / f"{key}.png"
    if out.is_file():
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_image(src) as im:
            im.seek(0)
            rgb = pil_to_rgb(im)
    except ImageRefused as exc:
        raise DataError(f"Expected a readable image file. Received: {str(src)!r} ({exc.reason})") from exc
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.png")
    Image.fromarray(rgb).save(tmp, compress_level=1)
    os.replace(tmp, out)
    return str(out)


def png_bytes(image: Any, side: int | None = None) -> bytes:
    """An image array as PNG bytes: the one PNG encoder (figures, thumbnails, the model card).

    Args:
        image: ``[H, W, 3]`` RGB or ``[H, W]`` / ``[H, W, 1]`` grey; values are clipped to 0..255 and stored
            as ``uint8``.
        side: Scale (nearest neighbour) to this width in pixels, keeping the aspect ratio (None: as it is).

    Raises:
        ValueError: Not an RGB or grey image.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)) or 0 in arr.shape:
        raise ValueError(f"Expected an [H, W, 3] or [H, W] image. Received shape {arr.shape}")
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if side is not None and int(side) != im.width:
        im = im.resize((int(side), max(1, round(int(side) * im.height / im.width))), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def png_data_uri(image: Any, side: int | None = None) -> str:
    """:func:`png_bytes` as a ``data:image/png;base64,...`` URI for an ``<img>`` or a Plotly image."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, side)).decode("ascii")


def size_stats(widths: np.ndarray, heights: np.ndarray) -> dict[str, float]:
    """Min/median/max of widths and heights (empty dict for no images)."""
    if len(widths) == 0:
        return {}
    return {
        "min_width": float(widths.min()),
        "median_width": float(np.median(widths)),
        "max_width": float(widths.max()),
        "min_height": float(heights.min()),
        "median_height": float(np.median(heights)),
        "max_height": float(heights.max()),
    }


def small_image_warning(widths: np.ndarray, heights: np.ndarray, min_size: int | None) -> list[str]:
    """A warning about images whose shorter side is below ``min_size`` (they get upsampled)."""
    if not min_size or len(widths) == 0:
        return []
    small = np.minimum(widths, heights) < min_size
    if not small.any():
        return []
    i = int(np.argmin(np.minimum(widths, heights)))
    return [_("{n} images are smaller than {size} px (smallest {width} x {height}); they will be upsampled, which "
              "blurs them.").format(n=int(small.sum()), size=min_size, width=int(widths[i]), height=int(heights[i]))]
