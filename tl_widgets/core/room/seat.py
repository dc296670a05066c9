"""Seats: each student of a served Studio gets a private home, which every tab of theirs shares.

``tl-widgets serve`` sets ``$TL_WIDGETS_SEATS`` (a folder of the server's) and
gives every browser a signed cookie; the server hands each page's kernel the
student id it stands for (``$HTTP_X_TLW_STUDENT``, never from the browser).
The first Studio built in a kernel calls :func:`current_seat`: the student's
seat when they have one (a reload, a second tab: they *rejoin* it, with its
runs, captures, uploads and curation), else a new ``<seats>/seat-XXXXXXXX``
(mode 0700, a random unpredictable name; its ``feature_cache`` links to the
room's shared one). The process then points at it: ``$TL_WIDGETS_HOME`` (run
store, runs, uploads, feature cache, extracted data) and Python's temporary
folder both live inside it. Runs, Resume and Evaluate see only this seat's
runs. ``seat.json`` lists the seat's live kernels (the engine's gateway admits
only those); when the last one ends, the temporary files are removed and the
seat is marked ended; its runs stay for the instructor view and for the
student's next visit. A kernel without a student id (no room cookie) gets a
seat of its own. Without ``$TL_WIDGETS_SEATS`` nothing changes (a personal
Studio keeps using ``~/.tl_widgets``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tl_widgets.core.settings import HOME_ENV, HOME_LAYOUT, SEATS_ENV, STUDENT_ENV, home_path

__all__ = ["Seat", "current_seat", "open_seat", "list_seats", "sweep_seats", "seat_alive", "seat_pids", "SEAT_FILE",
           "ROOM_FEATURE_CACHE", "set_display_name"]

SEAT_FILE = "seat.json"
"""The seat's description (student, display name, start time, its live kernels), read by the room view, the room's
server and the engine's gateway."""
_LOCK_FILE = ".seats.lock"
_STUDENT_ID = re.compile(r"[0-9a-f]{16,64}")
ROOM_FEATURE_CACHE = HOME_LAYOUT["feature_cache"]
"""The room's shared feature cache, beside the seats (each seat links to it)."""

_CURRENT: Seat | None = None


@dataclass
class Seat:
    """One kernel's private home.

    Attributes:
        home: The seat's folder (0700): run store, runs, caches.
        tmp: Temporary work (uploads, extractions, scratch), removed when the kernel ends.
        student: Who sits here: the id the room's server gives a browser (the same in all its tabs), else the
            seat's own name (every tab its own student).
        rejoined: This kernel joined a seat the student already had (a reload, another tab).
    """

    home: Path
    tmp: Path
    student: str = ""
    rejoined: bool = False

    @property
    def name(self) -> str:
        """The seat's folder name (``seat-XXXXXXXX``)."""
        return self.home.name

    def disk_bytes(self) -> int:
        """Bytes of files under the seat's home (links are not followed)."""
        from tl_widgets.core.fileio import folder_bytes

        return folder_bytes(self.home)

    @property
    def display_name(self) -> str:
        """The name the student gave (empty when none)."""
        return str(_read(self.home).get("name") or "")

    def close(self) -> None:
        """This kernel leaves the seat; the last one to leave removes the temporary work (runs are kept)."""
        if not self.home.is_dir():
            return  # the seat folder itself was removed
        with _room_lock(self.home.parent):
            info = _read(self.home)
            info["kernels"] = [k for k in _kernels(info) if k["pid"] != os.getpid() and _alive(k)]
            if not info["kernels"]:
                info["ended"] = time.time()
                shutil.rmtree(self.tmp, ignore_errors=True)
                home_path("phone_link", self.home).unlink(missing_ok=True)  # a phone link ends with the seat
            _write(self.home, info)


def _private_dir(path: Path) -> Path:
    """Creates ``path`` (mode 0700) or checks an existing one is a real folder of ours, then makes it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(f"Expected a folder owned by this user. Received: {str(path)!r} "
                              "(a link, a file or another user's folder)")
    os.chmod(path, 0o700)
    return path


@contextlib.contextmanager
def _room_lock(base: Path) -> Iterator[None]:
    """One kernel at a time finds, joins, makes or leaves a seat in this room (an advisory file lock)."""
    fd = os.open(base / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(home: Path) -> dict[str, Any]:
    try:
        info = json.loads((home / SEAT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _write(home: Path, info: dict[str, Any]) -> None:
    from tl_widgets.core.fileio import atomic_write_json

    kernels = _kernels(info)
    info["pid"] = kernels[-1]["pid"] if kernels else info.get("pid")  # the latest kernel (older readers)
    atomic_write_json(home / SEAT_FILE, info)


def _kernels(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The seat's kernels as ``[{"pid", "started"}]`` (a seat.json of one kernel has only ``pid``/``started``)."""
    kernels = info.get("kernels")
    if isinstance(kernels, list):
        return [k for k in kernels if isinstance(k, dict) and isinstance(k.get("pid"), int)]
    pid = info.get("pid")
    return [{"pid": pid, "started": info.get("started", 0)}] if isinstance(pid, int) else []


