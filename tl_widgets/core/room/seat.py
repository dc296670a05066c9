"""Seats: each kernel of a served Studio gets its own private home.

``tl-widgets serve`` sets ``$TL_WIDGETS_SEATS`` (a folder of the server's).
The first Studio built in a kernel calls :func:`current_seat`, which makes
``<seats>/seat-XXXXXXXX`` (mode 0700, a random unpredictable name; its
``feature_cache`` links to the room's shared one) and points this process at it: ``$TL_WIDGETS_HOME`` (run store, runs, feature cache,
extracted data) and Python's temporary folder (uploads, scratch work) both
live inside it. Runs, Resume and Evaluate therefore see only this seat's
runs. When the kernel ends, the seat's temporary files and uploads are
removed; its runs stay for the instructor view. Without ``$TL_WIDGETS_SEATS``
nothing changes (a personal Studio keeps using ``~/.tl_widgets``).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tl_widgets.core.settings import HOME_ENV, HOME_LAYOUT, SEATS_ENV, STUDENT_ENV, home_path

__all__ = ["Seat", "current_seat", "open_seat", "list_seats", "sweep_seats", "seat_alive", "SEAT_FILE",
           "ROOM_FEATURE_CACHE"]

SEAT_FILE = "seat.json"
"""The seat's description (pid, start time, student), read by the room view and the room's server."""
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
    """

    home: Path
    tmp: Path
    student: str = ""

    @property
    def name(self) -> str:
        """The seat's folder name (``seat-XXXXXXXX``)."""
        return self.home.name

    def disk_bytes(self) -> int:
        """Bytes of files under the seat's home (links are not followed)."""
        from tl_widgets.core.fileio import folder_bytes

        return folder_bytes(self.home)

    def close(self) -> None:
        """Removes the seat's temporary work (kept: runs and the run store)."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        info = self.home / SEAT_FILE
        try:
            data = json.loads(info.read_text(encoding="utf-8"))
            data["ended"] = time.time()
            info.write_text(json.dumps(data), encoding="utf-8")
        except (OSError, ValueError):
            return  # the seat folder itself was removed


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


def open_seat(root: str | os.PathLike[str]) -> Seat:
    """Makes a fresh seat under ``root`` and points this process at it.

    Sets ``$TL_WIDGETS_HOME`` and Python's temporary folder (``tempfile.tempdir``
    and ``$TMPDIR``, inherited by the training worker) to the seat, and removes
    the temporary work at exit.

    Raises:
        PermissionError: ``root`` is a link or belongs to another user.
    """
    base = _private_dir(Path(root).expanduser().resolve())
    home = Path(tempfile.mkdtemp(prefix="seat-", dir=base))  # 0700, unpredictable name
    tmp = home_path("tmp", home)
    tmp.mkdir(mode=0o700)
    # One feature cache for the room: seats training the same backbone on the same data compute features once
    # (entries are keyed by backbone, weights, size and a dataset fingerprint, and written atomically).
    home_path("feature_cache", home).symlink_to(_private_dir(base / ROOM_FEATURE_CACHE), target_is_directory=True)
    student = os.environ.get(STUDENT_ENV, "")
    student = student if re.fullmatch(r"[0-9a-f]{16,64}", student) else home.name  # set by the server, checked anyway
    (home / SEAT_FILE).write_text(json.dumps({"pid": os.getpid(), "started": time.time(), "student": student}),
                                  encoding="utf-8")
    os.environ[HOME_ENV] = str(home)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    seat = Seat(home=home, tmp=tmp, student=student)
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
    """True while the kernel that opened the seat (``info`` from ``seat.json``) is still running."""
    import psutil

    try:
        proc = psutil.Process(int(info.get("pid", -1)))
        # The same process (a reused pid was created after the seat), and not a zombie.
        return proc.create_time() <= float(info.get("started", 0)) + 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError, TypeError):
        return False


def sweep_seats(root: str | os.PathLike[str]) -> int:
    """Removes the temporary work of seats whose kernel is gone (killed, never closed); returns how many.

    Creates ``root`` (0700) when missing.
    """
    _private_dir(Path(root).expanduser().resolve())
    swept = 0
    for home, info in list_seats(root):
        if not info.get("ended") and not seat_alive(info) and home_path("tmp", home).exists():
            shutil.rmtree(home_path("tmp", home), ignore_errors=True)
            swept += 1
    return swept
