"""How image files become fixed-size tensors: the tf.data decoder and the JPEG DCT ratio per file.

One decoder serves training (:mod:`~tl_widgets.core.data.file_pipeline`), the public
:func:`~tl_widgets.core.data.image_dataset.image_dataset` and Try it, with the meanings of
``keras.utils.image_dataset_from_directory``: the file is decoded (``tf.io.decode_image``,
first frame of a GIF), optionally centre-cropped to the target's aspect ratio, and resized with
``tf.image.resize`` (no antialiasing; float32 out, except ``"nearest"``, which keeps ``uint8``).

Two things it does that Keras does not:

* **Reduced-size JPEG decoding.** A JPEG whose sides are at least 2, 4 or 8 times the target is
  decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's DCT scaling (each 8x8 block averaged, then
  the usual resize): a 12-megapixel photo trained at 224 px costs a fraction of a full decode.
  :func:`jpeg_ratio` picks the largest ratio that still leaves at least the target's pixels
  (after the crop, when cropping); the ratio is a constant of the decoder, so a pipeline groups
  its files by ratio (one decoder per group) instead of branching per file.
* **EXIF orientation, when asked** (``orientation``): the decoded pixels are turned the way
  Pillow's ``ImageOps.exif_transpose`` turns them. Keras (``tf.io.decode_image``) ignores the
  orientation tag and uses the pixels as stored; so does the public ``image_dataset`` unless
  ``exif_transpose=True``. Training in the Studio honours it.

TensorFlow is imported inside functions only.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["INTERPOLATIONS", "RATIOS", "DECODE_AS", "target_size", "jpeg_ratio", "jpeg_ratios", "decode_as",
           "make_tf_decoder"]

INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
"""The resize methods, as ``image_dataset_from_directory`` names them (``tf.image.resize`` methods)."""
RATIOS = (1, 2, 4, 8)
"""libjpeg's DCT scaling ratios."""
DECODE_AS = ("any", "jpeg", "rgb")
"""How a file is read (see :func:`decode_as`)."""


