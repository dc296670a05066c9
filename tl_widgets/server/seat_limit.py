"""The room's kernels: at most ``max_seats`` at once, never-connected ones shut down, the instructor's shutdowns.

Every page load of the Studio starts a kernel (about 0.8 GiB once TensorFlow
has loaded), so a room needs a cap that does not depend on browsers behaving.
:class:`SeatLimitedKernelManager` is the kernel manager of ``serve``'s Voilà:

* :meth:`~SeatLimitedKernelManager.start_kernel` refuses (:class:`RoomFullError`)
  when ``max_seats`` kernels run or are starting; the room's page handler
  answers with a "room full" page instead of the Studio;
* a kernel whose page was sent but never opened its websocket (a bare GET, a
  tab closed while loading) is shut down ``unconnected_timeout`` seconds after
  the page was sent (:meth:`~SeatLimitedKernelManager.page_sent`); a kernel that
  connected once follows the usual idle culling;
* a seat the instructor asked to shut down (``<seat>/control/shutdown``, see
  :func:`tl_widgets.core.room.control.request_shutdown`) has its kernel shut
  down by this server, which owns it (found by the pid in the seat's ``seat.json``).

Which kernel a page request started is passed back through :data:`KERNEL_OF_REQUEST`
(a context variable the handler sets around its work; Voilà starts the kernel in
that request's task). Only ``python -m tl_widgets.server.voila_entry`` imports this module.
"""

from __future__ import annotations

import contextvars
import os
import time
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Integer, Unicode

from tl_widgets.core.settings import SEATS_ENV

__all__ = ["SeatLimitedKernelManager", "RoomFullError", "KERNEL_OF_REQUEST"]

KERNEL_OF_REQUEST: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("tlw_kernel_of_request",
                                                                                    default=None)
"""Set by the page handler to a list; :meth:`SeatLimitedKernelManager.start_kernel` appends the kernel it started."""


class RoomFullError(RuntimeError):
    """Every seat of the room is taken: no kernel was started."""

    def __init__(self, seats: int) -> None:
        super().__init__(f"Expected a free seat. Received: all {seats} seats of the room are taken")
        self.seats = seats


class SeatLimitedKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    """A kernel manager with a cap on kernels, a short timeout for pages that never connect, and remote shutdowns."""

    max_seats = Integer(0, config=True, help="Most kernels at once (0: no cap).")
    unconnected_timeout = Float(120.0, config=True,
                                help="Seconds after its page was sent that a never-connected kernel is shut down.")
    watch_interval = Float(5.0, config=True, help="Seconds between looks at the kernels and the seats' requests.")
    seats_root = Unicode(config=True, help="The room's seats folder (default: $TL_WIDGETS_SEATS).")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._starting = 0
        self._sent: dict[str, float] = {}
        self._connected: set[str] = set()
        self._watch: Any = None
        if not self.seats_root:
            self.seats_root = os.environ.get(SEATS_ENV, "")

    @property
    def seats_taken(self) -> int:
        """Kernels running or starting."""
        return len(self.list_kernel_ids()) + self._starting

    def full(self) -> bool:
        """True when no kernel may start now."""
        return self.max_seats > 0 and self.seats_taken >= self.max_seats

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Starts a kernel unless the room is full.

        Raises:
            RoomFullError: ``max_seats`` kernels run or are starting.
        """
        if self.full():
            raise RoomFullError(self.max_seats)
        self._starting += 1  # counted from here: two requests at once never both take the last seat
        try:
            kernel_id = await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1
        mine = KERNEL_OF_REQUEST.get()
        if mine is not None:
            mine.append(kernel_id)
        self._start_watching()
        return kernel_id

    def page_sent(self, kernel_id: str, now: float | None = None) -> None:
        """The page of ``kernel_id`` has been sent (or its request ended): its connection clock starts."""
        self._sent[kernel_id] = time.monotonic() if now is None else now

    def _start_watching(self) -> None:
        if self._watch is None:
            from tornado.ioloop import PeriodicCallback

            self._watch = PeriodicCallback(self.watch_once, self.watch_interval * 1000)
            self._watch.start()

    async def watch_once(self, now: float | None = None) -> list[str]:
        """One look: shuts down never-connected kernels past the timeout and seats the instructor shut down.

        Returns:
            The kernels shut down.
        """
        now = time.monotonic() if now is None else now
        ids = set(self.list_kernel_ids())
        for gone in [k for k in self._sent if k not in ids]:
            self._sent.pop(gone, None)
        self._connected &= ids
        stale = []
        for kernel_id in ids:
            if self._kernel_connections.get(kernel_id, 0) > 0:
                self._connected.add(kernel_id)
            elif kernel_id not in self._connected and now - self._sent.get(kernel_id, now) > self.unconnected_timeout:
                stale.append(kernel_id)
        for kernel_id in stale:
            self.log.warning("Shutting down kernel %s: its page never connected within %.0f s (a seat freed)",
                             kernel_id, self.unconnected_timeout)
        asked = self._shutdown_requests(ids - set(stale))
        for kernel_id in asked:
            self.log.warning("Shutting down kernel %s: the instructor closed its seat", kernel_id)
        for kernel_id in [*stale, *asked]:
            try:
                await self.shutdown_kernel(kernel_id)
            except Exception as exc:  # one kernel that will not stop must not stop the watch
                self.log.error("Could not shut down kernel %s: %s", kernel_id, exc)
        return [*stale, *asked]

    def _shutdown_requests(self, ids: set[str]) -> list[str]:
        """Kernels (among ``ids``) whose seat the instructor asked to shut down; each request is consumed."""
        if not self.seats_root:
            return []
        from tl_widgets.core.room.control import shutdown_requested
        from tl_widgets.core.room.seat import list_seats, seat_pids

        by_pid = {}
        for kernel_id in ids:
            pid = getattr(getattr(self.get_kernel(kernel_id), "provisioner", None), "pid", None)
            if pid is not None:
                by_pid[int(pid)] = kernel_id
        out = []
        for home, info in list_seats(self.seats_root):
            if shutdown_requested(home):  # every tab's kernel of that seat
                out += [by_pid[pid] for pid in seat_pids(info) if pid in by_pid]
        return out
