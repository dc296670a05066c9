"""Safe extraction of a zip of class folders.

Refuses zip-slip (absolute paths, ``..``, drive letters), symlink members and
archives whose files or bytes exceed a cap (declared sizes are checked first,
then the real bytes are counted while writing, so a lying header can't beat
the cap). Everything is written into a fresh temporary folder beside the
target and renamed into place at the end, so a refusal leaves nothing behind
and never touches anything else on disk.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tl_widgets.core.data.images import DataError
from tl_widgets.core.i18n import _

__all__ = ["UnsafeArchiveError", "safe_extract_zip", "safe_extract", "find_class_root", "is_ignored_name"]

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeArchiveError(DataError):
    """The archive tries to write outside its folder, holds links, or is too big."""


def is_ignored_name(name: str) -> bool:
    """True for macOS resource folders and dotfiles (``__MACOSX``, ``.DS_Store``...)."""
    return name == "__MACOSX" or name.startswith(".")


def _member_parts(info: zipfile.ZipInfo, zip_path: Path) -> tuple[str, ...] | None:
    """The member's safe relative path parts, None for an ignored member."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or _DRIVE.match(name):
        raise UnsafeArchiveError(_(
            "Expected relative member paths inside the archive. Received: {member!r} in {zip!r} (an absolute path "
            "would write outside the target folder)").format(member=raw, zip=str(zip_path)))
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(_(
            "Expected member paths without '..'. Received: {member!r} in {zip!r} (it would write outside the "
            "target folder)").format(member=raw, zip=str(zip_path)))
    if info.flag_bits & 0x1:
        raise DataError(_("Expected a zip without a password. Received: {member!r} in {zip!r} is encrypted").format(
            member=raw, zip=str(zip_path)))
    if len(name.encode("utf-8", "surrogateescape")) > 1024 or any(
            len(p.encode("utf-8", "surrogateescape")) > 200 for p in name.split("/")):
        raise DataError(_("Expected member names of at most 200 bytes per part. Received: {member!r}... in "
                          "{zip!r}").format(member=raw[:80], zip=str(zip_path)))
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchiveError(_(
            "Expected regular files only. Received: a symbolic link {member!r} in {zip!r} (links are never created "
            "or followed)").format(member=raw, zip=str(zip_path)))
    if not parts or any(is_ignored_name(p) for p in parts):
        return None
    return parts


def _too_big(zip_path: Path, what: str, limit: int) -> UnsafeArchiveError:
    text = (_("Expected an archive of at most {limit:,} files when extracted. Received: {zip!r} (more than that; "
              "nothing was extracted)") if what == "files" else
            _("Expected an archive of at most {limit:,} bytes when extracted. Received: {zip!r} (more than that; "
              "nothing was extracted)"))
    return UnsafeArchiveError(text.format(limit=limit, zip=str(zip_path)))


def find_class_root(folder: str | os.PathLike[str]) -> Path:
    """Unwraps single top-level folders that wrap the class folders.

    ``data.zip`` holding ``flowers/{daisy,rose}/...`` gives ``.../flowers``.
    """
    root = Path(folder)
    while True:
        entries = [e for e in root.iterdir() if not is_ignored_name(e.name)]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return root
        inner = entries[0]
        if not any(e.is_dir() and not is_ignored_name(e.name) for e in inner.iterdir()):
            return root
        root = inner


def safe_extract_zip(
    zip_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    max_total_bytes: int = 2 * 1024**3,
    max_files: int = 200_000,
) -> Path:
    """Extracts a zip of class folders safely (see :func:`safe_extract`).

    Returns:
        The folder holding the class folders (``target_dir`` or the single
        folder inside it that wraps them).

    Raises:
        DataError: The archive is missing or not a zip, the target is not empty, or it holds no class folders.
        UnsafeArchiveError: Zip-slip, a symlink member, or over a cap. Nothing is left on disk.
    """
    return find_class_root(safe_extract(zip_path, target_dir, max_total_bytes=max_total_bytes, max_files=max_files))


def safe_extract(
    zip_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    max_total_bytes: int = 2 * 1024**3,
    max_files: int = 200_000,
) -> Path:
    """Extracts any zip safely: every member inside ``target_dir``, no links, capped sizes, all or nothing.

    Args:
        zip_path: The archive.
        target_dir: Where the files go; it must not exist yet or be empty.
        max_total_bytes: Cap on the uncompressed size (declared and real).
        max_files: Cap on the number of extracted files.

    Returns:
        ``target_dir``.

    Raises:
        DataError: The archive is missing or not a zip, or the target is not empty.
        UnsafeArchiveError: Zip-slip, a symlink member, or over a cap. Nothing
            is left on disk.
    """
    zpath = Path(zip_path)
    target = Path(target_dir)
    if not zpath.is_file():
        raise DataError(_("Expected an existing zip file. Received: {zip!r} (not found)").format(zip=str(zpath)))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DataError(_("Expected a new or empty folder to extract into. Received: {folder!r} (not empty)").format(
            folder=str(target)))
    try:
        archive = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as exc:
        # zipfile's own words are English: a file that is no zip says so in the user's language.
        why = _("not a zip file") if isinstance(exc, zipfile.BadZipFile) else exc
        raise DataError(_("Expected a zip archive. Received: {zip!r} ({error})").format(zip=str(zpath), error=why)) \
            from exc
    with archive:
        members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        declared = 0
        for info in archive.infolist():
            parts = _member_parts(info, zpath)
            if parts is None or info.is_dir():
                continue
            members.append((info, parts))
            declared += info.file_size
            if len(members) > max_files:
                raise _too_big(zpath, "files", max_files)
            if declared > max_total_bytes:
                raise _too_big(zpath, "bytes", max_total_bytes)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
        try:
            _extract_members(archive, members, staging, zpath, max_total_bytes)
            if target.exists():
                target.rmdir()
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _extract_members(
    archive: zipfile.ZipFile,
    members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]],
    staging: Path,
    zpath: Path,
    max_total_bytes: int,
) -> None:
    base = staging.resolve()
    written = 0
    for info, parts in members:
        dest = staging.joinpath(*parts)
        if base not in dest.parent.resolve().parents and dest.parent.resolve() != base:
            raise UnsafeArchiveError(_("Expected member paths inside the target. Received: {member!r}").format(
                member=info.filename))
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(dest, "xb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > max_total_bytes:
                        raise _too_big(zpath, "bytes", max_total_bytes)
                    out.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
                RuntimeError) as exc:
            raise DataError(_("Expected a readable zip archive. Received: {zip!r} (member {member!r}: {error})").format(
                zip=str(zpath), member=info.filename, error=exc)) from exc
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise DataError(_("Expected unique member names (no file and folder of the same name). Received: "
                              "{member!r} clashes in {zip!r}").format(member=info.filename, zip=str(zpath))) from exc
        except OSError as exc:
            if exc.errno in (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL):
                raise DataError(_("Expected member names this system can store. Received: {member!r} in {zip!r} "
                                  "({error})").format(member=info.filename[:80], zip=str(zpath),
                                                      error=exc.strerror)) from exc
            raise
