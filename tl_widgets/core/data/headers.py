"""Header-only image checks for large folders: size, format, colour layout, EXIF orientation.

:func:`read_header` learns what set-up needs from a file's first bytes without
decoding anything: JPEG markers are walked up to the frame header (size,
components, EXIF orientation) and the PNG ``IHDR`` chunk is read directly,
about 8x faster than opening the file with Pillow. Other formats, and any JPEG
whose frame header lies beyond the bytes read, go through Pillow's header
parser (still no decode), through the one opener of user images
(:func:`~tl_widgets.core.data.image_open.open_image`). Damage past the header (truncated or corrupt image
data) is not seen here: the tf.data decoder meets it during the first epoch and
:mod:`tl_widgets.core.data.first_pass` reports it (see
:func:`tl_widgets.core.data.images.check_image` for the full, slower check).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from tl_widgets.core.data.image_open import ImageRefused, open_image, too_large_reason
from tl_widgets.core.data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageInfo,
    SkippedFile,
    _needs_conversion,
    effective_max_pixels,
    exif_orientation,
)
from tl_widgets.core.i18n import _

__all__ = ["read_header", "HEAD_BYTES"]

HEAD_BYTES = 65536  # JPEG APP segments (EXIF, ICC) before the frame header rarely exceed this
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_NO_LENGTH = frozenset({0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


def _exif_orientation(seg: bytes) -> int | None:
    """The orientation tag of an APP1 ``Exif`` segment's first IFD (None when absent or unreadable)."""
    tiff = seg[6:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    end = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(end + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(end + "H", tiff, ifd)
    for k in range(count):
        at = ifd + 2 + 12 * k
        if at + 12 > len(tiff):
            return None
        tag, kind = struct.unpack_from(end + "HH", tiff, at)
        if tag == 0x0112 and kind == 3:
            return struct.unpack_from(end + "H", tiff, at + 8)[0]
    return None


def _jpeg(data: bytes) -> tuple[int, int, str, str | None, int] | None:
    """``(width, height, mode, convert reason, EXIF orientation)`` from a JPEG's first bytes, None when not there."""
    i, n, orientation = 2, len(data), None
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _NO_LENGTH:
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _SOF:
            if i + 10 > n:
                return None
            height, width = struct.unpack_from(">HH", data, i + 5)
            comps = data[i + 9]
            mode = _JPEG_MODES.get(comps)
            if mode is None or width == 0 or height == 0:
                return None  # unusual: let Pillow say what it is
            convert = "CMYK JPEG" if comps == 4 else None
            return width, height, mode, convert, orientation if orientation in range(1, 9) else 1
        if marker == 0xE1 and orientation is None and data[i + 4:i + 10] == b"Exif\x00\x00":
            orientation = _exif_orientation(data[i + 4:i + 2 + length])
        i += 2 + length
    return None


def _png(data: bytes) -> tuple[int, int, str] | None:
    if len(data) < 29 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    mode = _PNG_MODES.get(colour)
    if mode is None or width == 0 or height == 0:
        return None
    if colour == 0 and depth == 16:
        mode = "I;16"
    elif colour == 0 and depth == 1:
        mode = "1"
    return width, height, mode


def _too_large(path: str, width: int, height: int, max_pixels: int) -> SkippedFile | None:
    if width * height > max_pixels:
        return SkippedFile(path, too_large_reason(width, height, max_pixels))
    return None


def _pillow_header(p: Path, max_pixels: int) -> ImageInfo | SkippedFile:
    try:
        with open_image(p, max_pixels) as im:  # the known formats only, under the pixel limit
            width, height = im.size
            return ImageInfo(str(p), width, height, im.format or "", im.mode, _needs_conversion(im),
                             exif_orientation(im))
    except ImageRefused as exc:
        return SkippedFile(str(p), exc.reason)


def read_header(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo | SkippedFile:
    """Checks one file from its header only (nothing is decoded).

    Args:
        path: The file.
        max_pixels: Images with more pixels are skipped as too large.

    Returns:
        An :class:`ImageInfo` (the same fields :func:`~tl_widgets.core.data.images.check_image`
        gives) or a :class:`SkippedFile` for a wrong file type, an empty,
        unreadable, non-image or oversized file.
    """
    name = os.fspath(path)
    max_pixels = effective_max_pixels(max_pixels)
    if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
        return SkippedFile(name, _("not an image file type"))
    try:
        with open(name, "rb") as fh:
            data = fh.read(HEAD_BYTES)
    except OSError as exc:
        return SkippedFile(name, _("unreadable ({error})").format(error=exc.strerror or exc))
    if not data:
        return SkippedFile(name, _("0 bytes"))
    if data[:3] == b"\xff\xd8\xff":
        found = _jpeg(data)
        if found is not None:
            width, height, mode, convert, orientation = found
            return _too_large(name, width, height, max_pixels) or ImageInfo(name, width, height, "JPEG", mode, convert,
                                                                            orientation)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        png = _png(data)
        if png is not None:
            width, height, mode = png
            return _too_large(name, width, height, max_pixels) or ImageInfo(name, width, height, "PNG", mode)
    return _pillow_header(Path(name), max_pixels)
