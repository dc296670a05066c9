"""Bad files found during the first epoch: skipped by the pipeline, then reported like up-front finds.

Set-up checks headers only (:mod:`tl_widgets.core.data.headers`); a file whose
image data is truncated or corrupt fails in the tf.data decoder, which drops it
(``ignore_errors``). :class:`FirstPassCheck` learns which files those were: every
element carries its position through the pipeline, each batch records the
positions it holds (one small Python call per batch), and an empty marker at the
end of the dataset closes the pass. Positions never seen in a complete pass are
the dropped files; only they are opened again with Pillow
(:func:`~tl_widgets.core.data.images.check_image`) to learn the reason. They are
added to the :class:`~tl_widgets.core.data.dataset_report.DatasetReport`
(``skipped``, ``counts``, the skipped-files warning), removed from the pipeline's
keys, and announced to the watchers (the runner turns them into a run message).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.images import ImageInfo, SkippedFile, check_image
from tl_widgets.core.i18n import _, ngettext

__all__ = ["FirstPassCheck", "late_skip_message"]

Watcher = Callable[[list[SkippedFile]], None]


def late_skip_message(found: list[SkippedFile], what: str) -> str:
    """The run message for files dropped during the first pass over ``what`` (``"training"``/``"validation"``)."""
    shown = "; ".join(f"{Path(s.path).name} ({s.reason})" for s in found[:5])
    if len(found) > 5:
        shown += _(" and {count} more").format(count=len(found) - 5)
    if what == "validation":
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
        what: ``"training"`` or ``"validation"`` (for messages).
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
        self._seen = np.zeros(len(paths), bool)
        self._lock = threading.Lock()
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> None:
        """Calls ``watcher(found files)`` once, when a first pass drops files (at once if it already did)."""
        with self._lock:
            self._watchers.append(watcher)
            found = list(self.found) if self.done else []
        if found:
            watcher(found)

    def record(self, positions: np.ndarray) -> None:
        """Marks ``positions`` as delivered by the pipeline."""
        if not self.done:
            self._seen[positions] = True

    def pass_ended(self) -> list[SkippedFile]:
        """Closes a complete pass: finds, reports and announces the dropped files (first time only)."""
        with self._lock:
            if self.done:
                return []
            self.done = True
            missing = np.flatnonzero(~self._seen)
            self.found = [self._reason(str(self.paths[i])) for i in missing]
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
        if self.keys is not None:
            gone = set(int(i) for i in missing)
            self.keys[:] = [k for i, k in enumerate(self.keys) if i not in gone]

    # -- the tf.data side ----------------------------------------------------------
    def track(self, positions: Any, labels: Any) -> Any:
        """Inside a batched ``map``: records the batch's ``positions``, returns ``labels`` (int32)."""
        import tensorflow as tf

        def record(pos: Any, y: Any) -> Any:
            self.record(pos.numpy())
            return y

        out = tf.py_function(record, [positions, tf.cast(labels, tf.int32)], Tout=tf.int32)
        out.set_shape(labels.shape)
        return out

    def end_marker(self, element_spec: Any) -> Any:
        """An empty dataset to ``concatenate`` after the batches: closes the pass when reached."""
        import tensorflow as tf

        x_spec, y_spec = element_spec
        empty = (tf.zeros([0, *x_spec.shape[1:]], x_spec.dtype), tf.zeros([0], y_spec.dtype))

        def closed() -> Any:
            self.pass_ended()
            return False

        def never(x: Any, y: Any) -> Any:
            return tf.reshape(tf.py_function(closed, [], Tout=tf.bool), [])

        return tf.data.Dataset.from_tensors(empty).filter(tf.autograph.experimental.do_not_convert(never))
