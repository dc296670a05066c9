"""The line in front of a busy room: pages wait for a seat instead of hanging on "loading".

Building a Studio page starts a kernel that imports TensorFlow and runs the
notebook: seconds on a quiet machine, minutes when thirty start at once on two
cores. ``serve`` therefore builds at most ``limit`` pages at a time. A visitor
who arrives while all are taken gets a small page served by the server itself
— "Waiting for a seat: N ahead" — that asks ``<base>/tl-widgets-wait`` every
second (same token/cookie as the Studio; without one the answer is 403) and
moves to the Studio when its turn comes.

:class:`WaitingRoom` is the bookkeeping (pure Python, testable without a
server); :func:`gated_voila` returns a Voilà application class whose notebook
page goes through it. Only ``python -m tl_widgets.server.voila_launch``
imports this module.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any, Callable

__all__ = ["WaitingRoom", "waiting_page", "gated_voila", "WAIT_PATH", "TICKET_ARG", "SETTINGS_KEY"]

WAIT_PATH = "tl-widgets-wait"
TICKET_ARG = "seat_ticket"
SETTINGS_KEY = "tl_widgets_waiting_room"
# A ticket not asked about for this long is dropped (its tab was closed).
STALE_S = 15.0
# A turn not taken (the page not requested) within this long goes to the next in line.
RESERVE_S = 30.0
MAX_LINE = 1000
_TICKET_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


def valid_ticket(ticket: object) -> str | None:
    """``ticket`` when it has a ticket's shape (it comes from the browser), else None."""
    return ticket if isinstance(ticket, str) and _TICKET_RE.match(ticket) else None


class WaitingRoom:
    """At most ``limit`` pages built at once; the others wait in line, first come first served.

    Args:
        limit: Pages built at the same time (>= 1).
        clock: Seconds, monotonic (tests pass their own).

    Raises:
        ValueError: ``limit`` below 1.
    """

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Expected a waiting-room limit >= 1. Received: {limit!r}")
        self.limit = limit
        self.building = 0
        self._clock = clock
        self._line: list[str] = []
        self._seen: dict[str, float] = {}
        self._reserved: dict[str, float] = {}

    def _prune(self) -> None:
        now = self._clock()
        for ticket in [t for t in self._line if now - self._seen.get(t, now) > STALE_S]:
            self._line.remove(ticket)
            self._seen.pop(ticket, None)
        for ticket in [t for t, until in self._reserved.items() if now > until]:
            del self._reserved[ticket]

    def _free(self) -> int:
        return self.limit - self.building - len(self._reserved)

    def enter(self, ticket: str | None) -> bool:
        """True when this page request may be built now (then call :meth:`leave` when it is done).

        A request whose ticket was given its turn enters; one without a ticket
        enters only when nobody is waiting and a place is free.
        """
        self._prune()
        if ticket is not None and self._reserved.pop(ticket, None) is not None:
            self.building += 1
            return True
        if not self._line and self._free() > 0:
            self.building += 1
            return True
        return False

    def leave(self) -> None:
        """A page entered with :meth:`enter` is built (or failed)."""
        self.building = max(0, self.building - 1)

    def join(self, ticket: str | None = None) -> str:
        """Puts a visitor at the end of the line (again, under its old ticket when it has one); returns the ticket."""
        self._prune()
        ticket = valid_ticket(ticket) or secrets.token_urlsafe(12)
        if ticket not in self._line and ticket not in self._reserved:
            if len(self._line) >= MAX_LINE:
                raise ValueError(f"Expected at most {MAX_LINE} visitors waiting. Received: one more")
            self._line.append(ticket)
        self._seen[ticket] = self._clock()
        return ticket

    def ahead(self, ticket: str) -> int:
        """Pages being built, turns given, and visitors in line before ``ticket``."""
        position = self._line.index(ticket) if ticket in self._line else len(self._line)
        return self.building + len(self._reserved) + position

    def poll(self, ticket: str) -> dict[str, Any]:
        """The answer to a waiting page: ``{"go": bool, "ahead": N}``; gives the turn when it has come."""
        self._prune()
        if ticket in self._reserved:
            return {"go": True, "ahead": 0}
        if ticket not in self._line:
            self.join(ticket)  # dropped while its tab slept: back in line
        self._seen[ticket] = self._clock()
        if self._line.index(ticket) < self._free():
            self._line.remove(ticket)
            self._reserved[ticket] = self._clock() + RESERVE_S
            return {"go": True, "ahead": 0}
        return {"go": False, "ahead": self.ahead(ticket)}


