"""The instructor's controls over a room's seats: stop a seat's run, shut a seat down, push a config to every seat,
show one line to every seat.

All are files (no new service): the instructor's kernel writes
``<seat>/control/stop``, ``<seat>/control/shutdown`` or
``<seats>/pushed_config.json`` or ``<seats>/broadcast.json`` (atomically). Each seat's :class:`SeatWatcher`
acts on a stop or a push within a second: it stops the seat's run, or offers
the pushed config to the Studio, which checks it against the workshop's
limits like anything from a browser. A shutdown is carried out by the room's
server, which owns the kernels (:mod:`tl_widgets.server.seat_limit`). A new
room starts without the last room's push and message (:func:`clear_pushed_config`).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.fileio import atomic_write_json
from tl_widgets.core.settings import home_path

__all__ = ["request_stop", "request_shutdown", "shutdown_requested", "push_config", "read_pushed_config",
           "clear_pushed_config", "broadcast", "read_broadcast", "SeatWatcher", "PUSHED_CONFIG", "BROADCAST",
           "STOP_FILE", "SHUTDOWN_FILE", "MAX_BROADCAST"]

PUSHED_CONFIG = "pushed_config.json"
BROADCAST = "broadcast.json"
MAX_BROADCAST = 200
"""Longest message shown to every seat (one line)."""
STOP_FILE = "stop"
SHUTDOWN_FILE = "shutdown"


def request_stop(seat_home: str | Path) -> None:
    """Asks the seat at ``seat_home`` to stop its run (if any) within a second."""
    control = home_path("control", seat_home)
    control.mkdir(mode=0o700, exist_ok=True)
    atomic_write_json(control / STOP_FILE, {"time": time.time()})


def request_shutdown(seat_home: str | Path) -> None:
    """Asks the room's server to shut down the seat's kernel (the server watches for it; see ``server.seat_limit``)."""
    control = home_path("control", seat_home)
    control.mkdir(mode=0o700, exist_ok=True)
    atomic_write_json(control / SHUTDOWN_FILE, {"time": time.time()})


def shutdown_requested(seat_home: str | Path) -> bool:
    """True (once: the request is removed) when the instructor asked to shut down this seat's kernel."""
    request = home_path("control", seat_home) / SHUTDOWN_FILE
    if not request.exists():
        return False
    request.unlink(missing_ok=True)
    return True


def push_config(seats_root: str | Path, config: dict[str, Any]) -> float:
    """Offers ``config`` (a TrainConfig dict) to every seat, now and to seats opened later; returns its stamp."""
    stamp = time.time()
    atomic_write_json(Path(seats_root) / PUSHED_CONFIG, {"time": stamp, "config": config})
    return stamp


def read_pushed_config(seats_root: str | Path) -> tuple[float, dict[str, Any]] | None:
    """``(stamp, config)`` of the last push, None when there is none or it is unreadable."""
    try:
        data = json.loads((Path(seats_root) / PUSHED_CONFIG).read_text(encoding="utf-8"))
        return float(data["time"]), dict(data["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_pushed_config(seats_root: str | Path) -> bool:
    """Removes the last push and the last message to the room (a new room starts without the previous day's);
    True when there was a push."""
    path = Path(seats_root) / PUSHED_CONFIG
    existed = path.exists()
    path.unlink(missing_ok=True)
    (Path(seats_root) / BROADCAST).unlink(missing_ok=True)
    return existed


def broadcast(seats_root: str | Path, text: Any) -> str:
    """Shows one line to every seat (an empty text takes the message down); returns the line as shown.

    Raises:
        ValueError: Not a text, or longer than :data:`MAX_BROADCAST` characters.
    """
    import re

    if not isinstance(text, str):
        raise ValueError(f"Expected a message (text). Received: {type(text).__name__}")
    line = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    if len(line) > MAX_BROADCAST:
        raise ValueError(f"Expected a message of at most {MAX_BROADCAST} characters. Received: {len(line)}")
    atomic_write_json(Path(seats_root) / BROADCAST, {"time": time.time(), "text": line})
    return line


def read_broadcast(seats_root: str | Path) -> tuple[float, str] | None:
    """``(stamp, text)`` of the last message to the room, None when there is none or it is unreadable."""
    try:
        data = json.loads((Path(seats_root) / BROADCAST).read_text(encoding="utf-8"))
        return float(data["time"]), str(data["text"])[:MAX_BROADCAST]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class SeatWatcher(threading.Thread):
    """Polls a seat's control files and calls back (from this daemon thread).

    Args:
        seat_home: The seat's folder.
        on_stop: Called when the instructor stops the seat's run.
        on_config: Called with each new pushed config (a dict); once at start when there is one.
        poll_s: Seconds between looks.
        on_broadcast: Called with each new message to the room (a text; "" takes it down); once at start.
    """

    def __init__(self, seat_home: str | Path, on_stop: Callable[[], Any],
                 on_config: Callable[[dict[str, Any]], Any], poll_s: float = 1.0,
                 on_broadcast: Callable[[str], Any] | None = None) -> None:
        super().__init__(name="tlw-seat-watcher", daemon=True)
        self.home, self.on_stop, self.on_config, self.poll_s = Path(seat_home), on_stop, on_config, poll_s
        self.on_broadcast = on_broadcast
        self._seen: float | None = None
        self._heard: float | None = None
        self._halt = threading.Event()

    def check(self) -> None:
        """One look at the control files (the loop's body; tests call it directly)."""
        stop = home_path("control", self.home) / STOP_FILE
        if stop.exists():
            stop.unlink(missing_ok=True)
            self.on_stop()
        pushed = read_pushed_config(self.home.parent)
        if pushed is not None and pushed[0] != self._seen:
            self._seen = pushed[0]
            self.on_config(pushed[1])
        said = read_broadcast(self.home.parent)
        if self.on_broadcast is not None and said is not None and said[0] != self._heard:
            self._heard = said[0]
            self.on_broadcast(said[1])

    def run(self) -> None:
        while not self._halt.wait(self.poll_s):
            try:
                self.check()
            except Exception as exc:  # a bad control file must not end the watching; say why in the log
                import logging

                logging.getLogger(__name__).warning("seat control: %s", exc)

    def halt(self) -> None:
        """Ends the loop."""
        self._halt.set()
