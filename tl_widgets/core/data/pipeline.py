"""Data sources (files, arrays, streams) and the tf.data pipeline built from them.

Used by :func:`tl_widgets.core.data.loading.load_datasets`; TensorFlow is imported
inside functions only. Image files go through the one file pipeline
(:func:`tl_widgets.core.data.file_pipeline.file_dataset`: per-file reduced JPEG decoding,
bad files skipped and reported); arrays and streams have the same shape:

    elements -> [shuffle] -> parallel resize to uint8 -> [cache] -> [shuffle] -> batch -> float32 -> prefetch

Images stay ``uint8`` until after batching (4x less memory in caches and
buffers); the cast to ``float32`` happens on whole batches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tl_widgets.core.data.cache_budget import cache_file
from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.file_pipeline import STREAM_SHUFFLE, DecodeSpec, ImageFiles, file_dataset
from tl_widgets.core.data.first_pass import FirstPassCheck
from tl_widgets.core.data.images import DataError

__all__ = [
    "FileSource",
    "ArraySource",
    "StreamSource",
    "array_source",
    "code_source",
    "build_pipeline",
    "split_indices",
    "limit_per_class",
    "shard_indices",
    "inverse_frequency",
]

# -- splitting ---------------------------------------------------------------


def split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split of ``range(len(labels))`` into (train, val) index arrays.

    Every class keeps at least one training item. Indices come back sorted.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = min(int(round(len(idx) * fraction)), len(idx) - 1) if fraction > 0 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)) if val else np.array([], int)


def limit_per_class(indices: np.ndarray, labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Keeps at most ``limit`` of ``indices`` per class (seeded choice), sorted."""
    if not limit:
        return indices
    rng = np.random.default_rng([seed, 1])
    keep = []
    for c in np.unique(labels[indices]):
        idx = indices[labels[indices] == c]
        keep.append(idx if len(idx) <= limit else rng.choice(idx, size=limit, replace=False))
    return np.sort(np.concatenate(keep))


def shard_indices(indices: np.ndarray, shard: tuple[int, int] | None, seed: int) -> np.ndarray:
    """This process's disjoint share of ``indices``; every shard gets the same count.

    The indices are dealt round-robin after a seeded shuffle (so each shard
    sees every class); the remainder (< count items) is dropped so that all
    processes run the same number of steps.
    """
    if shard is None:
        return indices
    index, count = shard
    if not (isinstance(count, int) and isinstance(index, int) and count >= 1 and 0 <= index < count):
        raise DataError(f"Expected shard=(index, count) with 0 <= index < count. Received: shard={shard!r}")
    order = indices[np.random.default_rng([seed, 2]).permutation(len(indices))]
    per = len(order) // count
    if per == 0:
        raise DataError(f"Expected at least {count} items to shard across {count} processes. Received: {len(order)}")
    return np.sort(order[: per * count][index::count])


def inverse_frequency(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """``total / (n_classes * count_c)`` per class (1.0 for an absent class)."""
    counts = np.bincount(labels, minlength=n_classes)
    total = counts.sum()
    return {c: (float(total / (n_classes * counts[c])) if counts[c] else 1.0) for c in range(n_classes)}



@dataclass
class FileSource:
    """Image files on disk (paths already converted where TF can't decode them) and their labels."""

    report: DatasetReport
    class_names: list[str]
    labels: np.ndarray
    files: ImageFiles

    @property
    def paths(self) -> np.ndarray:
        """The files' paths as TensorFlow reads them."""
        return self.files.paths


@dataclass
class ArraySource:
    """Images in a numpy array ``[N, H, W]`` or ``[N, H, W, C]`` (C = 1, 3 or 4)."""

    report: DatasetReport
    class_names: list[str]
    labels: np.ndarray
    x: np.ndarray
    scale: float


@dataclass
class StreamSource:
    """A ``tf.data.Dataset`` of single ``(image, label)`` elements, labels already integers."""

    report: DatasetReport
    class_names: list[str]
    labels: np.ndarray
    dataset: Any
    scale: float


def _int_labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)  # one-hot
    if y.ndim != 1 or (y.size and (not np.all(np.isfinite(y)) or np.any(y < 0) or np.any(y != np.round(y)))):
        raise DataError(f"Expected {what} labels as non-negative integers [N] or one-hot [N, C]. Received: shape {y.shape}")
    return y.astype(np.int32)