def target_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` from an int (a square) or a pair."""
    if isinstance(image_size, int):
        return int(image_size), int(image_size)
    height, width = image_size
    return int(height), int(width)


def jpeg_ratios(widths: Any, heights: Any, scalable: Any, image_size: int | Sequence[int], *,
                crop_to_aspect_ratio: bool = False, orientations: Any = None) -> np.ndarray:
    """:func:`jpeg_ratio` for many files at once (numpy arrays in, ``int32`` ratios out).

    Args:
        widths: Stored widths.
        heights: Stored heights.
        scalable: True where the file is a JPEG that TensorFlow decodes directly (else ratio 1).
        image_size: The target side (a square) or ``(height, width)``.
        crop_to_aspect_ratio: The decoder centre-crops first: the crop must keep the target's pixels.
        orientations: EXIF orientations the decoder applies (None: none).
    """
    th, tw = target_size(image_size)
    widths, heights = np.asarray(widths, np.int64), np.asarray(heights, np.int64)
    if orientations is not None:
        turned = np.isin(np.asarray(orientations), (5, 6, 7, 8))
        widths, heights = np.where(turned, heights, widths), np.where(turned, widths, heights)
    best = np.ones(len(widths), np.int32)
    for r in RATIOS[1:]:
        h, w = -(-heights // r), -(-widths // r)  # libjpeg rounds the scaled sides up
        if crop_to_aspect_ratio:
            h, w = (np.maximum(np.minimum(h, (w * th / tw).astype(np.int64)), 1),
                    np.maximum(np.minimum(w, (h * tw / th).astype(np.int64)), 1))
        best[(h >= th) & (w >= tw)] = r
    best[~np.asarray(scalable, bool)] = 1
    return best


def jpeg_ratio(info: Any, image_size: int | Sequence[int], *, crop_to_aspect_ratio: bool = False,
               orientation: int = 1) -> int:
    """The largest JPEG DCT down-scaling (1, 2, 4 or 8) that keeps at least the target's pixels.

    Args:
        info: An :class:`~tl_widgets.core.data.images.ImageInfo` (width, height, format, convert).
        image_size: The target side (a square) or ``(height, width)``.
        crop_to_aspect_ratio: The decoder centre-crops first: the crop must keep the target's pixels.
        orientation: The EXIF orientation the decoder applies (1: none).

    Returns:
        1 for anything but a JPEG that TensorFlow decodes directly, else the ratio.
    """
    scalable = info.format in ("JPEG", "MPO") and not info.convert
    return int(jpeg_ratios([info.width], [info.height], [scalable], image_size,
                           crop_to_aspect_ratio=crop_to_aspect_ratio, orientations=[orientation])[0])


def _orient(img: Any, orientation: int) -> Any:
    """Turns decoded pixels the way ``ImageOps.exif_transpose`` does for EXIF ``orientation`` (a constant)."""
    import tensorflow as tf

    if orientation in (5, 6, 7, 8):
        img = tf.transpose(img, [1, 0, 2])
    if orientation in (2, 3, 6, 7):
        img = img[:, ::-1]
    if orientation in (3, 4, 7, 8):
        img = img[::-1]
    return img


def _centre_crop(img: Any, target: tuple[int, int]) -> Any:
    """The largest centred window of ``img`` with the target's aspect ratio."""
    import tensorflow as tf

    th, tw = target
    shape = tf.shape(img)
    height, width = shape[0], shape[1]
    crop_h = tf.maximum(tf.minimum(height, tf.cast(tf.cast(width * th, tf.float32) / tw, tf.int32)), 1)
    crop_w = tf.maximum(tf.minimum(width, tf.cast(tf.cast(height * tw, tf.float32) / th, tf.int32)), 1)
    top = tf.cast(tf.cast(height - crop_h, tf.float32) / 2, tf.int32)
    left = tf.cast(tf.cast(width - crop_w, tf.float32) / 2, tf.int32)
    return img[top:top + crop_h, left:left + crop_w]


def decode_as(formats: Any, ratios: Any, channels: int) -> np.ndarray:
    """Per file, which of :data:`DECODE_AS` reads it (for ``channels``): the general decoder when it can.

    ``tf.io.decode_image`` refuses 4 channels for a JPEG and 1 for a GIF or BMP (4 for a GIF too), so
    ``image_dataset_from_directory`` stops on them with ``color_mode="rgba"`` or ``"grayscale"``; these
    are read as RGB and then given the alpha channel or turned grey. A JPEG decoded at reduced size is
    read by the JPEG decoder.
    """
    formats, ratios = np.asarray(formats, dtype=object), np.asarray(ratios)
    jpeg = np.isin(formats, ("JPEG", "MPO")) & ((ratios > 1) | (channels == 4))
    rgb = (np.isin(formats, ("GIF", "BMP")) & (channels == 1)) | ((formats == "GIF") & (channels == 4))
    return np.where(jpeg, DECODE_AS.index("jpeg"), np.where(rgb, DECODE_AS.index("rgb"), 0)).astype(np.int32)


def make_tf_decoder(image_size: int | Sequence[int], ratio: int = 1, as_float: bool = False, *,
                    orientation: int = 1, channels: int = 3, interpolation: str = "bilinear",
                    crop_to_aspect_ratio: bool = False, read_as: str = "any") -> Callable[[Any], Any]:
    """Returns ``decode(path) -> [height, width, channels]`` for ``Dataset.map`` (or one eager call).

    Args:
        image_size: Output side (a square) or ``(height, width)``.
        ratio: JPEG DCT down-scaling (1, 2, 4 or 8) of every file this decoder sees (see
            :func:`jpeg_ratio`); above 1 only JPEGs may be given.
        as_float: Return what the resize gives (``float32`` 0..255 unrounded; ``uint8`` for
            ``"nearest"``) instead of ``uint8`` rounded and clipped (for a cache of decoded images).
        orientation: EXIF orientation applied after decoding (1: the pixels as stored).
        channels: 1 (grey), 3 (RGB) or 4 (RGBA: an opaque alpha for JPEGs).
        interpolation: One of :data:`INTERPOLATIONS`.
        crop_to_aspect_ratio: Centre-crop to the target's aspect ratio before resizing (else stretch).
        read_as: One of :data:`DECODE_AS` (see :func:`decode_as`): ``"any"`` (``tf.io.decode_image``),
            ``"jpeg"`` (``tf.io.decode_jpeg``, needed for ``ratio`` > 1) or ``"rgb"`` (read as RGB, then
            turned into ``channels``).
    """
    import tensorflow as tf

    target = target_size(image_size)
    if ratio not in RATIOS:
        raise ValueError(f"Expected ratio 1, 2, 4 or 8. Received: ratio={ratio!r}")
    if orientation not in range(1, 9):
        raise ValueError(f"Expected an EXIF orientation from 1 to 8. Received: orientation={orientation!r}")
    if channels not in (1, 3, 4):
        raise ValueError(f"Expected channels 1, 3 or 4. Received: channels={channels!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Expected interpolation in {INTERPOLATIONS}. Received: interpolation={interpolation!r}")
    if read_as not in DECODE_AS or (ratio > 1 and read_as != "jpeg"):
        raise ValueError(f"Expected read_as in {DECODE_AS} ('jpeg' when ratio > 1). Received: read_as={read_as!r}")

    def decode(path: Any) -> Any:
        data = tf.io.read_file(path)
        if read_as == "any":
            img = tf.io.decode_image(data, channels=channels, expand_animations=False)
        else:
            img = (tf.io.decode_jpeg(data, channels=min(channels, 3), ratio=ratio) if read_as == "jpeg" else
                   tf.io.decode_image(data, channels=3, expand_animations=False))
            if channels == 4:
                img = tf.pad(img, [[0, 0], [0, 0], [0, 1]], constant_values=255)  # opaque
            elif channels == 1 and read_as == "rgb":
                img = tf.image.rgb_to_grayscale(img)
        img.set_shape([None, None, channels])
        if orientation != 1:
            img = _orient(img, orientation)
        if crop_to_aspect_ratio:
            img = _centre_crop(img, target)
        out = tf.image.resize(img, target, method=interpolation)
        if as_float or out.dtype == tf.uint8:  # nothing cached (or "nearest", which keeps uint8)
            return out
        return tf.cast(tf.round(tf.clip_by_value(out, 0.0, 255.0)), tf.uint8)

    return decode
