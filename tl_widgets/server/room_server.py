"""``serve``'s Voilà: the Studio page behind the room's door (a cookie, a clean URL, the seat cap, the line).

:func:`room_voila` returns a Voilà application class whose Studio page
request goes through, in order:

1. **the student cookie** — a browser without the room's (signed) cookie gets
   one and is sent back to the same page; one that still has none is told to
   allow cookies, and no kernel starts for it. The student id (a hash of the
   cookie) reaches that page's kernel as ``$HTTP_X_TLW_STUDENT`` (Voilà's
   ``http_header_envs``; the header is always the server's own, never the
   browser's), so all tabs of one browser are one student;
2. **a clean URL** — a request with ``?token=`` (already logged in by it: the
   login cookie is set) is redirected to the same page without it, so the
   token does not stay in the address bar and browser history;
3. **the seat cap** — when ``max_seats`` kernels run, a "room full" page
   (503) instead of a kernel (:mod:`tl_widgets.server.seat_limit`, which also
   refuses at kernel start, so a race never passes the cap);
4. **the waiting room** — at most ``max_starting`` pages built at once
   (:mod:`tl_widgets.server.waiting_room`), tickets bound to the browser.

Beside the Studio page it serves the seats' phone links (:mod:`tl_widgets.server.phone_capture`: a capture page and
its photos, opened by a link's token alone, no room token or cookie).

Every request is logged by jupyter_server's ``log_request``, which scrubs the
token (and here the tickets) from the URLs it logs; Tornado's default access
log prints them whole. Only ``python -m tl_widgets.server.voila_entry``
imports this module.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tl_widgets.core.settings import STUDENT_HEADER
from tl_widgets.server.waiting_room import (
    SETTINGS_KEY, TICKET_ARG, WAIT_PATH, TicketError, WaitingRoom, valid_ticket, waiting_page,
)

__all__ = ["RoomOptions", "room_voila", "room_settings", "room_full_page", "student_id", "STUDENT_COOKIE",
           "ROOM_KEY", "SCRUBBED_ARGS"]

STUDENT_COOKIE = "tlw_student"
ROOM_KEY = "tl_widgets_room"
#: Query arguments the log never shows (besides jupyter_server's token, auth, key, code, state, xsrf).
SCRUBBED_ARGS = ["ticket", TICKET_ARG]
_COOKIE_TRY = "tlw_cookie"  # marks the one redirect that sets the cookie: no loop for a browser without cookies


@dataclass
class RoomOptions:
    """What ``serve`` asks of its Voilà.

    Attributes:
        max_starting: Pages built at once (None: no line).
        max_seats: Kernels at once (0: no cap).
        unconnected_s: Seconds before a kernel whose page never connected is shut down.
    """

    max_starting: int | None = None
    max_seats: int = 0
    unconnected_s: float = 120.0


def student_id(cookie_value: str) -> str:
    """The student id a cookie stands for (32 hex digits; the cookie itself never leaves the server)."""
    return hashlib.sha256(cookie_value.encode("utf-8")).hexdigest()[:32]


def room_full_page(seats: int) -> str:
    """The HTML answered instead of a Studio when every seat is taken (it tries again every 20 s)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>The room is full — tl-widgets Studio</title>