def _alive(kernel: dict[str, Any]) -> bool:
    """True while this kernel entry's process runs (the same process: a reused pid started later is not it)."""
    import psutil

    try:
        proc = psutil.Process(int(kernel["pid"]))
        return proc.create_time() <= float(kernel.get("started", 0)) + 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError, TypeError, KeyError):
        return False


def seat_pids(info: dict[str, Any]) -> list[int]:
    """The process ids of the seat's kernels that still run (``info`` from ``seat.json``)."""
    return [int(k["pid"]) for k in _kernels(info) if _alive(k)]


def set_display_name(home: str | os.PathLike[str], name: str) -> str:
    """Records the student's display name in their seat (control characters removed, 40 characters at most).

    Returns:
        The name as recorded.
    """
    clean = re.sub(r"[\x00-\x1f\x7f<>]", "", str(name)).strip()[:40]
    folder = Path(home)
    with _room_lock(folder.parent):
        info = _read(folder)
        info["name"] = clean
        _write(folder, info)
    return clean


def _find_seat(base: Path, student: str) -> Path | None:
    """The student's newest seat under ``base`` (None when they have none)."""
    found = [(home, info) for home, info in list_seats(base) if info.get("student") == student]
    return found[-1][0] if found else None


def open_seat(root: str | os.PathLike[str]) -> Seat:
    """Joins the student's seat under ``root`` (``$HTTP_X_TLW_STUDENT``), or makes a fresh one, and points this
    process at it.

    Sets ``$TL_WIDGETS_HOME`` and Python's temporary folder (``tempfile.tempdir``
    and ``$TMPDIR``, inherited by the training worker) to the seat, and leaves
    the seat at exit (the last kernel to leave removes the temporary work).

    Raises:
        PermissionError: ``root`` is a link or belongs to another user.
    """
    base = _private_dir(Path(root).expanduser().resolve())
    given = os.environ.get(STUDENT_ENV, "")
    given = given if _STUDENT_ID.fullmatch(given) else ""  # set by the server, checked anyway
    with _room_lock(base):
        home = _find_seat(base, given) if given else None
        rejoined = home is not None
        if home is None:
            home = Path(tempfile.mkdtemp(prefix="seat-", dir=base))  # 0700, unpredictable name
            # One feature cache for the room: seats training the same backbone on the same data compute features
            # once (entries are keyed by backbone, weights, size and a dataset fingerprint, and written atomically).
            home_path("feature_cache", home).symlink_to(_private_dir(base / ROOM_FEATURE_CACHE),
                                                        target_is_directory=True)
            info: dict[str, Any] = {"started": time.time(), "student": given or home.name, "kernels": []}
        else:
            info = _read(home)
            info.pop("ended", None)
        tmp = home_path("tmp", home)
        tmp.mkdir(mode=0o700, exist_ok=True)
        others = [k for k in _kernels(info) if _alive(k) and k["pid"] != os.getpid()]
        info["kernels"] = others + [{"pid": os.getpid(), "started": time.time()}]
        _write(home, info)
    os.environ[HOME_ENV] = str(home)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    seat = Seat(home=home, tmp=tmp, student=str(info["student"]), rejoined=rejoined)
    atexit.register(seat.close)
    return seat


def current_seat() -> Seat | None:
    """This kernel's seat, opened on first call when ``$TL_WIDGETS_SEATS`` is set (None otherwise)."""
    global _CURRENT
    if _CURRENT is None:
        root = os.environ.get(SEATS_ENV, "").strip()
        if root:
            _CURRENT = open_seat(root)
    return _CURRENT


def list_seats(root: str | os.PathLike[str]) -> list[tuple[Path, dict]]:
    """Every seat under ``root`` with its ``seat.json`` (oldest first); unreadable ones are skipped."""
    out = []
    for home in sorted(Path(root).glob("seat-*")):
        if home.is_symlink() or not home.is_dir():
            continue
        try:
            info = json.loads((home / SEAT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append((home, info if isinstance(info, dict) else {}))
    out.sort(key=lambda item: float(item[1].get("started", 0) or 0))
    return out


def seat_alive(info: dict) -> bool:
    """True while one of the seat's kernels (``info`` from ``seat.json``) still runs."""
    return bool(seat_pids(info))


def sweep_seats(root: str | os.PathLike[str]) -> int:
    """Removes the temporary work of seats whose kernel is gone (killed, never closed); returns how many.

    Creates ``root`` (0700) when missing.
    """
    _private_dir(Path(root).expanduser().resolve())
    swept = 0
    for home, info in list_seats(root):
        if not info.get("ended") and not seat_alive(info) and home_path("tmp", home).exists():
            shutil.rmtree(home_path("tmp", home), ignore_errors=True)
            home_path("phone_link", home).unlink(missing_ok=True)
            swept += 1
    return swept
