"""The one path a captured frame takes into a dataset folder: a rate limit, the seat's disk quota, the store's checks.

The webcam in the capture panel and the phone page of a served room
(:mod:`tl_widgets.server.phone_capture`) both hand their frames to a
:class:`CaptureIntake`; neither checks a frame itself::

    intake = CaptureIntake(store, space_left=lambda: seat_space_left(home, workshop))
    path = intake.add("thumbs up", jpeg_bytes)   # or CaptureError (FrameTooFast, OverQuota, ...)

The quota is a walk of the seat's folder, so it is asked at most every
:data:`QUOTA_RECHECK_S` seconds; every frame written in between is counted
against the last answer, so each frame is refused as soon as it would go over.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from tl_widgets.core.data.capture import CaptureError, CaptureStore
from tl_widgets.core.i18n import _

__all__ = ["CaptureIntake", "FrameRate", "FrameTooFast", "OverQuota", "MAX_FRAMES_PER_S", "QUOTA_RECHECK_S"]

#: Frames kept per second from one source (twice the 5 fps a hold records).
MAX_FRAMES_PER_S = 10
#: Seconds between two looks at the disk quota (a walk of the seat); frames in between are counted.
QUOTA_RECHECK_S = 2.0


class FrameTooFast(CaptureError):
    """More frames in the last second than :data:`MAX_FRAMES_PER_S`."""


class OverQuota(CaptureError):
    """The frame would take the seat over its disk quota."""


class FrameRate:
    """At most ``per_second`` frames in any one second (a sliding window).

    Args:
        per_second: Frames allowed per second (>= 1).
        clock: Seconds, monotonic (tests pass their own).
    """

    def __init__(self, per_second: int = MAX_FRAMES_PER_S, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(per_second, int) or isinstance(per_second, bool) or per_second < 1:
            raise ValueError(f"Expected per_second to be a positive integer. Received: {per_second!r}")
        self.per_second, self._clock = per_second, clock
        self._recent: list[float] = []
        self._lock = threading.Lock()

    def take(self) -> None:
        """Counts one frame now.

        Raises:
            FrameTooFast: ``per_second`` frames were already taken in the last second.
        """
        with self._lock:
            now = self._clock()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if len(self._recent) >= self.per_second:
                raise FrameTooFast(_("Expected at most {n} frames a second. Received: one more; wait a moment")
                                   .format(n=self.per_second))
            self._recent.append(now)


class CaptureIntake:
    """Checks and stores frames from one source (a webcam widget, a phone link) into ``store``.

    Args:
        store: Where frames go (it checks each frame's bytes, the class and the frame caps).
        space_left: ``space_left()`` is the bytes a quota (a workshop seat's) still allows, None for no quota.
        per_second: Frames allowed per second from this source.
        clock: Seconds, monotonic (tests pass their own).
    """

    def __init__(self, store: CaptureStore, space_left: Callable[[], int | None] | None = None,
                 per_second: int = MAX_FRAMES_PER_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.space_left, self._clock = store, space_left, clock
        self.rate = FrameRate(per_second, clock)
        self._left: int | None = None  # bytes the quota allows, counted down per frame
        self._left_at = -QUOTA_RECHECK_S
        self._lock = threading.Lock()

    def add(self, name: str, data: object) -> Path:
        """Rate, quota, then the store's checks; returns the frame's file.

        Raises:
            FrameTooFast: Over :data:`MAX_FRAMES_PER_S` (nothing else was looked at).
            OverQuota: The frame would take the seat over its quota.
            CaptureError: Anything the store refuses (size, not a JPEG, unknown or full class, a failed write).
        """
        self.rate.take()
        with self._lock:
            size = len(data) if isinstance(data, (bytes, bytearray, memoryview)) else 0
            self._check_quota(size)
            path = self.store.add_frame(name, data)
            if self._left is not None:
                self._left -= path.stat().st_size
            return path

    def _check_quota(self, size: int) -> None:
        if self.space_left is None:
            return
        now = self._clock()
        if now - self._left_at >= QUOTA_RECHECK_S:
            self._left, self._left_at = self.space_left(), now
        if self._left is not None and size > self._left:
            self._left_at = -QUOTA_RECHECK_S  # look again next time: a class may have been deleted
            raise OverQuota(_("Expected this seat to stay within its disk quota (workshop limit). Received: a frame "
                              "of {size:,} bytes with {left:,} bytes left; delete captured classes or runs "
                              "first").format(size=size, left=max(0, self._left)))