def _class_names(labels: np.ndarray, names: Any) -> list[str]:
    n = int(labels.max()) + 1 if labels.size else 0
    if names is None:
        return [str(i) for i in range(n)]
    names = [str(s) for s in names]
    if len(names) < n:
        raise DataError(f"Expected at least {n} class names (labels go up to {n - 1}). Received: {names}")
    return names


def _scale_for(max_value: float, dtype: Any) -> float:
    return 255.0 if np.issubdtype(dtype, np.floating) and max_value <= 1.0 else 1.0


def array_source(x: Any, y: Any, names: Any = None, min_size: int | None = None) -> ArraySource:
    """Wraps ``(x, y[, class_names])`` arrays, checking shapes and labels."""
    x = np.asarray(x)
    labels = _int_labels(y, "numpy")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3, 4)):
        raise DataError(f"Expected images shaped [N, H, W] or [N, H, W, 1|3|4]. Received: shape {x.shape}")
    if len(x) != len(labels):
        raise DataError(f"Expected as many labels as images. Received: {len(x)} images and {len(labels)} labels")
    if len(x) == 0:
        raise DataError("Expected at least one image. Received: an empty array")
    class_names = _class_names(labels, names)
    if len(class_names) < 2:
        raise DataError(f"Expected at least 2 classes. Received: {class_names}")
    n = len(x)
    report = DatasetReport.from_labels(class_names, labels, np.full(n, x.shape[1]), np.full(n, x.shape[2]), min_size)
    scale = _scale_for(float(x.max()), x.dtype)
    return ArraySource(report, class_names, labels, x, scale)


def _pydataset_to_tf(data: Any) -> Any:
    import tensorflow as tf

    n = len(data)
    if n == 0:
        raise DataError("Expected a PyDataset with at least one batch. Received: len(code_data) == 0")
    x0, y0 = (np.asarray(a) for a in data[0][:2])

    def items() -> Any:
        for i in range(n):
            xb, yb = data[i][:2]
            yield from zip(np.asarray(xb), np.asarray(yb))

    spec = (
        tf.TensorSpec([None] * (x0.ndim - 1), tf.as_dtype(x0.dtype)),
        tf.TensorSpec(y0.shape[1:], tf.as_dtype(y0.dtype)),
    )
    return tf.data.Dataset.from_generator(items, output_signature=spec)


