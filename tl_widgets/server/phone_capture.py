"""The room server's phone capture: a page for a seat's phone link and the door its photos come in through.

``serve``'s Voilà (:mod:`tl_widgets.server.room_server`) registers, beside the
waiting room's handler:

* ``GET <base>/tl-widgets-phone/<token>`` — the capture page
  (:mod:`tl_widgets.server.phone_page`), or a 403 page saying why the link
  opens nothing;
* ``POST <base>/tl-widgets-phone/<token>/frame`` — one JPEG photo, answered
  with JSON (``{"ok": true, "class": ..., "count": N}``, else ``{"ok": false,
  "message": ...}``).

A phone has no room token or cookie: the link's token is its only key, so
everything is checked here as hostile: the token against the seats' stored
hashes (:func:`~tl_widgets.core.room.phone_link.verify_link`: 403 when
unknown, replaced, expired or its kernel gone); the body's size while it
streams in (413 over the room's frame limit,
:func:`~tl_widgets.core.room.limits.frame_byte_limit`); then the same
:class:`~tl_widgets.core.data.capture_intake.CaptureIntake` the capture panel
uses (429 over the per-link rate, 415 not a complete JPEG within the pixel
limit, 409 a full class or seat quota or a class deleted meanwhile). The
server process imports no TensorFlow for any of this.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from pathlib import Path
from typing import Any

from tl_widgets.core.data.capture import (
    MAX_FRAME_PIXELS, WEBCAM_DATASET, CaptureError, CaptureStore, FrameTooLarge, NotAFrame,
)
from tl_widgets.core.data.capture_intake import CaptureIntake, FrameTooFast
from tl_widgets.core.i18n import _
from tl_widgets.core.room.limits import frame_byte_limit, seat_space_left
from tl_widgets.core.room.phone_link import PHONE_PATH, PhoneLink, PhoneLinkError, verify_link
from tl_widgets.core.settings import captures_home
from tl_widgets.server.phone_page import phone_error_page, phone_page

__all__ = ["PhoneRoom", "phone_handlers", "MAX_LINKS_REMEMBERED"]

#: Links whose rate and quota counters the server keeps (the oldest are forgotten first).
MAX_LINKS_REMEMBERED = 1000
_PAGE_CSP = ("default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; connect-src 'self'; "
             "media-src 'self' blob: mediastream:; img-src 'self' blob: data:; base-uri 'none'; form-action 'none'")
_ERROR_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class PhoneRoom:
    """What the phone handlers share: the room's seats, its workshop, and one intake per live link.

    Args:
        seats_root: The folder of the room's seats (``$TL_WIDGETS_SEATS``).
        workshop: The room's workshop (its frame, pixel and disk limits), or None.
    """

    def __init__(self, seats_root: str | Path, workshop: Any = None) -> None:
        self.seats_root, self.workshop = Path(seats_root), workshop
        self.max_frame_bytes = frame_byte_limit(workshop)
        self.max_pixels = MAX_FRAME_PIXELS if workshop is None else min(MAX_FRAME_PIXELS, int(workshop.max_pixels))
        self._intakes: dict[str, CaptureIntake] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> PhoneLink:
        """The link ``token`` opens (raises :class:`PhoneLinkError`)."""
        return verify_link(self.seats_root, token)

    def intake(self, link: PhoneLink) -> CaptureIntake:
        """The link's intake (its rate and quota counters kept between photos), its folder read afresh."""
        with self._lock:
            intake = self._intakes.pop(link.key, None)
            if intake is None or intake.store.root != captures_home(link.seat_home) / WEBCAM_DATASET:
                home, ws = link.seat_home, self.workshop
                store = CaptureStore(captures_home(home) / WEBCAM_DATASET, max_frame_bytes=self.max_frame_bytes,
                                     max_pixels=self.max_pixels)
                intake = CaptureIntake(store, (lambda: seat_space_left(home, ws)) if ws is not None else None)
            self._intakes[link.key] = intake  # most recently used last
            while len(self._intakes) > MAX_LINKS_REMEMBERED:
                self._intakes.pop(next(iter(self._intakes)))
        intake.store.rescan()  # the seat's kernel adds and deletes classes and frames too
        return intake

    def answer_photo(self, token: str, data: bytes, size: int) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON answer to a photo of ``size`` bytes (``data``: its first bytes, up to the limit)
        sent with ``token``: the link first, then the size, then :meth:`take_photo`."""
        try:
            link = self.verify(token)
        except PhoneLinkError as exc:
            return 403, {"ok": False, "message": str(exc)}
        if size > self.max_frame_bytes:
            return 413, {"ok": False, "message": _too_large(size, self.max_frame_bytes)}
        return self.take_photo(link, data)

    def take_photo(self, link: PhoneLink, data: bytes) -> tuple[int, dict[str, Any]]:
        """Checks and stores one photo; returns the HTTP status and the JSON answer."""
        try:
            intake = self.intake(link)
            intake.add(link.class_name, data)
        except FrameTooFast as exc:
            return 429, {"ok": False, "message": str(exc)}
        except FrameTooLarge as exc:
            return 413, {"ok": False, "message": str(exc)}
        except NotAFrame as exc:
            return 415, {"ok": False, "message": str(exc)}
        except CaptureError as exc:
            return 409, {"ok": False, "message": str(exc)}
        count = intake.store.counts().get(link.class_name, 0)
        return 200, {"ok": True, "class": link.class_name, "count": count}


def phone_handlers(base_url: str, room: PhoneRoom) -> list[tuple]:
    """The Tornado handlers of the phone page and its frames under ``base_url``."""
    import tornado.web
    from jupyter_server.utils import url_path_join

    class _Phone(tornado.web.RequestHandler):  # type: ignore[misc]
        def set_default_headers(self) -> None:
            self.set_header("Cache-Control", "no-store")
            self.set_header("Referrer-Policy", "no-referrer")  # the token is in this page's address
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("X-Frame-Options", "DENY")

        def check_xsrf_cookie(self) -> None:
            """No cookie to forge: the token in the address is the only key (a phone has no login)."""

        def refuse_page(self, status: int, message: str) -> None:
            self.set_status(status)
            self.set_header("Content-Security-Policy", _ERROR_CSP)
            self.finish(phone_error_page(message))

        def answer(self, status: int, body: dict[str, Any]) -> None:
            self.set_status(status)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(body))

    class PhonePageHandler(_Phone):
        async def get(self, token: str) -> None:
            try:
                link = await asyncio.get_running_loop().run_in_executor(None, room.verify, token)
            except PhoneLinkError as exc:
                self.refuse_page(403, str(exc))
                return
            nonce = secrets.token_urlsafe(16)
            self.set_header("Content-Security-Policy", _PAGE_CSP.format(n=nonce))
            self.finish(phone_page(link.class_name, nonce))

    @tornado.web.stream_request_body
    class PhoneFrameHandler(_Phone):
        def prepare(self) -> None:
            self._body, self._size = bytearray(), 0
            limit = room.max_frame_bytes
            declared = self.request.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > 4 * limit:  # not worth reading: answered, connection closed
                self.answer(413, {"ok": False, "message": _too_large(int(declared), limit)})
                return
            self.request.connection.set_max_body_size(4 * limit)

        def data_received(self, chunk: bytes) -> None:
            self._size += len(chunk)
            if self._size <= room.max_frame_bytes:
                self._body += chunk  # beyond the limit only counted: answered 413 once it has arrived

        async def post(self, token: str) -> None:
            # Files, a walk of the seat for its quota, Pillow: off the server's loop, which serves every student.
            status, body = await asyncio.get_running_loop().run_in_executor(
                None, room.answer_photo, token, bytes(self._body), self._size)
            self.answer(status, body)

    path = url_path_join(base_url, PHONE_PATH)
    return [(path + r"/([A-Za-z0-9_-]+)/frame", PhoneFrameHandler), (path + r"/([A-Za-z0-9_-]+)/?", PhonePageHandler)]


def _too_large(size: int, limit: int) -> str:
    return _("Expected a photo of at most {limit:,} bytes. Received: {n:,} bytes").format(limit=limit, n=size)
