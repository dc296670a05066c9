"""Samples captured from a webcam, written into the class folders of a dataset folder.

Every frame comes from the browser, so every frame is hostile until checked here:

* the byte size is capped (:data:`MAX_FRAME_BYTES`, or a room's lower limit) before anything else happens;
* the bytes must start like a JPEG; they are written to a hidden temporary file in the class folder and
  checked with :func:`tl_widgets.core.data.images.check_image` (Pillow reads the header, the pixel limit
  is enforced from it, a truncated JPEG is refused) and must really be a JPEG;
* only then is it linked into place under the next free number (``os.link``: a reader never sees half a frame,
  and a frame never replaces one another process wrote);
* class names are sanitised (:func:`check_class_name`): no path separators, no ``..`` or leading dot,
  no control characters, a length limit, unique ignoring case;
* the frames per class, the total frames and the number of classes are capped.

The folder is the usual layout the Data step reads (``<root>/<class>/<NNNNN>.jpg``)::

    store = CaptureStore(captures_home(home) / "webcam")
    store.add_class("thumbs up")
    store.add_frame("thumbs up", jpeg_bytes)
    store.counts()            # {"thumbs up": 1}
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from pathlib import Path

from tl_widgets.core.data.images import DataError, SkippedFile, check_image
from tl_widgets.core.i18n import _

__all__ = [
    "CaptureError",
    "FrameTooLarge",
    "NotAFrame",
    "CaptureStore",
    "WEBCAM_DATASET",
    "check_class_name",
    "MAX_FRAME_BYTES",
    "MAX_FRAME_PIXELS",
    "MAX_CLASS_NAME",
    "MAX_CLASSES",
    "MAX_PER_CLASS",
    "MAX_TOTAL",
    "MIN_PER_CLASS",
]

#: The dataset folder under a home's captures that the capture panel and the phone page write into.
WEBCAM_DATASET = "webcam"
#: Largest accepted frame (a 1280 x 720 webcam JPEG is ~100-300 KB).
MAX_FRAME_BYTES = 2 * 1024 * 1024
#: Largest accepted frame in pixels (1920 x 1080 and a little more).
MAX_FRAME_PIXELS = 2_500_000
#: Longest class name, in characters.
MAX_CLASS_NAME = 40
MAX_CLASSES = 20
MAX_PER_CLASS = 500
MAX_TOTAL = 2000
#: A dataset needs at least two classes with this many frames each to train.
MIN_PER_CLASS = 2

_JPEG_MAGIC = b"\xff\xd8\xff"
_FRAME_NAME = re.compile(r"^(\d{5,})\.jpg$")


class CaptureError(DataError):
    """A captured frame or class name was refused; the message says what was expected and received."""


class FrameTooLarge(CaptureError):
    """A frame over the byte limit (refused before anything is written)."""


class NotAFrame(CaptureError):
    """Bytes that are not a complete JPEG within the pixel limit."""


def check_class_name(name: object, existing: list[str] | tuple[str, ...] = ()) -> str:
    """The cleaned class name (NFC, inner spaces collapsed) or a :class:`CaptureError`.

    Args:
        name: What the user typed (anything: it came from the browser).
        existing: Class names already in use; the new name must differ from each, ignoring case.
    """
    if not isinstance(name, str):
        raise CaptureError(_("Expected a class name as text. Received: {kind}").format(kind=type(name).__name__))
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        raise CaptureError(_("Expected a class name. Received: an empty name"))
    if len(text) > MAX_CLASS_NAME:
        raise CaptureError(_("Expected a class name of at most {limit} characters. Received: {n} characters")
                           .format(limit=MAX_CLASS_NAME, n=len(text)))
    if "/" in text or "\\" in text or "\x00" in text:
        raise CaptureError(_("Expected a class name without '/' or '\\'. Received: {name}").format(name=repr(text)))
    if text.startswith(".") or ".." in text:
        raise CaptureError(_("Expected a class name that does not start with '.' or contain '..'. Received: {name}")
                           .format(name=repr(text)))
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise CaptureError(_("Expected a class name without control characters. Received: {name}")
                           .format(name=repr(text)))
    if any(text.casefold() == other.casefold() for other in existing):
        raise CaptureError(_("Expected a new class name. Received: {name}, which is already a class")
                           .format(name=repr(text)))
    return text


class CaptureStore:
    """A dataset folder that captured frames are written into, one sub-folder per class.

    Class folders already in ``root`` (from an earlier session) are picked up with their counts.
    Thread-safe: frames may arrive while the kernel's main thread lists counts.

    Args:
        root: The dataset folder (created).
        max_per_class: Most frames one class may hold.
        max_total: Most frames in the whole dataset.
        max_classes: Most classes.
        max_frame_bytes: Largest frame (a room's: see :func:`tl_widgets.core.room.limits.frame_byte_limit`).
        max_pixels: Most pixels per frame (also capped by the process's limit).

    Several processes may write into one folder (a seat's kernel and the room's server, for its phone page): a
    frame never replaces another (the next free number is taken) and :meth:`rescan` reads what others wrote.
    """

    def __init__(self, root: str | os.PathLike[str], max_per_class: int = MAX_PER_CLASS,
                 max_total: int = MAX_TOTAL, max_classes: int = MAX_CLASSES,
                 max_frame_bytes: int = MAX_FRAME_BYTES, max_pixels: int = MAX_FRAME_PIXELS) -> None:
        for label, value in (("max_per_class", max_per_class), ("max_total", max_total),
                             ("max_classes", max_classes), ("max_frame_bytes", max_frame_bytes),
                             ("max_pixels", max_pixels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Expected {label} to be a positive integer. Received: {value!r}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_per_class, self.max_total, self.max_classes = max_per_class, max_total, max_classes
        self.max_frame_bytes, self.max_pixels = max_frame_bytes, max_pixels
        self._lock = threading.Lock()
        self._frames: dict[str, list[Path]] = {}
        self.rescan()

    def _class_folders(self) -> list[Path]:
        return [f for f in sorted(self.root.iterdir())
                if f.is_dir() and not f.is_symlink() and not f.name.startswith(".")]

    def rescan(self) -> None:
        """Reads the class folders and their frames from disk again (another process may have written some)."""
        found = {folder.name: sorted(p for p in folder.iterdir() if _FRAME_NAME.match(p.name) and p.is_file())
                 for folder in self._class_folders()}
        with self._lock:
            order = [n for n in self._frames if n in found] + [n for n in found if n not in self._frames]
            self._frames = {n: found[n] for n in order}

    def signature(self) -> tuple[int, ...]:
        """A cheap fingerprint of the folder (modification times of it and its class folders): it changes when
        a frame or a class is added or removed, by any process."""
        try:
            return (os.stat(self.root).st_mtime_ns, *(os.stat(f).st_mtime_ns for f in self._class_folders()))
        except OSError:
            return ()

    @property
    def classes(self) -> list[str]:
        """The class names, in the order they were added (folders found on disk first, sorted)."""
        with self._lock:
            return list(self._frames)

    def counts(self) -> dict[str, int]:
        """Frames per class."""
        with self._lock:
            return {name: len(paths) for name, paths in self._frames.items()}

    @property
    def total(self) -> int:
        """Frames in the whole dataset."""
        with self._lock:
            return sum(len(p) for p in self._frames.values())

    def last_frames(self, name: str, n: int = 6) -> list[Path]:
        """The newest ``n`` frame files of class ``name`` (oldest first)."""
        with self._lock:
            return list(self._frames.get(name, [])[-n:]) if n > 0 else []

    def add_class(self, name: object) -> str:
        """Creates the class folder; returns the cleaned name.

        Raises:
            CaptureError: a bad or duplicate name, or too many classes.
        """
        with self._lock:
            clean = check_class_name(name, tuple(self._frames))
            if len(self._frames) >= self.max_classes:
                raise CaptureError(_("Expected at most {limit} classes. Received: a new class {name} with {n} already")
                                   .format(limit=self.max_classes, name=repr(clean), n=len(self._frames)))
            (self.root / clean).mkdir(exist_ok=True)
            self._frames[clean] = []
            return clean

    def remove_class(self, name: str) -> int:
        """Deletes a class folder and its frames; returns how many frames went."""
        with self._lock:
            if name not in self._frames:
                raise CaptureError(_("Expected one of the classes {classes}. Received: {name}")
                                   .format(classes=", ".join(self._frames) or "-", name=repr(name)))
            n = len(self._frames.pop(name))
            shutil.rmtree(self.root / name)
            return n

    def add_frame(self, name: str, data: object) -> Path:
        """Checks one JPEG frame and writes it into class ``name``; returns the file written.

        Raises:
            CaptureError: an unknown class, a full class or dataset, bytes that are not an acceptable JPEG, or a
                write that failed (a full disk).
        """
        if isinstance(data, memoryview):
            data = data.tobytes()
        if not isinstance(data, (bytes, bytearray)):
            raise CaptureError(_("Expected the frame as JPEG bytes. Received: {kind}").format(kind=type(data).__name__))
        if len(data) > self.max_frame_bytes:
            raise FrameTooLarge(_("Expected a frame of at most {limit:,} bytes. Received: {n:,} bytes")
                                .format(limit=self.max_frame_bytes, n=len(data)))
        if not bytes(data[:3]) == _JPEG_MAGIC:
            raise NotAFrame(_("Expected a JPEG frame. Received: {n:,} bytes starting {head}")
                               .format(n=len(data), head=repr(bytes(data[:8]))))
        with self._lock:
            if name not in self._frames:
                raise CaptureError(_("Expected one of the classes {classes}. Received: {name}")
                                   .format(classes=", ".join(self._frames) or "-", name=repr(name)))
            frames = self._frames[name]
            if len(frames) >= self.max_per_class:
                raise CaptureError(_("Expected at most {limit} frames per class. Received: one more for {name}, "
                                     "which has {n}").format(limit=self.max_per_class, name=repr(name), n=len(frames)))
            total = sum(len(p) for p in self._frames.values())
            if total >= self.max_total:
                raise CaptureError(_("Expected at most {limit} frames in all. Received: one more with {n} captured")
                                   .format(limit=self.max_total, n=total))
            number = int(_FRAME_NAME.match(frames[-1].name).group(1)) + 1 if frames else 1  # type: ignore[union-attr]
            tmp = self.root / name / f".{os.getpid()}.{threading.get_ident()}.part.jpg"
            try:
                try:
                    with open(tmp, "wb") as fh:
                        fh.write(data)
                except OSError as exc:  # a full disk, a folder removed meanwhile: a notice, not a crash
                    raise CaptureError(_("Expected to save the frame in {folder}. Received: {reason}").format(
                        folder=str(self.root / name), reason=exc.strerror or exc)) from exc
                checked = check_image(tmp, self.max_pixels)
                if isinstance(checked, SkippedFile):
                    raise NotAFrame(_("Expected a complete JPEG of at most {limit:,} pixels. Received: a frame that is "
                                      "{reason}").format(limit=self.max_pixels, reason=checked.reason))
                if checked.format not in ("JPEG", "MPO"):
                    raise NotAFrame(_("Expected a JPEG frame. Received: a {kind} image").format(kind=checked.format))
                target = self._publish(tmp, name, number)
            finally:
                tmp.unlink(missing_ok=True)
            frames.append(target)
            return target

    def _publish(self, tmp: Path, name: str, number: int) -> Path:
        """Links the checked frame in under the first free number from ``number`` (never over another's frame)."""
        while True:
            target = self.root / name / f"{number:05d}.jpg"
            try:
                os.link(tmp, target)  # fails when the name is taken: a reader never sees half a frame either
                return target
            except FileExistsError:
                number += 1
            except OSError as exc:
                raise CaptureError(_("Expected to save the frame in {folder}. Received: {reason}").format(
                    folder=str(self.root / name), reason=exc.strerror or exc)) from exc

    def ready(self) -> str | None:
        """None when the folder can be trained on, else why not (a sentence for the user)."""
        counts = self.counts()
        usable = [n for n, c in counts.items() if c >= MIN_PER_CLASS]
        if len(usable) < 2:
            got = ", ".join(f"{n} ({c})" for n, c in counts.items()) or _("no classes")
            return _("Expected at least 2 classes with {n} or more frames each. Received: {got}").format(
                n=MIN_PER_CLASS, got=got)
        return None
