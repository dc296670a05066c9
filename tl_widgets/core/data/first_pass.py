"""Bad files found during the first epoch: skipped by the pipeline, then reported like up-front finds.

Set-up checks headers only (:mod:`tl_widgets.core.data.headers`); a file whose
image data is truncated or corrupt fails in the tf.data decoder, and
``ignore_errors`` drops what failed. :class:`FirstPassCheck` learns which files
those were, at almost no cost (:mod:`tl_widgets.core.data.file_pipeline` builds
the pipeline around it):

* every decoder call records the positions it delivered in a small TensorFlow
  hash table (one graph op per call: no Python per image or per batch);
* after the pass, :meth:`FirstPassCheck.retry` decodes the files the pass did
  not deliver, one by one: small images are decoded a full batch per call, so
  one broken file drops its batch, and its good batch-mates are delivered there,
  at the end of the same pass (with the pass's last few files, never batched).
  What fails there is broken. Only those files are opened again with Pillow
  (:func:`~tl_widgets.core.data.images.check_image`) to learn the reason.

The broken files are added to the :class:`~tl_widgets.core.data.dataset_report.DatasetReport`
(``skipped``, ``counts``, the skipped-files warning) after the first pass, removed
from the pipeline's keys (which are put in delivery order), and announced to the
watchers (the runner turns them into a run message;
:func:`~tl_widgets.core.data.image_dataset.image_dataset` into a Python warning).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.images import ImageInfo, SkippedFile, check_image
from tl_widgets.core.i18n import _, ngettext

__all__ = ["FirstPassCheck", "late_skip_message", "describe_skipped"]

Watcher = Callable[[list[SkippedFile]], None]


def describe_skipped(found: list[SkippedFile], shown: int = 5) -> str:
    """The first ``shown`` skipped files as ``name (reason); ...`` and how many more."""
    text = "; ".join(f"{Path(s.path).name} ({s.reason})" for s in found[:shown])
    if len(found) > shown:
        text += _(" and {count} more").format(count=len(found) - shown)
    return text


def late_skip_message(found: list[SkippedFile], what: str) -> str:
    """The message for files dropped during the first pass over ``what`` (``"training"``, ``"validation"``, ``"dataset"``)."""
    shown = describe_skipped(found)
    if what == "dataset":
        text = ngettext("{count} file could not be decoded during the first pass and was skipped "
                        "(see the report's skipped list): {files}.",
                        "{count} files could not be decoded during the first pass and were skipped "
                        "(see the report's skipped list): {files}.", len(found))
    elif what == "validation":
        text = ngettext("{count} validation file could not be decoded during the first epoch and was skipped "
                        "(see the report's skipped list): {files}.",
                        "{count} validation files could not be decoded during the first epoch and were skipped "
                        "(see the report's skipped list): {files}.", len(found))
    else:
        text = ngettext("{count} training file could not be decoded during the first epoch and was skipped "
                        "(see the report's skipped list): {files}.",
                        "{count} training files could not be decoded during the first epoch and were skipped "
                        "(see the report's skipped list): {files}.", len(found))
    return text.format(count=len(found), files=shown)


class FirstPassCheck:
    """Tracks one pipeline's first complete pass and reports the files it dropped.

    Args:
        paths: The pipeline's files in position order.
        labels: Their class indices.
        class_names: Class names (for the report's counts).
        report: Where found files are added (``skipped`` and the warning).
        counts: The per-class counts to lower (None: leave ``report.counts`` alone,
            e.g. for a separate validation folder).
        keys: The pipeline's keys in position order (found files are removed in place), or None.
        what: ``"training"``, ``"validation"`` or ``"dataset"`` (for messages).
    """

    def __init__(self, paths: np.ndarray, labels: np.ndarray, class_names: list[str], report: DatasetReport,
                 counts: dict[str, int] | None, keys: list[str] | None, what: str) -> None:
        self.paths = paths
        self.labels = labels
        self.class_names = class_names
        self.report = report
        self.counts = counts
        self.keys = keys
        self.what = what
        self.done = False
        self.found: list[SkippedFile] = []
        self._seen: Any = None  # TensorFlow tables of this pass's positions, made with the pipeline (_tables)
        self._deferred: Any = None
        self._lock = threading.Lock()
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        """Calls ``watcher(found files)`` once, when a first pass drops files (at once if it already did)."""
        with self._lock:
            self._watchers.append(watcher)
            found = list(self.found) if self.done else []
        if found:
            watcher(found)

    def pass_ended(self, delivered: np.ndarray, order: np.ndarray | None = None) -> list[SkippedFile]:
        """Closes a complete pass: finds, reports and announces the dropped files (first time only).

        Args:
            delivered: The positions the pass delivered.
            order: The positions in the order the pass delivered them: the keys are put in this order (files
                rescued after their batch failed come last); None leaves the order alone.
        """
        with self._lock:
            if self.done:
                return []
            self.done = True
            seen = np.zeros(len(self.paths), bool)
            seen[np.asarray(delivered, np.int64)] = True
            missing = np.flatnonzero(~seen)
            self.found = [self._reason(str(self.paths[i])) for i in missing]
            if self.keys is not None and (order is not None or len(missing)):
                keep = np.flatnonzero(seen) if order is None else np.asarray(order, np.int64)
                self.keys[:] = [self.keys[int(i)] for i in keep]  # delivery order, the broken files left out
            if self.found:
                self._report(missing)
            watchers = list(self._watchers)
        for watcher in watchers if self.found else []:
            watcher(list(self.found))
        return list(self.found)

    @staticmethod
    def _reason(path: str) -> SkippedFile:
        checked = check_image(path)
        if isinstance(checked, ImageInfo):  # Pillow reads it, TensorFlow's decoder does not
            return SkippedFile(path, _("corrupt or truncated (TensorFlow's decoder failed on this {format})").format(
                format=checked.format))
        return checked

    def _report(self, missing: np.ndarray) -> None:
        from tl_widgets.core.data.scanning import skipped_warning

        report = self.report
        before = len(report.skipped)
        report.skipped.extend(self.found)
        old = skipped_warning(before)
        report.warnings = [w for w in report.warnings if w != old] + [skipped_warning(len(report.skipped))]
        if self.counts is not None:
            for i in missing:
                name = self.class_names[int(self.labels[i])]
                self.counts[name] = self.counts.get(name, 0) - 1
            empty = [k for k, v in self.counts.items() if v <= 0]
            if empty:
                report.warnings.append(_("No usable image is left in class folders {names}.").format(names=empty))

    # -- the tf.data side ----------------------------------------------------------
    def _tables(self) -> tuple[Any, Any]:
        """This pass's positions: delivered by the decoder, and deferred to :meth:`retry` (value: their order)."""
        import tensorflow as tf

        if self._seen is None:
            # Hash tables, not tf.Variables: pipelines are built inside a distribution strategy's scope,
            # which would turn a variable into a distributed one. Lookup tables live on the CPU.
            with tf.init_scope():  # made eagerly, even when first asked for while the decoder is traced
                self._seen = tf.lookup.experimental.MutableHashTable(tf.int32, tf.int32, default_value=-1)
                self._deferred = tf.lookup.experimental.MutableHashTable(tf.int32, tf.int32, default_value=-1)
        return self._seen, self._deferred

    def recorded(self, positions: Any, images: Any) -> Any:
        """Inside a decoder's ``map``: records ``positions`` (one or a batch) once ``images`` are decoded.

        Returns ``images``.
        """
        import tensorflow as tf

        keys = tf.reshape(positions, [-1])
        with tf.control_dependencies([images]):
            done = self._tables()[0].insert(keys, tf.ones_like(keys))
        with tf.control_dependencies([done]):
            return tf.identity(images)

    def deferred(self, positions: Any, result: Any) -> Any:
        """Inside a decoder's ``map``: leaves ``positions`` (in this order) to :meth:`retry`; returns ``result``."""
        import tensorflow as tf

        done = self._tables()[1].insert(positions, tf.range(tf.size(positions), dtype=tf.int32))
        with tf.control_dependencies([done]):
            return tf.nest.map_structure(tf.identity, result)

    def _missing_now(self) -> np.ndarray:
        """Positions the decoder did not deliver in this pass: those of failed calls, then the deferred ones."""
        seen, deferred = self._tables()
        n = len(self.paths)
        if int(seen.size()) >= n:
            return np.zeros(0, np.int64)
        delivered = np.zeros(n, bool)
        delivered[seen.export()[0].numpy()] = True
        later, rank = (t.numpy() for t in deferred.export())
        failed = np.flatnonzero(~delivered)
        failed = failed[~np.isin(failed, later)]
        return np.concatenate([failed, later[np.argsort(rank)]]).astype(np.int64)

    def pass_start(self, element_spec: Any) -> Any:
        """An empty dataset to put before a pass: forgets what the previous pass delivered and deferred."""
        import tensorflow as tf

        def reset() -> Any:
            for table in self._tables():
                table.remove(tf.range(len(self.paths), dtype=tf.int32))
            return False

        return self._empty(element_spec, reset)

    def retry(self, labels: np.ndarray, decode: Callable[[int], Any], image_spec: Any) -> Any:
        """After a pass: the files it did not deliver, decoded one by one; closes the first pass.

        Small images are decoded a full batch per call, so one broken file drops its batch: its good
        batch-mates are delivered here, at the end of the same pass, with the last files of the pass (fewer
        than a batch, never batched). What fails here is broken: reported (first pass). Nothing is decoded
        when the pass delivered everything.

        Args:
            labels: Label per position.
            decode: ``decode(position)``: the file's image, eagerly (raises on a broken file).
            image_spec: The images' ``tf.TensorSpec``.
        """
        import tensorflow as tf

        def rescue() -> list[Any]:
            missing = self._missing_now()
            images, saved = [], []
            for i in missing.tolist():
                try:
                    images.append(decode(i))
                except (tf.errors.OpError, ValueError):
                    continue  # broken: decoded neither in its batch nor alone
                saved.append(i)
            if not self.done:
                in_pass = np.setdiff1d(np.arange(len(self.paths)), missing)
                order = np.concatenate([in_pass, np.array(saved, np.int64)])
                self.pass_ended(order, order=order)
            empty = tf.zeros([0, *image_spec.shape], image_spec.dtype)
            return [tf.stack(images) if images else empty, tf.constant(labels[saved].astype(np.int32))]

        def rows(_: Any) -> Any:
            x, y = tf.py_function(rescue, [], Tout=[image_spec.dtype, tf.int32])
            x.set_shape([None, *image_spec.shape])
            y.set_shape([None])
            return tf.data.Dataset.from_tensor_slices((x, y))

        return tf.data.Dataset.from_tensors(0).flat_map(tf.autograph.experimental.do_not_convert(rows))

    @staticmethod
    def _empty(element_spec: Any, call: Callable[[], Any]) -> Any:
        """A dataset of no elements (of ``element_spec``) that calls ``call`` when it is iterated."""
        import tensorflow as tf

        empty = tf.nest.map_structure(
            lambda spec: tf.zeros([0 if d is None else d for d in spec.shape], spec.dtype), element_spec)

        def never(*_: Any) -> Any:
            return tf.reshape(tf.py_function(call, [], Tout=tf.bool), [])

        return tf.data.Dataset.from_tensors(empty).filter(tf.autograph.experimental.do_not_convert(never))