def waiting_page(ahead: int, ticket: str, poll_url: str) -> str:
    """The HTML of the waiting page: the count, updated every second, then on to the Studio."""
    data = json.dumps({"ticket": ticket, "poll": poll_url, "arg": TICKET_ARG}).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Waiting for a seat — tl-widgets Studio</title>
<style>body{{font-family:system-ui,sans-serif;display:flex;align-items:center;justify-content:center;
height:90vh;margin:0;color:#333}} .box{{text-align:center;max-width:34em}} h1{{font-weight:500}}
.tlw-waiting-text{{font-size:1.4em}} .n{{font-weight:700}} .hint{{color:#666}}
.dot{{display:inline-block;width:.6em;height:.6em;margin:0 .15em;border-radius:50%;background:#1976d2;
animation:b 1.2s infinite ease-in-out}} .dot:nth-child(2){{animation-delay:.2s}} .dot:nth-child(3){{animation-delay:.4s}}
@keyframes b{{0%,80%,100%{{opacity:.2}}40%{{opacity:1}}}}</style></head>
<body><div class="box tlw-waiting"><h1>tl-widgets Studio</h1>
<p class="tlw-waiting-text">Waiting for a seat, <span class="n">{int(ahead)}</span> ahead.</p>
<p><span class="dot"></span><span class="dot"></span><span class="dot"></span></p>
<p class="hint">The room prepares a few Studios at a time. Yours opens by itself when its turn comes;
keep this tab open.</p>
<p class="tlw-waiting-error" style="color:#a00"></p></div>
<script>
const W = {data};
async function ask() {{
  try {{
    const r = await fetch(W.poll + "?ticket=" + encodeURIComponent(W.ticket), {{credentials: "same-origin"}});
    if (!r.ok) throw new Error("the server answered " + r.status);
    const a = await r.json();
    if (a.go) {{ const u = new URL(location.href); u.searchParams.set(W.arg, W.ticket); location.replace(u); return; }}
    document.querySelector(".n").textContent = String(a.ahead);
    document.querySelector(".tlw-waiting-error").textContent = "";
  }} catch (e) {{
    document.querySelector(".tlw-waiting-error").textContent = "Can't reach the server (" + e.message + "); retrying.";
  }}
  setTimeout(ask, 1000);
}}
setTimeout(ask, 1000);
</script></body></html>"""


def gated_voila() -> type:
    """A Voilà application class whose notebook page goes through the :class:`WaitingRoom` in its settings."""
    import tornado.web
    from jupyter_server.base.handlers import APIHandler
    from jupyter_server.utils import url_path_join
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    class GatedVoilaHandler(TornadoVoilaHandler):  # type: ignore[misc]
        @tornado.web.authenticated
        async def get(self, path: str | None = None) -> None:
            if path:  # not the Studio page: Voilà redirects to a file (no kernel); never a place in line
                await super().get(path)
                return
            room: WaitingRoom = self.settings[SETTINGS_KEY]
            ticket = valid_ticket(self.get_query_argument(TICKET_ARG, None))
            if not room.enter(ticket):
                try:
                    ticket = room.join(ticket)
                except ValueError as exc:
                    raise tornado.web.HTTPError(503, str(exc)) from exc
                self.set_header("Cache-Control", "no-store")
                self.finish(waiting_page(room.ahead(ticket), ticket,
                                         url_path_join(self.base_url, WAIT_PATH)))
                return
            try:
                await super().get(path)
            finally:
                room.leave()

    class WaitHandler(APIHandler):  # type: ignore[misc]
        @tornado.web.authenticated
        def get(self) -> None:
            ticket = valid_ticket(self.get_query_argument("ticket", None))
            if ticket is None:
                raise tornado.web.HTTPError(400, "Expected ?ticket=<8-32 letters, digits, '-' or '_'>")
            room: WaitingRoom = self.settings[SETTINGS_KEY]
            try:
                answer = room.poll(ticket)
            except ValueError as exc:
                raise tornado.web.HTTPError(503, str(exc)) from exc
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(answer))

    class GatedVoila(Voila):  # type: ignore[misc]
        def init_handlers(self) -> list:
            handlers = []
            for spec in super().init_handlers():
                if spec[1] is TornadoVoilaHandler:
                    handlers.append((url_path_join(self.server_url, WAIT_PATH), WaitHandler))
                    spec = (spec[0], GatedVoilaHandler, *spec[2:])
                handlers.append(spec)
            return handlers

    return GatedVoila

