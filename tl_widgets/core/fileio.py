"""Atomic file writes (write to a temporary file in the same folder, then rename), and a folder's size.

A crash, a full disk or a killed kernel never leaves a half-written file in
place of a good one. :func:`folder_bytes` is what quotas count (a seat's disk,
the room's feature cache).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write_text", "atomic_write_json", "atomic_save", "OutputNotWritableError", "folder_bytes"]


class OutputNotWritableError(OSError):
    """The output folder cannot be written (missing rights or disk full)."""


def folder_bytes(folder: str | os.PathLike[str]) -> int:
    """Bytes of the files under ``folder`` (links are not followed; 0 when it does not exist)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue  # removed while counting
    return total


def _check_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputNotWritableError(
            f"Expected a writable output folder. Received: {str(folder)!r} ({exc.strerror or exc})"
        ) from exc


def atomic_save(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Calls ``write(tmp_path)`` then renames ``tmp_path`` over ``path``.

    Args:
        path: The final file.
        write: Writes the content to the temporary path it is given (which
            ends with ``path``'s file name, suffixes included).

    Raises:
        OutputNotWritableError: The folder is not writable or the disk is full;
            any earlier file at ``path`` is left untouched.
    """
    final = Path(path)
    _check_dir(final.parent)
    # The temporary name ends with the final name: Keras checks suffixes such as ".weights.h5".
    tmp = final.parent / f".tmp-{uuid.uuid4().hex[:12]}-{final.name}"
    try:
        write(tmp)
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputNotWritableError(
            f"Could not write {str(final)!r}: {exc.strerror or exc}. Nothing earlier at that path was changed."
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_save(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Writes ``data`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")
