"""The feature cache's size: what its entries hold on disk, and trimming it to a budget, least recently used first.

A served room shares one feature cache between its seats (``<seats>/feature_cache``);
without a bound it grows with every backbone and dataset anyone trains. Each
entry is one folder (see :mod:`tl_widgets.core.training.feature_store`) whose
``meta.json`` is touched whenever a run uses it, so its modification time is
its last use. :func:`trim_cache` removes the least recently used entries until
the cache fits, never the ones named in ``keep`` (the entry a run is about to
read). A removed entry that another process has mapped stays readable to that
process (its pages are freed when it unmaps them). Light: no Keras here, so the
instructor view can show :func:`cache_bytes`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Iterable

from tl_widgets.core.fileio import folder_bytes

__all__ = ["cache_bytes", "touch_entry", "trim_cache", "META"]

META = "meta.json"
_STALE_TMP_S = 24 * 3600  # an unpublished folder this old belongs to a writer that died


def cache_bytes(root: str | os.PathLike[str]) -> int:
    """Bytes the whole cache under ``root`` holds (0 when it does not exist)."""
    return folder_bytes(root)


def touch_entry(folder: str | os.PathLike[str]) -> None:
    """Marks an entry as used now (its place in the least-recently-used order)."""
    try:
        os.utime(Path(folder) / META)
    except OSError:
        return  # removed meanwhile: nothing to mark


def trim_cache(root: str | os.PathLike[str], max_bytes: int, keep: Iterable[str] = ()) -> list[str]:
    """Removes least recently used entries of the cache under ``root`` until it holds at most ``max_bytes``.

    Args:
        root: The cache folder.
        max_bytes: The budget.
        keep: Entry names never removed (the one in use); the cache may stay above the budget for them.

    Returns:
        The names of the entries removed.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    kept, now = set(keep), time.time()
    entries, total = [], 0
    for folder in root.iterdir():
        if folder.is_symlink() or not folder.is_dir():
            continue
        size = folder_bytes(folder)
        total += size
        meta = folder / META
        if meta.is_file():
            entries.append((meta.stat().st_mtime, folder, size))
        elif folder.name.startswith(".tmp-") and now - folder.stat().st_mtime > _STALE_TMP_S:
            entries.append((0.0, folder, size))  # a writer that died long ago
    removed = []
    for _used, folder, size in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if folder.name in kept:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        removed.append(folder.name)
    return removed