<style>body{{font-family:system-ui,sans-serif;display:flex;align-items:center;justify-content:center;height:90vh;
margin:0;color:#333}} .box{{text-align:center;max-width:34em}} h1{{font-weight:500}} .tlw-room-full-text{{font-size:1.4em}}
.hint{{color:#666}}</style></head>
<body><div class="box tlw-room-full"><h1>tl-widgets Studio</h1>
<p class="tlw-room-full-text">The room is full: all {int(seats)} seats are taken.</p>
<p class="hint">Close a Studio tab you no longer use, or ask the instructor to free a seat. This page tries
again every 20 seconds.</p></div>
<script>setTimeout(() => location.reload(), 20000);</script></body></html>"""


def room_settings(options: RoomOptions) -> dict[str, Any]:
    """The Tornado settings ``serve``'s Voilà runs with: the room, the line, and the scrubbing access log."""
    from jupyter_server.log import log_request

    settings: dict[str, Any] = {ROOM_KEY: options, "log_function": log_request,
                                "extra_log_scrub_param_keys": list(SCRUBBED_ARGS)}
    if options.max_starting:
        settings[SETTINGS_KEY] = WaitingRoom(options.max_starting, max_line=max(1, options.max_seats or 1000))
    return settings


def room_voila() -> type:
    """A Voilà application class serving the Studio behind the room's door (see the module doc)."""
    import tornado.web
    from jupyter_server.base.handlers import APIHandler
    from jupyter_server.utils import url_path_join
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    from tl_widgets.server.seat_limit import KERNEL_OF_REQUEST, RoomFullError, SeatLimitedKernelManager

    def student_of(handler: Any) -> str | None:
        raw = handler.get_secure_cookie(STUDENT_COOKIE)
        return student_id(raw.decode("ascii", "replace")) if raw else None

    class RoomPageHandler(TornadoVoilaHandler):  # type: ignore[misc]
        @tornado.web.authenticated
        async def get(self, path: str | None = None) -> None:
            if path:  # not the Studio page: Voilà redirects to a file (no kernel)
                await super().get(path)
                return
            self.request.headers.pop(STUDENT_HEADER, None)  # only the server says who the student is
            student = student_of(self)
            args = {k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()}
            if student is None and _COOKIE_TRY in args:
                raise tornado.web.HTTPError(400, "Expected a browser that keeps this site's cookies. Received: "
                                                 "none sent back; allow cookies for this address and reload")
            if student is None or "token" in args or _COOKIE_TRY in args:
                if student is None:
                    self.set_secure_cookie(STUDENT_COOKIE, secrets.token_urlsafe(24), expires_days=None,
                                           httponly=True, samesite="Lax", path=self.base_url)
                    args[_COOKIE_TRY] = "1"
                else:
                    args.pop(_COOKIE_TRY, None)
                args.pop("token", None)  # logged in by now (the login cookie is set): a clean address from here
                self.redirect(self.request.path + ("?" + urlencode(args) if args else ""))
                return
            self.request.headers[STUDENT_HEADER] = student
            options: RoomOptions = self.settings[ROOM_KEY]
            if self.kernel_manager.full():
                self._room_full(options)
                return
            room: WaitingRoom | None = self.settings.get(SETTINGS_KEY)
            ticket = valid_ticket(self.get_query_argument(TICKET_ARG, None))
            if room is not None and not room.enter(ticket, student):
                try:
                    ticket = room.join(student, ticket)
                except TicketError as exc:
                    raise tornado.web.HTTPError(503, str(exc)) from exc
                self.set_header("Cache-Control", "no-store")
                self.finish(waiting_page(room.ahead(ticket), ticket, url_path_join(self.base_url, WAIT_PATH)))
                return
            started: list[str] = []
            mine = KERNEL_OF_REQUEST.set(started)
            try:
                await super().get(path)
            except RoomFullError:
                if self._headers_written:
                    raise
                self._room_full(options)
            finally:
                KERNEL_OF_REQUEST.reset(mine)
                if room is not None:
                    room.leave()
                for kernel_id in started:
                    self.kernel_manager.page_sent(kernel_id)

        def _room_full(self, options: RoomOptions) -> None:
            self.set_status(503)
            self.set_header("Cache-Control", "no-store")
            self.set_header("Retry-After", "20")
            self.finish(room_full_page(options.max_seats))

    class WaitHandler(APIHandler):  # type: ignore[misc]
        @tornado.web.authenticated
        def get(self) -> None:
            ticket = valid_ticket(self.get_query_argument("ticket", None))
            if ticket is None:
                raise tornado.web.HTTPError(400, "Expected ?ticket=<8-32 letters, digits, '-' or '_'>")
            room: WaitingRoom | None = self.settings.get(SETTINGS_KEY)
            if room is None:
                raise tornado.web.HTTPError(404, "Expected a room with a waiting line. Received: none here")
            try:
                answer = room.poll(ticket, student_of(self) or "")
            except TicketError as exc:
                raise tornado.web.HTTPError(404, str(exc)) from exc
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(answer))

    class RoomVoila(Voila):  # type: ignore[misc]
        def init_settings(self) -> Any:
            options: RoomOptions = self.tornado_settings.get(ROOM_KEY, RoomOptions())
            self.voila_configuration.multi_kernel_manager_class = SeatLimitedKernelManager
            self.voila_configuration.http_header_envs = [STUDENT_HEADER]
            out = super().init_settings()
            self.kernel_manager.max_seats = int(options.max_seats or 0)
            self.kernel_manager.unconnected_timeout = float(options.unconnected_s)
            return out

        def init_handlers(self) -> list:
            handlers = []
            for spec in super().init_handlers():
                if spec[1] is TornadoVoilaHandler:
                    handlers.append((url_path_join(self.server_url, WAIT_PATH), WaitHandler))
                    handlers.extend(_phone_handlers(self.server_url))
                    spec = (spec[0], RoomPageHandler, *spec[2:])
                handlers.append(spec)
            return handlers

    return RoomVoila


def _phone_handlers(base_url: str) -> list:
    """The phone capture handlers for the room's seats (none without ``$TL_WIDGETS_SEATS``: no seats, no links)."""
    import os

    from tl_widgets.core.room.workshop import workshop_from_env
    from tl_widgets.core.settings import SEATS_ENV
    from tl_widgets.server.phone_capture import PhoneRoom, phone_handlers

    seats = os.environ.get(SEATS_ENV, "").strip()
    return phone_handlers(base_url, PhoneRoom(seats, workshop_from_env())) if seats else []
