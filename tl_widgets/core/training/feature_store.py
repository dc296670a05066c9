"""Disk-backed feature arrays: streamed into memory-mapped ``.npy`` files, published atomically, read by batch.

Features for 100k images at 1,280 floats are half a gigabyte; they never need
to fit in memory. :class:`FeatureWriter` writes each batch straight into a
memory-mapped ``.npy`` (:func:`numpy.lib.format.open_memmap`) inside a private
temporary folder and publishes the folder under its final name with one
rename, so a reader sees a complete set or none. :func:`open_entry` maps the
arrays back read-only, and :class:`FeatureBatches` feeds the head batch by
batch from them (or from in-memory arrays: the same batches either way, so a
disk-backed and an in-memory run train the same model).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable

import keras
import numpy as np
from numpy.lib.format import open_memmap

from tl_widgets.core.training.feature_cache_trim import META

__all__ = ["FeatureWriter", "open_entry", "FeatureBatches", "SPLITS"]

SPLITS = ("train", "val")


class FeatureWriter:
    """Streams the features of one or more splits into a cache entry folder.

    Example:

    >>> w = FeatureWriter(folder)                                     # doctest: +SKIP
    >>> w.write_split("train", batches, rows=1000, dim=1280)           # doctest: +SKIP
    >>> w.publish()                                                     # doctest: +SKIP

    Args:
        final: The entry's folder once published (must not exist yet).
    """

    def __init__(self, final: str | os.PathLike[str]) -> None:
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.final.parent / f".tmp-{uuid.uuid4().hex[:12]}-{self.final.name}"
        self.tmp.mkdir()
        self.rows: dict[str, int] = {}

    def write_split(self, split: str, batches: Iterable[tuple[np.ndarray, np.ndarray]], rows: int) -> int:
        """Writes ``(features, labels)`` batches of ``split`` as they come; returns the rows written.

        Args:
            split: ``"train"`` or ``"val"``.
            batches: Pairs of a ``(n, dim)`` float array and ``n`` labels.
            rows: How many rows to expect (the memory map's size); fewer is
                fine (the entry records how many came), more is an error.

        Raises:
            ValueError: More rows came than ``rows``, or no batch came.
        """
        if split not in SPLITS:
            raise ValueError(f"Expected a split in {SPLITS}. Received: {split!r}")
        x = y = None
        n = 0
        try:
            for feats, labels in batches:
                feats = np.asarray(feats, dtype="float32")
                if x is None:
                    x = open_memmap(self.tmp / f"x_{split}.npy", mode="w+", dtype="float32",
                                    shape=(rows, int(np.prod(feats.shape[1:]))))
                    y = open_memmap(self.tmp / f"y_{split}.npy", mode="w+", dtype="int32", shape=(rows,))
                k = len(feats)
                if n + k > rows:
                    raise ValueError(f"Expected at most {rows} images in the {split} split. Received: {n + k} "
                                     "or more")
                x[n:n + k] = feats.reshape(k, -1)
                y[n:n + k] = np.asarray(labels).reshape(-1)
                n += k
            if x is None or n == 0:
                raise ValueError(f"Expected a non-empty {split} split to compute features from. Received: 0 batches")
            x.flush()
            y.flush()
        except BaseException:
            del x, y
            self.discard()
            raise
        del x, y  # unmap: the pages go back to the page cache, written
        self.rows[split] = n
        return n

    def publish(self) -> Path:
        """Renames the folder into place; when another writer got there first, keeps theirs."""
        (self.tmp / META).write_text(json.dumps({"rows": self.rows, "version": 2}))
        try:
            os.rename(self.tmp, self.final)
        except OSError:
            if not (self.final / META).is_file():
                self.discard()
                raise
            self.discard()  # same key, same features: the one already published is as good
        return self.final

    def discard(self) -> None:
        """Removes the unpublished folder."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def open_entry(folder: str | os.PathLike[str]) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The published arrays of ``folder`` mapped read-only: ``{split: (x, y)}``, or None when absent/incomplete."""
    folder = Path(folder)
    meta_path = folder / META
    if not meta_path.is_file():
        return None
    rows = json.loads(meta_path.read_text()).get("rows", {})
    out = {}
    for split, n in rows.items():
        x = np.load(folder / f"x_{split}.npy", mmap_mode="r")
        y = np.load(folder / f"y_{split}.npy", mmap_mode="r")
        out[split] = (x[:n], y[:n])
    return out


class FeatureBatches(keras.utils.PyDataset):
    """Batches of ``(features, labels)`` read from arrays (memory-mapped or not), reshuffled every epoch.

    Only one batch is in memory at a time (plus the pages the OS caches).
    The order depends only on ``seed`` and the epoch, so the same arrays on
    disk or in memory give the same batches.

    Args:
        x: ``(n, dim)`` features.
        y: ``n`` labels.
        batch_size: Rows per batch (the last one may be smaller).
        shuffle: Reshuffle at every epoch (training) or keep the order (validation).
        seed: Seeds the shuffle (None: a fresh random order per run).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
                 seed: int | None = None) -> None:
        super().__init__()
        if len(x) != len(y):
            raise ValueError(f"Expected as many labels as feature rows. Received: {len(x)} rows, {len(y)} labels")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order: np.ndarray | None = None
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = index * self.batch_size, min((index + 1) * self.batch_size, len(self.y))
        if self._order is None:
            return np.asarray(self.x[lo:hi], dtype="float32"), np.asarray(self.y[lo:hi], dtype="int32")
        rows = np.sort(self._order[lo:hi])  # ascending: reads from a memory map go forward
        return np.asarray(self.x[rows], dtype="float32"), np.asarray(self.y[rows], dtype="int32")

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(len(self.y))
