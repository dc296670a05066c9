"""The one place that opens image files and bytes from users with Pillow.

Pillow tries every format reader it has unless it is told which: a
"photo.jpg" that is really PostScript runs Ghostscript, and an ICO decodes its
largest image while it is being opened — before any size check. So every
image a user brings (an upload, a data folder, a webcam frame, a file tried in
Try it or the export preview) is opened here, and only here:

* with ``formats=`` :data:`USER_FORMATS` (JPEG, PNG, GIF, BMP, WebP; MPO
  files come through the JPEG reader, which is where Pillow registers them);
* under the process's pixel limit (:func:`limit_pixels`: a room's
  ``max_image_megapixels``), which also sets ``Image.MAX_IMAGE_PIXELS``, with
  Pillow's ``DecompressionBombWarning`` raised as an error;
* with any exception — from opening or from the caller's work inside the
  ``with`` block (a truncated file, a bad EXIF block, anything) — turned into
  :class:`ImageRefused` carrying the reason a user is shown (``"not an image"``,
  ``"corrupt or truncated"``, ``"too large (W x H pixels, limit N)"``...).

Example::

    try:
        with open_image(path) as im:
            rgb = pil_to_rgb(im)
    except ImageRefused as exc:
        skipped.append((path, exc.reason))
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from PIL import Image, UnidentifiedImageError

from tl_widgets.core.i18n import _

__all__ = ["USER_FORMATS", "DEFAULT_MAX_PIXELS", "ImageRefused", "open_image", "limit_pixels",
           "effective_max_pixels", "PIL_READ_ERRORS", "too_large_reason"]

USER_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP")
"""The Pillow readers tried on a user's image (MPO is read by the JPEG reader; Pillow has no separate opener)."""
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's decompression-bomb threshold (about 0.25 GiB as RGB)

PIL_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
"""What Pillow raises on an unreadable or broken file, depending on the format."""

_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF87a", b"GIF89a", b"BM")
_PROCESS_MAX_PIXELS = DEFAULT_MAX_PIXELS


class ImageRefused(ValueError):
    """A user's image that cannot be used; :attr:`reason` is what the user is shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def limit_pixels(max_pixels: int) -> None:
    """Lowers the pixel limit of every image opened in this process (a room's quota; never raised).

    Also sets Pillow's ``Image.MAX_IMAGE_PIXELS`` to it, so Pillow itself refuses bigger images while opening.
    """
    global _PROCESS_MAX_PIXELS
    _PROCESS_MAX_PIXELS = min(DEFAULT_MAX_PIXELS, max(1, int(max_pixels)))
    Image.MAX_IMAGE_PIXELS = _PROCESS_MAX_PIXELS


def effective_max_pixels(max_pixels: int) -> int:
    """``max_pixels`` capped by this process's limit (see :func:`limit_pixels`)."""
    return min(max_pixels, _PROCESS_MAX_PIXELS)


def too_large_reason(width: int, height: int, max_pixels: int) -> str:
    """The reason an image over the pixel limit is refused (every check that sees its size shares it)."""
    return _("too large ({width} x {height} pixels, limit {limit:,})").format(width=width, height=height,
                                                                               limit=max_pixels)


def _looks_like_image(head: bytes) -> bool:
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _header_size(fh: IO[bytes]) -> tuple[int, int] | None:
    """W, H from the header of one of :data:`USER_FORMATS`, without Pillow's size check (for a refusal's reason)."""
    fh.seek(0)
    prefix = fh.read(16)
    for fmt in USER_FORMATS:
        factory, accept = Image.OPEN[fmt]
        if accept is None or accept(prefix):
            fh.seek(0)
            try:
                im = factory(fh, "")
            except Exception:  # noqa: BLE001 - only a message is at stake: no size then
                return None
            return im.size
    return None


def _other_format(head: bytes) -> str | None:
    """The name of another format whose magic bytes ``head`` has (only the readers' byte checks run, never a reader)."""
    Image.init()
    for fmt, (_factory, accept) in Image.OPEN.items():
        if fmt not in USER_FORMATS and accept is not None:
            try:
                if accept(head) is True:
                    return fmt
            except Exception:  # noqa: BLE001 - a byte check that cannot judge these bytes: not this format
                continue
    return None


def _reason(exc: BaseException, head: bytes) -> str:
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno is not None):
        return _("unreadable ({error})").format(error=exc.strerror or exc)
    if isinstance(exc, UnidentifiedImageError):
        if _looks_like_image(head):
            return _("corrupt or truncated")
        other = _other_format(head)
        return _("{format} format").format(format=other) if other else _("not an image")
    if isinstance(exc, PIL_READ_ERRORS):
        return _("corrupt or truncated")
    return _("unreadable ({error})").format(error=type(exc).__name__)


@contextmanager
def open_image(source: str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes],
               max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Image.Image]:
    """Opens a user's image (a path, bytes, or a binary file) with Pillow, safely; closes it after the block.

    Args:
        source: The file, its bytes, or an open binary file (left open).
        max_pixels: Refuse images with more pixels (capped by :func:`limit_pixels`), from the header.

    Yields:
        The opened image (header read; nothing decoded yet).

    Raises:
        ImageRefused: Not one of :data:`USER_FORMATS`, too large, unreadable, or anything raised inside the block.
    """
    limit = effective_max_pixels(max_pixels)
    owned = not hasattr(source, "read")
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            fh: IO[bytes] = io.BytesIO(bytes(source))
        elif owned:
            fh = open(Path(source), "rb")  # noqa: SIM115 - closed below
        else:
            fh = source  # type: ignore[assignment]
    except OSError as exc:
        raise ImageRefused(_reason(exc, b"")) from exc
    head = fh.read(16)
    fh.seek(0)
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im = Image.open(fh, formats=USER_FORMATS)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            size = _header_size(fh)
            raise ImageRefused(too_large_reason(size[0], size[1], limit) if size else
                               _("too large (over Pillow's limit of {limit:,} pixels)").format(limit=limit)) from exc
        with im:
            width, height = im.size
            if width * height > limit:
                raise ImageRefused(too_large_reason(width, height, limit))
            yield im
    except ImageRefused:
        raise
    except Exception as exc:  # Pillow (and what callers do with the image) raises many types: each is a reason
        raise ImageRefused(_reason(exc, head)) from exc
    finally:
        if owned:
            fh.close()