def stream_source(ds: Any, names: Any = None, min_size: int | None = None) -> StreamSource:
    """Wraps a ``tf.data.Dataset`` of ``(image, label[, weight])``; reads it once for labels and sizes."""
    import tensorflow as tf

    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2:
        raise DataError(f"Expected a tf.data.Dataset of (image, label) pairs. Received: element_spec={spec}")
    if spec[0].shape.rank == 4:
        ds = ds.unbatch()
        spec = ds.element_spec
    if spec[0].shape.rank not in (2, 3):
        raise DataError(f"Expected images shaped [H, W] or [H, W, C]. Received: element_spec={spec}")
    one_hot = spec[1].shape.rank == 1

    def label(y: Any) -> Any:
        return tf.cast(tf.argmax(y, output_type=tf.int32) if one_hot else y, tf.int32)

    pairs = ds.map(lambda x, y, *rest: (x, label(y)))
    stats = pairs.map(
        lambda x, y: (y, tf.shape(x)[0], tf.shape(x)[1], tf.cast(tf.reduce_max(x), tf.float32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    rows = [tuple(t.numpy() for t in batch) for batch in stats.batch(4096)]
    if not rows:
        raise DataError("Expected a non-empty tf.data.Dataset. Received: a dataset with no elements")
    labels, heights, widths, maxes = (np.concatenate([r[k] for r in rows]) for k in range(4))
    labels = _int_labels(labels, "tf.data")
    class_names = _class_names(labels, names)
    if len(class_names) < 2:
        raise DataError(f"Expected at least 2 classes. Received: {class_names}")
    report = DatasetReport.from_labels(class_names, labels, heights, widths, min_size)
    scale = _scale_for(float(maxes.max()), spec[0].dtype.as_numpy_dtype)
    return StreamSource(report, class_names, labels, pairs, scale)


def code_source(data: Any, min_size: int | None = None) -> ArraySource | StreamSource:
    """Numpy ``(x, y[, names])``, a ``tf.data.Dataset`` or a ``keras.utils.PyDataset``."""
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return array_source(data[0], data[1], data[2] if len(data) == 3 else None, min_size)
    import keras

    if isinstance(data, keras.utils.PyDataset):
        return stream_source(_pydataset_to_tf(data), None, min_size)
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return stream_source(data, None, min_size)
    raise DataError(
        "Expected code_data as (x, y), (x, y, class_names), a tf.data.Dataset or a keras.utils.PyDataset. "
        f"Received: {type(data).__name__}"
    )


def _array_prepare(image_size: int, scale: float) -> Any:
    import tensorflow as tf

    def prepare(img: Any) -> Any:
        if img.shape.rank == 2:
            img = img[..., None]
        channels = img.shape[-1]
        if channels == 1:
            img = tf.tile(img, [1, 1, 3])
        elif channels == 4:
            img = img[..., :3]
        img = tf.cast(img, tf.float32) * scale
        shape = tf.shape(img)
        same = tf.logical_and(tf.equal(shape[0], image_size), tf.equal(shape[1], image_size))
        img = tf.cond(same, lambda: img, lambda: tf.image.resize(img, [image_size, image_size]))
        img = tf.ensure_shape(img, [image_size, image_size, 3])
        return tf.cast(tf.round(tf.clip_by_value(img, 0.0, 255.0)), tf.uint8)

    return prepare


def build_pipeline(
    source: FileSource | ArraySource | StreamSource,
    idx: np.ndarray,
    image_size: int,
    batch_size: int,
    training: bool,
    cache: str,
    seed: int | None,
    cache_dir: Path | None,
    check: FirstPassCheck | None = None,
) -> Any:
    """The batched pipeline over ``source``'s items ``idx`` (see the module docstring).

    Files go through :func:`~tl_widgets.core.data.file_pipeline.file_dataset` (the pipeline the public
    ``image_dataset`` builds too) with EXIF orientation applied; ``check`` (its positions are those of
    ``idx``) learns which files the decoder dropped during the first complete pass.
    """
    if isinstance(source, FileSource):
        spec = DecodeSpec((image_size, image_size), exif_transpose=True)
        return file_dataset(source.files, source.labels, idx, spec, batch_size, shuffle=training, seed=seed,
                            cache=cache, cache_dir=cache_dir, check=check)
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    plain = tf.autograph.experimental.do_not_convert  # no Python control flow here: skip autograph's slow rewrite
    n = len(idx)
    fn = _array_prepare(image_size, source.scale)
    if isinstance(source, ArraySource):
        base = tf.data.Dataset.from_tensor_slices((source.x[idx], source.labels[idx]))
        buffer = n
    else:
        keep = np.zeros(len(source.labels), bool)
        keep[idx] = True
        mask = tf.constant(keep)
        base = source.dataset.enumerate().filter(lambda i, el: tf.gather(mask, i)).map(lambda i, el: el)
        buffer = min(n, STREAM_SHUFFLE)

    def prepare(x: Any, y: Any) -> Any:
        return fn(x), y

    def shuffled(ds: Any, size: int) -> Any:
        return ds.shuffle(max(1, size), seed=seed, reshuffle_each_iteration=True) if training else ds

    if cache == "none":
        ds = shuffled(base, buffer).map(plain(prepare), num_parallel_calls=autotune)
    else:
        ds = base.map(plain(prepare), num_parallel_calls=autotune)
        if cache == "memory":
            ds = shuffled(ds.cache(), n)
        else:
            if cache_dir is None:
                raise DataError("Expected a cache folder for cache='disk'. Received: None")
            key = f"{type(source).__name__}|{image_size}|{id(source)}|{hashlib.sha1(idx.tobytes()).hexdigest()}"
            ds = shuffled(ds.cache(cache_file(cache_dir, key)), min(n, STREAM_SHUFFLE))
    ds = ds.batch(batch_size)
    ds = ds.map(plain(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.int32))), num_parallel_calls=autotune)
    return ds.prefetch(autotune)
