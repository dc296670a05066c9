"""The one tf.data pipeline over image files: training's (``load_datasets``) and the public ``image_dataset``'s.

::

    file refs -> [shuffle refs] -> parallel decode by the file's ratio group (+ record position) -> ignore_errors
              -> [refill to the set-up count] -> [cache] -> [shuffle] -> batch
              -> [labels encoded, pixels cast] -> prefetch

* **Per-file JPEG ratio.** Files are grouped by their reduced-decode ratio (and, when EXIF orientation is
  applied, by orientation), one constant decoder per group (:func:`~tl_widgets.core.data.decoding.make_tf_decoder`):
  one small file no longer sets every photo back to a full decode. With one group (the usual case) there is
  no branch at all; with several, each element picks its group's decoder (``tf.switch_case``: a few
  microseconds next to a decode). (Merging per-group datasets with ``choose_from_datasets`` would avoid even
  that, but TensorFlow 2.21 cannot ``concatenate`` after it: "Incompatible shapes at component 0".)
* **Bad files never stop an epoch.** The set-up reads headers only; a file whose data turns out to be broken
  fails in the decoder and is dropped (``ignore_errors``); the decoder records each position it delivered and
  :class:`~tl_widgets.core.data.first_pass.FirstPassCheck` reports the missing ones at the end of the first pass.
* **Known length, when asked** (``refill``, for the Keras drop-in): after a drop, the pass is topped up from a
  fresh pass (a few images repeated), so the dataset always has the set-up's element count and ``len(ds)``
  works as with Keras. Without it (training), the epoch is just shorter and the counts are lowered.
* **Cache** (``"memory"`` or ``"disk"``): decoded ``uint8`` images, cast to ``float32`` per batch; ``"none"``
  decodes straight to what the resize gives (``float32``, Keras' values).

TensorFlow is imported inside functions only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.cache_budget import cache_file
from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.decoding import DECODE_AS, decode_as, jpeg_ratios, make_tf_decoder
from tl_widgets.core.data.first_pass import FirstPassCheck
from tl_widgets.core.data.images import DataError, ImageInfo, convert_to_png
from tl_widgets.core.settings import home_path

__all__ = ["DecodeSpec", "ImageFiles", "prepare_files", "work_folder", "file_dataset", "STREAM_SHUFFLE"]

STREAM_SHUFFLE = 2048
"""Shuffle-buffer cap where elements are decoded images read back in order (a disk cache)."""
DECODE_BATCH = 32
"""Files per decoder call when the output is not batched as decoded (a cache, or single images)."""
MAX_UNROLLED = 128
"""Largest batch decoded by an unrolled graph (one decoder per image); larger ones loop."""
SMALL_PIXELS = 1_000_000
"""Up to this median of stored pixels, files are decoded a batch per call; above, one per call."""


def _image_dtype(spec: DecodeSpec, cache: str) -> Any:
    import tensorflow as tf

    return tf.float32 if cache == "none" and spec.interpolation != "nearest" else tf.uint8


@dataclass(frozen=True)
class DecodeSpec:
    """How every file of a pipeline becomes a tensor (``image_dataset_from_directory``'s meanings).

    Attributes:
        size: ``(height, width)`` of the output.
        channels: 1 (grey), 3 (RGB) or 4 (RGBA).
        interpolation: A ``tf.image.resize`` method (see :data:`~tl_widgets.core.data.decoding.INTERPOLATIONS`).
        crop_to_aspect_ratio: Centre-crop to the output's aspect ratio instead of stretching.
        exif_transpose: Apply JPEGs' EXIF orientation (Keras does not; training in the Studio does).
    """

    size: tuple[int, int]
    channels: int = 3
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    exif_transpose: bool = False


@dataclass
class ImageFiles:
    """Image files as the decoder reads them, with what their headers said.

    Attributes:
        paths: Paths for TensorFlow (files it would decode wrongly: their converted PNG).
        widths: Stored widths.
        heights: Stored heights.
        formats: Pillow's format name of what TensorFlow reads (``"PNG"`` for converted files).
        orientations: EXIF orientation (1 to 8; 1 for converted files: the conversion applied it).
    """

    paths: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    formats: np.ndarray
    orientations: np.ndarray

    @property
    def scalable(self) -> np.ndarray:
        """True for JPEGs TensorFlow decodes directly (reduced-size decoding possible)."""
        return np.isin(self.formats, ("JPEG", "MPO"))

    def __len__(self) -> int:
        return len(self.paths)


def work_folder(work_dir: str | os.PathLike[str] | None) -> Path:
    """Where conversions and disk caches go: ``work_dir``, else the user's (or seat's) private home."""
    if work_dir is None:
        # The user's (or served seat's) private home: never a shared, predictable folder under the system temp.
        path = home_path("data_work")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path
    path = Path(work_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_files(infos: Sequence[ImageInfo], work_dir: str | os.PathLike[str] | None) -> ImageFiles:
    """:class:`ImageFiles` for header-checked files; the few TensorFlow gets wrong are converted once to PNG."""
    paths: list[str] = []
    convert_dir = None
    for info in infos:
        if info.convert:
            convert_dir = convert_dir or work_folder(work_dir) / "converted"
            paths.append(convert_to_png(info.path, convert_dir))
        else:
            paths.append(info.path)
    converted = np.array([bool(i.convert) for i in infos], bool).reshape(-1)
    return ImageFiles(
        paths=np.array(paths, dtype=object),
        widths=np.array([i.width for i in infos], np.int64),
        heights=np.array([i.height for i in infos], np.int64),
        formats=np.array(["PNG" if i.convert else i.format for i in infos], dtype=object),
        orientations=np.where(converted, 1, np.array([i.orientation for i in infos], np.int8)).astype(np.int8),
    )


def _decoder_keys(files: ImageFiles, idx: np.ndarray, spec: DecodeSpec) -> np.ndarray:
    """Per file, its decoder as one integer: how it is read, its reduced-decode ratio, its orientation."""
    orient = files.orientations[idx] if spec.exif_transpose else np.ones(len(idx), np.int8)
    ratios = jpeg_ratios(files.widths[idx], files.heights[idx], files.scalable[idx], spec.size,
                         crop_to_aspect_ratio=spec.crop_to_aspect_ratio, orientations=orient)
    return decode_as(files.formats[idx], ratios, spec.channels) * 256 + ratios * 16 + orient.astype(np.int32)


def _labels_out(y: Any, label_mode: str | None, num_classes: int) -> Any:
    import tensorflow as tf

    if label_mode == "categorical":
        return tf.one_hot(y, num_classes)
    if label_mode == "binary":
        return tf.expand_dims(tf.cast(y, tf.float32), axis=-1)
    return y


def file_dataset(
    files: ImageFiles,
    labels: np.ndarray,
    idx: np.ndarray,
    spec: DecodeSpec,
    batch_size: int | None,
    *,
    shuffle: bool,
    seed: int | None,
    cache: str = "none",
    cache_dir: Path | None = None,
    check: FirstPassCheck | None = None,
    label_mode: str | None = "int",
    num_classes: int = 0,
    refill: bool = False,
) -> Any:
    """The pipeline over ``files[idx]`` (see the module docstring).

    Args:
        files: The files.
        labels: ``int32`` label per file (of ``files``, not of ``idx``).
        idx: Which files, in listing order; positions (for ``check``) are indices into ``idx``.
        spec: Decoding and resizing.
        batch_size: Images per batch (None: single images).
        shuffle: Reshuffle every pass (``seed`` makes the sequence of orders reproducible).
        seed: Shuffling seed.
        cache: ``"none"``, ``"memory"`` or ``"disk"`` (then ``cache_dir`` is needed).
        cache_dir: Folder of disk caches.
        check: Learns which files the decoder dropped during the first complete pass.
        label_mode: ``"int"`` (``int32``), ``"categorical"`` (one-hot ``float32``), ``"binary"``
            (``float32 [B, 1]``) or None (images only).
        num_classes: For ``"categorical"``.
        refill: Keep the set-up's element count when files are dropped (see the module docstring).

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)`` (or images); images ``float32`` 0..255 (``uint8``
        for ``"nearest"``), ``[B, height, width, channels]``.
    """
    import tensorflow as tf

    plain = tf.autograph.experimental.do_not_convert  # no Python control flow here: skip autograph's rewrite
    autotune = tf.data.AUTOTUNE
    n = len(idx)
    if check is None:
        check = FirstPassCheck(files.paths[idx], np.zeros(n, np.int32), [], DatasetReport(None, [], {}), None, None,
                               "dataset")
    order = np.arange(n, dtype=np.int32)
    if shuffle and cache == "disk":
        # A disk cache is read back in the order it was written, shuffled through a bounded buffer:
        # write it in a seeded random order, so that classes are mixed (files are listed class by class).
        order = order[np.random.default_rng([0 if seed is None else seed, 3]).permutation(n)]
    groups, group_of = np.unique(_decoder_keys(files, idx, spec), return_inverse=True)
    decoders = [make_tf_decoder(spec.size, key // 16 % 16, as_float=cache == "none", orientation=key % 16,
                                channels=spec.channels, interpolation=spec.interpolation,
                                crop_to_aspect_ratio=spec.crop_to_aspect_ratio, read_as=DECODE_AS[key // 256])
                for key in groups.tolist()]
    # Refs in position order (for the retry) and in pipeline order; the group column only with several decoders.
    columns: tuple[np.ndarray, ...] = (files.paths[idx].astype(str), np.asarray(labels, np.int32)[idx],
                                       np.arange(n, dtype=np.int32))
    if len(decoders) > 1:
        columns += (group_of.astype(np.int32),)

    def decode_one(path: Any, *group: Any) -> Any:
        if not group:
            return decoders[0](path)
        return tf.switch_case(group[0], [lambda d=d: d(path) for d in decoders])

    # Small images: one call decodes a whole batch (tf.data's per-image cost is then paid per batch: 20 %
    # less CPU at 96 px). Photos: one call per image (the decode dwarfs that cost; calls run in parallel).
    small = n == 0 or float(np.median(files.widths[idx] * files.heights[idx])) <= SMALL_PIXELS
    batched = bool(batch_size) and cache == "none" and small
    per_call = int(batch_size) if batched else (DECODE_BATCH if small else 1)
    image_spec = tf.TensorSpec([*spec.size, spec.channels], _image_dtype(spec, cache))

    def decode_batch(paths: Any, ys: Any, pos: Any, *group: Any) -> Any:
        if per_call <= MAX_UNROLLED and not group:
            parts = [tf.unstack(c, num=per_call) for c in (paths, *group)]
            images = tf.stack([decode_one(*row) for row in zip(*parts)])
        else:  # several decoders: a loop (an unrolled graph would trace every decoder once per image)
            images = tf.map_fn(lambda row: decode_one(*row), (paths, *group), fn_output_signature=image_spec)
        return check.recorded(pos, images), ys

    def decode_again(position: int) -> Any:  # eagerly, for check.retry
        return decoders[int(columns[3][position]) if len(columns) > 3 else 0](columns[0][position])

    refs = tf.data.Dataset.from_tensor_slices(tuple(c[order] for c in columns))
    if shuffle and cache == "none":  # file references: a full shuffle is cheap
        refs = refs.shuffle(max(1, n), seed=seed, reshuffle_each_iteration=True)
    rescued = check.retry(columns[1], decode_again, image_spec)
    if per_call == 1:
        main = refs.map(plain(lambda path, y, pos, *group: (check.recorded(pos, decode_one(path, *group)), y)),
                        num_parallel_calls=autotune).ignore_errors()
    else:
        # Full batches only: the last files of a pass (fewer than a batch) are left, in their order, to the
        # retry, which decodes them with the files of any batch that failed: a pass then has exactly
        # ceil(good files / batch size) batches.
        empty = (tf.zeros([0, *image_spec.shape], image_spec.dtype), tf.zeros([0], tf.int32))

        def decode_full(paths: Any, ys: Any, pos: Any, *group: Any) -> Any:
            return tf.cond(tf.equal(tf.size(pos), per_call), lambda: decode_batch(paths, ys, pos, *group),
                           lambda: check.deferred(pos, empty))

        main = (refs.batch(per_call).map(plain(decode_full), num_parallel_calls=autotune).ignore_errors()
                .filter(lambda x, y: tf.size(y) > 0))
    if batched:  # batches all along
        one_pass = main.concatenate(rescued.batch(per_call))
        count = -(-n // per_call)
    else:  # single images (for the cache, the output's batches, or unbatched output)
        one_pass = (main if per_call == 1 else main.unbatch()).concatenate(rescued)
        count = n
    ds = one_pass = check.pass_start(one_pass.element_spec).concatenate(one_pass)
    if refill:  # an infinite tail makes the length known: exactly the set-up's count
        ds = one_pass.concatenate(one_pass.repeat()).take(count)
    if cache == "memory":
        ds = ds.cache()
    elif cache == "disk":
        if cache_dir is None:
            raise DataError("Expected a cache folder for cache='disk'. Received: None")
        ds = ds.cache(cache_file(cache_dir, "\n".join([repr(spec), *columns[0].tolist()])))
    if shuffle and cache != "none":
        ds = ds.shuffle(max(1, n if cache == "memory" else min(n, STREAM_SHUFFLE)), seed=seed,
                        reshuffle_each_iteration=True)
    if batch_size and not batched:
        ds = ds.batch(batch_size)
    cast = cache != "none" and spec.interpolation != "nearest"
    if cast or label_mode != "int":

        def finish(x: Any, y: Any) -> Any:
            x = tf.cast(x, tf.float32) if cast else x
            return x if label_mode is None else (x, _labels_out(y, label_mode, num_classes))

        ds = ds.map(plain(finish), num_parallel_calls=autotune)
    return ds.prefetch(autotune)

