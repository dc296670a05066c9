"""The dataset report: what a folder scan or an in-memory source found.

:class:`DatasetReport` is plain data for panels, the CLI and run summaries
(classes, counts, skipped files, image sizes, warnings). Folder scans
(:mod:`tl_widgets.core.data.loading`) fill it file by file; array and stream
sources (:mod:`tl_widgets.core.data.pipeline`) build it from labels and sizes
with :meth:`DatasetReport.from_labels`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.images import SkippedFile, size_stats, small_image_warning
from tl_widgets.core.i18n import _

__all__ = ["DatasetReport"]


@dataclass
class DatasetReport:
    """What a scan found; plain data for panels, the CLI and run summaries.

    Attributes:
        root: The folder scanned (None for demo/code data).
        class_names: Class names in label order (sorted folder names).
        counts: Valid images per class.
        skipped: Files left out, each with a reason.
        size_stats: ``min_width``, ``median_width``, ``max_width`` and the
            same for ``height``, over valid images.
        warnings: Human-readable notes (small images, files outside class
            folders, ...).
    """

    root: str | None
    class_names: list[str]
    counts: dict[str, int]
    skipped: list[SkippedFile] = field(default_factory=list)
    size_stats: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Number of valid images."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_labels(
        cls,
        class_names: Sequence[str],
        labels: np.ndarray,
        heights: np.ndarray,
        widths: np.ndarray,
        min_size: int | None,
    ) -> DatasetReport:
        """The report of in-memory data (no folder, nothing skipped).

        Args:
            class_names: Class names in label order.
            labels: Integer label per example.
            heights: Image height per example.
            widths: Image width per example.
            min_size: Warn about images smaller than this (None: no check).
        """
        names = list(class_names)
        counts = np.bincount(labels, minlength=len(names))
        warnings = small_image_warning(widths, heights, min_size)
        absent = [names[i] for i in range(len(names)) if counts[i] == 0]
        if absent:
            warnings.append(_("No examples of classes {classes}.").format(classes=absent))
        return cls(
            root=None,
            class_names=names,
            counts={names[i]: int(counts[i]) for i in range(len(names))},
            skipped=[],
            size_stats=size_stats(widths, heights),
            warnings=warnings,
        )
