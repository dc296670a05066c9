"""The line in front of a busy room: pages wait for a seat instead of hanging on "loading".

Building a Studio page starts a kernel that imports TensorFlow and runs the
notebook: seconds on a quiet machine, minutes when thirty start at once on two
cores. ``serve`` therefore builds at most ``limit`` pages at a time. A visitor
who arrives while all are taken gets a small page served by the server itself
— "Waiting for a seat: N ahead" — that asks ``<base>/tl-widgets-wait`` every
second (same token/cookie as the Studio; without one the answer is 403) and
moves to the Studio when its turn comes.

Tickets are the server's: each is issued to one browser (its owner, the
student id from the room's cookie) and answers only to it, a browser holds at
most :data:`MAX_PER_OWNER` of them, and the line is no longer than the room
(``max_line``, the room's seats): made-up tickets never enter it.

:class:`WaitingRoom` is the bookkeeping (pure Python, testable without a
server); :func:`tl_widgets.server.room_server.room_voila` routes the Studio page
through it.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any, Callable

__all__ = ["WaitingRoom", "TicketError", "waiting_page", "valid_ticket", "WAIT_PATH", "TICKET_ARG", "SETTINGS_KEY",
           "MAX_PER_OWNER"]

WAIT_PATH = "tl-widgets-wait"
TICKET_ARG = "seat_ticket"
SETTINGS_KEY = "tl_widgets_waiting_room"
# A ticket not asked about for this long is dropped (its tab was closed).
STALE_S = 15.0
# A turn not taken (the page not requested) within this long goes to the next in line.
RESERVE_S = 30.0
MAX_LINE = 1000
#: Tickets one browser may hold at once (tabs opened while the room is busy).
MAX_PER_OWNER = 3
#: A ticket's owner is remembered this long after its last poll (a tab that slept rejoins under its ticket).
FORGET_S = 600.0
_TICKET_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


class TicketError(ValueError):
    """A ticket that is not this browser's, or no place left in line."""


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

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic, max_line: int = MAX_LINE) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Expected a waiting-room limit >= 1. Received: {limit!r}")
        if not isinstance(max_line, int) or max_line < 1:
            raise ValueError(f"Expected a line of at least 1 place. Received: max_line={max_line!r}")
        self.limit, self.max_line = limit, max_line
        self.building = 0
        self._clock = clock
        self._line: list[str] = []
        self._seen: dict[str, float] = {}
        self._reserved: dict[str, float] = {}
        self._owner: dict[str, str] = {}

    def _prune(self) -> None:
        now = self._clock()
        for ticket in [t for t in self._line if now - self._seen.get(t, now) > STALE_S]:
            self._line.remove(ticket)
        for ticket in [t for t, until in self._reserved.items() if now > until]:
            del self._reserved[ticket]
        for ticket in [t for t in self._owner if t not in self._line and t not in self._reserved
                       and now - self._seen.get(t, now) > FORGET_S]:
            self._owner.pop(ticket, None)
            self._seen.pop(ticket, None)

    def _check_owner(self, ticket: str, owner: str) -> None:
        if self._owner.get(ticket) != owner:
            raise TicketError("Expected a ticket this browser was given. Received: another (not shown: tickets stay "
                              "out of the log)")

    def _free(self) -> int:
        return self.limit - self.building - len(self._reserved)

    def enter(self, ticket: str | None, owner: str = "") -> bool:
        """True when this page request may be built now (then call :meth:`leave` when it is done).

        A request whose ticket was given its turn (and is its owner's) enters; one
        without a ticket enters only when nobody is waiting and a place is free.
        """
        self._prune()
        if ticket is not None and ticket in self._reserved and self._owner.get(ticket) == owner:
            del self._reserved[ticket]
            self.building += 1
            return True
        if not self._line and self._free() > 0:
            self.building += 1
            return True
        return False

    def leave(self) -> None:
        """A page entered with :meth:`enter` is built (or failed)."""
        self.building = max(0, self.building - 1)

    def join(self, owner: str = "", ticket: str | None = None) -> str:
        """Puts a visitor at the end of the line (again, under its old ticket when it is its own); returns the ticket.

        Raises:
            TicketError: The line is as long as the room, or this browser already waits in
                :data:`MAX_PER_OWNER` places.
        """
        self._prune()
        ticket = valid_ticket(ticket)
        if ticket is None or self._owner.get(ticket) != owner:
            ticket = secrets.token_urlsafe(12)  # only the server issues tickets
        if ticket not in self._line and ticket not in self._reserved:
            if len(self._line) >= self.max_line:
                raise TicketError(f"Expected at most {self.max_line} visitors waiting (the room's seats). "
                                  "Received: one more")
            mine = sum(1 for t in self._line if self._owner.get(t) == owner)
            if mine >= MAX_PER_OWNER:
                raise TicketError(f"Expected at most {MAX_PER_OWNER} waiting tabs per browser. Received: one more")
            self._line.append(ticket)
            self._owner[ticket] = owner
        self._seen[ticket] = self._clock()
        return ticket

    def ahead(self, ticket: str) -> int:
        """Pages being built, turns given, and visitors in line before ``ticket``."""
        position = self._line.index(ticket) if ticket in self._line else len(self._line)
        return self.building + len(self._reserved) + position

    def poll(self, ticket: str, owner: str = "") -> dict[str, Any]:
        """The answer to a waiting page: ``{"go": bool, "ahead": N}``; gives the turn when it has come.

        Raises:
            TicketError: ``ticket`` was not issued to ``owner`` (made up, or another browser's).
        """
        self._prune()
        self._check_owner(ticket, owner)
        if ticket in self._reserved:
            return {"go": True, "ahead": 0}
        if ticket not in self._line:
            self.join(owner, ticket)  # dropped while its tab slept: back in line, under its own ticket
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
