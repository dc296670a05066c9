"""Data previews: what a dataset looks like before training.

Owns the work behind the Data panel's report: listing the folders a user may
pick under the data roots, scanning a class-folder dataset (or the embedded
demo) into its report, picking one sample image per class and resizing the
samples to square thumbnails for a grid. Plain data out (dicts, ``uint8``
arrays), so any front end can draw it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.i18n import _

import numpy as np

__all__ = ["DataPreview", "THUMBNAIL_SIDE", "sub_folders", "square_thumbnails", "load_thumbnail", "demo_preview", "folder_preview"]

THUMBNAIL_SIDE = 64
"""Side in pixels of the square sample thumbnails."""
MAX_SAMPLES = 12
"""Classes shown with a sample image."""
_SAMPLE_TRIES = 8  # files tried per class for its sample (a broken one is skipped)


@dataclass
class DataPreview:
    """A dataset report with one sample thumbnail per class.

    Attributes:
        report: ``root``, ``class_names``, ``counts`` (class -> images),
            ``skipped`` (``{"path", "reason"}`` dicts) and ``warnings``.
        samples: ``uint8`` thumbnails ``[N, side, side, 3]``.
        titles: The class name of each sample.
    """

    report: dict[str, Any]
    samples: np.ndarray = field(default_factory=lambda: np.zeros((0, THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3), np.uint8))
    titles: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls) -> DataPreview:
        """No data yet (e.g. nothing uploaded)."""
        return cls({"root": None, "class_names": [], "counts": {}, "skipped": [], "warnings": []})


def sub_folders(roots: Sequence[Path], depth: int = 2) -> list[tuple[str, str]]:
    """``(label, path)`` of the folders under each root, ``depth`` levels deep; hidden and unreadable ones left out."""
    out: list[tuple[str, str]] = []
    for root in roots:
        frontier = [root]
        for _ in range(depth):
            nxt = []
            for folder in frontier:
                try:
                    kids = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
                except OSError:
                    continue
                for kid in kids:
                    out.append((f"{root.name}/{kid.relative_to(root).as_posix()}", str(kid)))
                    nxt.append(kid)
            frontier = nxt
    return out


def square_thumbnails(images: Any, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """Resizes images (grey or RGB, any size) to ``uint8`` RGB squares of ``side`` pixels, stacked."""
    from PIL import Image

    out = [np.asarray(Image.fromarray(np.asarray(im, np.uint8).squeeze()).convert("RGB").resize((side, side)),
                      np.uint8) for im in images]
    return np.stack(out) if out else np.zeros((0, side, side, 3), np.uint8)


def demo_preview(which: str) -> DataPreview:
    """The report and one sample per class of an embedded demo dataset (``"digits"`` or ``"shapes"``)."""
    from tl_widgets.core.data.demo_datasets import demo_arrays

    x, y, names = demo_arrays(which, "target")
    counts = {n: int((y == i).sum()) for i, n in enumerate(names)}
    picks = [int(np.flatnonzero(y == i)[0]) for i in range(len(names)) if (y == i).any()][:MAX_SAMPLES]
    report = {"root": None, "class_names": names, "counts": counts, "skipped": [], "warnings": []}
    return DataPreview(report, square_thumbnails(x[picks]), [names[int(y[i])] for i in picks])


def load_thumbnail(path: str | os.PathLike[str], side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """One image decoded small (JPEG draft mode, then ``thumbnail``): a sample never costs a full-size copy.

    Raises:
        DataError: The file is not a usable image.
    """
    from tl_widgets.core.data.image_open import ImageRefused, open_image
    from tl_widgets.core.data.images import DataError, SkippedFile, check_image, pil_to_rgb

    checked = check_image(path)
    if isinstance(checked, SkippedFile):
        raise DataError(_("Expected a readable image file. Received: {path!r} ({reason})").format(
            path=str(path), reason=checked.reason))
    try:
        with open_image(path) as im:
            im.seek(0)
            im.draft("RGB", (side, side))
            im.thumbnail((side, side))
            return pil_to_rgb(im)
    except ImageRefused as exc:
        raise DataError(_("Expected a readable image file. Received: {path!r} ({reason})").format(
            path=str(path), reason=exc.reason)) from exc


def folder_preview(root: str | os.PathLike[str], max_per_class: int | None = None) -> DataPreview:
    """Scans a folder of class sub-folders; samples the first readable image of each class.

    The scan is training's set-up scan (headers only: :func:`~tl_widgets.core.data.scanning.scan` with
    ``deep=False``), so a large folder is reported in seconds; damage past a header (a truncated file) is found
    during the first epoch and reported then.

    Raises:
        DataError: The folder is not a usable dataset (missing, no class folders, a class without images).
    """
    from tl_widgets.core.data.images import DataError
    from tl_widgets.core.data.scanning import scan

    report, valid = scan(Path(root), max_per_class=max_per_class, deep=False)
    images, titles = [], []
    for name in report.class_names[:MAX_SAMPLES]:
        for info in valid[name][:_SAMPLE_TRIES]:
            try:
                images.append(load_thumbnail(info.path))
            except DataError:
                continue
            titles.append(name)
            break
    return DataPreview(report.to_dict(), square_thumbnails(images), titles)
