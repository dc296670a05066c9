"""Scanning a folder of class folders: a fast listing, then per-file checks in parallel.

The listing uses :func:`os.scandir` (names only, nothing opened). The checks
are either *deep* (:func:`~tl_widgets.core.data.images.check_image`: headers
plus an integrity test, for :func:`~tl_widgets.core.data.loading.scan_folder`)
or *header-only* (:func:`~tl_widgets.core.data.headers.read_header`, for
training set-up: damage past the header is found during the first epoch by
:mod:`tl_widgets.core.data.first_pass`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from tl_widgets.core.data.dataset_report import DatasetReport
from tl_widgets.core.data.headers import read_header
from tl_widgets.core.data.images import (
    DEFAULT_MAX_PIXELS,
    DataError,
    ImageInfo,
    SkippedFile,
    check_image,
    size_stats,
    small_image_warning,
)
from tl_widgets.core.data.zipsafe import is_ignored_name
from tl_widgets.core.i18n import _

__all__ = ["class_dirs", "class_files", "check_files", "check_workers", "scan", "skipped_warning"]

_CHUNK = 256  # files per task: large enough that the pool's overhead is small


def class_dirs(root: Path) -> tuple[list[Path], int]:
    """Sorted class folders and the number of files lying directly in ``root``."""
    expected = _("Expected a folder with one sub-folder per class. Received: {path!r} ({why})")
    if not root.exists():
        raise DataError(expected.format(path=str(root), why=_("does not exist")))
    if not root.is_dir():
        raise DataError(expected.format(path=str(root), why=_("not a folder")))
    try:
        with os.scandir(root) as it:
            entries = [e for e in it if not is_ignored_name(e.name)]
    except OSError as exc:
        raise DataError(_("Expected a readable folder. Received: {path!r} ({error})").format(
            path=str(root), error=exc.strerror or exc)) from exc
    dirs = sorted((Path(e.path) for e in entries if e.is_dir()), key=lambda p: p.name)
    loose = sum(1 for e in entries if e.is_file())
    if not entries:
        raise DataError(expected.format(path=str(root), why=_("empty")))
    if not dirs:
        raise DataError(expected.format(path=str(root), why=_("{n} files and no sub-folders").format(n=loose)))
    if len(dirs) < 2:
        raise DataError(_("Expected at least 2 class folders. Received: {path!r} (only one class: {name!r})").format(
            path=str(root), name=dirs[0].name))
    return dirs, loose


def class_files(folder: Path) -> list[str]:
    """All non-hidden files below ``folder`` (recursively), sorted, as strings (nothing is opened)."""
    found: list[str] = []
    stack = [str(folder)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    if is_ignored_name(entry.name):
                        continue
                    if entry.is_dir():
                        stack.append(entry.path)
                    else:
                        found.append(entry.path)
        except OSError:
            continue  # an unreadable sub-folder holds no usable files
    found.sort(key=lambda p: p.split(os.sep))  # by folder, then name (as sorting Paths does)
    return found


def check_workers() -> int:
    """Threads for per-file work (checks, hashes, decodes): the kernel's thread limit, else 4 per core (at most 16)."""
    # A served kernel has a thread limit (`serve --threads`, set before it started): file checks keep to it.
    limit = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    return int(limit) if limit.isdigit() and int(limit) > 0 else min(16, 4 * (os.cpu_count() or 1))


def check_files(paths: list[str], max_pixels: int, deep: bool) -> list[ImageInfo | SkippedFile]:
    """Checks ``paths`` in a thread pool (file reads overlap; results in input order)."""
    check: Callable[[str, int], ImageInfo | SkippedFile] = check_image if deep else read_header
    workers = check_workers()
    if len(paths) < 64 or workers == 1:
        return [check(p, max_pixels) for p in paths]

    def chunk(start: int) -> list[ImageInfo | SkippedFile]:
        return [check(p, max_pixels) for p in paths[start:start + _CHUNK]]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [r for part in pool.map(chunk, range(0, len(paths), _CHUNK)) for r in part]


def skipped_warning(count: int) -> str:
    """The report's warning about skipped files (one wording for up-front and first-epoch finds)."""
    return _("{n} files were skipped (see the report's skipped list).").format(n=count)


def scan(
    root: Path, *, max_per_class: int | None = None, min_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS, deep: bool = True,
) -> tuple[DatasetReport, dict[str, list[ImageInfo]]]:
    """Lists and checks ``root``'s class folders; returns the report and the valid images per class.

    Raises:
        DataError: The folder is missing, empty, has fewer than two classes, or a class has no valid image.
    """
    dirs, loose = class_dirs(root)
    per_class = {d.name: class_files(d) for d in dirs}
    warnings = []
    if loose:
        warnings.append(_("{n} files directly inside {path!r} are outside any class folder and were ignored.").format(
            n=loose, path=str(root)))
    if max_per_class:
        big = {k: len(v) for k, v in per_class.items() if len(v) > max_per_class}
        if big:
            warnings.append(_("Checked only the first {n} files of classes with more: {classes}.").format(
                n=max_per_class, classes=big))
        per_class = {k: v[:max_per_class] for k, v in per_class.items()}
    flat = [p for files in per_class.values() for p in files]
    results = iter(check_files(flat, max_pixels, deep))
    valid: dict[str, list[ImageInfo]] = {}
    skipped: list[SkippedFile] = []
    for name, files in per_class.items():
        valid[name] = []
        for _file in files:
            res = next(results)
            (valid[name] if isinstance(res, ImageInfo) else skipped).append(res)  # type: ignore[arg-type]
        if not valid[name]:
            reasons = sorted({s.reason for s in skipped if Path(s.path).is_relative_to(root / name)})
            detail = (_("{n} files, none usable: {reasons}").format(n=len(files), reasons=", ".join(reasons))
                      if files else _("no files"))
            raise DataError(_("Expected at least one valid image in every class folder. Received: class {name!r} in "
                              "{path!r} ({detail})").format(name=name, path=str(root), detail=detail))
    infos = [i for v in valid.values() for i in v]
    widths = np.array([i.width for i in infos])
    heights = np.array([i.height for i in infos])
    warnings += small_image_warning(widths, heights, min_size)
    if skipped:
        warnings.append(skipped_warning(len(skipped)))
    report = DatasetReport(
        root=str(root),
        class_names=list(valid),
        counts={k: len(v) for k, v in valid.items()},
        skipped=skipped,
        size_stats=size_stats(widths, heights),
        warnings=warnings,
    )
    return report, valid
