"""The room's fair training queue: at most K trainings at once, first come first served.

Built on the run store's SQLite helpers (:mod:`tl_widgets.core.runs.db`): one
``room.sqlite`` beside the seats, one row per training that asked for a
slot. A training waits (``queued, N ahead``) until fewer than K trainings
run and nobody who asked earlier is still waiting. Rows of processes that are
gone (a killed kernel) are dropped at every poll, so their slots free
themselves; Stop while queued leaves the queue at once.

Example::

    queue = TrainingQueue(seats_root / "room.sqlite", slots=2)
    ok = queue.wait_turn("seat-ab12", run_id, stop_event, on_position=print)
    try:
        ...  # train when ok
    finally:
        queue.leave(run_id)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.i18n import _, ngettext
from tl_widgets.core.runs import db

__all__ = ["TrainingQueue", "QUEUE_FILE"]

QUEUE_FILE = "room.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    ticket INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    seat TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_create_time REAL,
    state TEXT NOT NULL DEFAULT 'waiting',
    entered REAL NOT NULL,
    started REAL
);
"""


def _alive(row: sqlite3.Row) -> bool:
    import psutil

    try:
        created = psutil.Process(int(row["pid"])).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    expected = row["pid_create_time"]
    return expected is None or abs(created - float(expected)) <= 1.0


class TrainingQueue:
    """At most ``slots`` trainings at once across every kernel sharing ``path``.

    Args:
        path: The queue's SQLite file (created with its folder).
        slots: Trainings allowed at once (at least 1).
        poll_s: Seconds between checks while waiting.
    """

    def __init__(self, path: str | Path, slots: int, poll_s: float = 1.0) -> None:
        if int(slots) < 1:
            raise ValueError(f"Expected at least 1 training slot. Received: {slots!r}")
        self.path, self.slots, self.poll_s = Path(path), int(slots), float(poll_s)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        def create() -> None:
            conn = db.connect(self.path)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
            finally:
                conn.close()

        db.with_retry(create)

    def enter(self, seat: str, run_id: str) -> None:
        """Takes a ticket for ``run_id`` (at the back of the queue)."""
        pid, created = db.this_process()
        db.write(self.path, lambda c: c.execute(
            "INSERT OR REPLACE INTO queue (run_id, seat, pid, pid_create_time, entered) VALUES (?, ?, ?, ?, ?)",
            (run_id, seat, pid, created, time.time())))

    def poll(self, run_id: str) -> int:
        """Starts ``run_id`` when its turn has come; returns how many are ahead of it (0: it may train).

        Raises:
            KeyError: ``run_id`` has no ticket (it left, or was never queued).
        """
        def step(conn: sqlite3.Connection) -> int:
            rows = conn.execute("SELECT * FROM queue ORDER BY ticket").fetchall()
            gone = [r["ticket"] for r in rows if not _alive(r)]
            for ticket in gone:  # a killed kernel frees its slot and its place
                conn.execute("DELETE FROM queue WHERE ticket = ?", (ticket,))
            rows = [r for r in rows if r["ticket"] not in gone]
            mine = next((r for r in rows if r["run_id"] == run_id), None)
            if mine is None:
                raise KeyError(run_id)
            if mine["state"] == "training":
                return 0
            training = sum(r["state"] == "training" for r in rows)
            ahead = sum(r["state"] == "waiting" and r["ticket"] < mine["ticket"] for r in rows)
            if training + ahead < self.slots:
                conn.execute("UPDATE queue SET state = 'training', started = ? WHERE ticket = ?",
                             (time.time(), mine["ticket"]))
                return 0
            return ahead + 1 + training - self.slots  # trainings to end before this one starts

        return db.write(self.path, step)

    def leave(self, run_id: str) -> None:
        """Gives back the ticket (its slot, or its place in line)."""
        db.write(self.path, lambda c: c.execute("DELETE FROM queue WHERE run_id = ?", (run_id,)))

    def wait_turn(self, seat: str, run_id: str, stop: threading.Event,
                  on_position: Callable[[int], Any] | None = None) -> bool:
        """Queues ``run_id`` and blocks until it may train.

        Args:
            seat: The seat asking (shown in the instructor view).
            run_id: The run.
            stop: Set by Stop: leaves the queue and returns False.
            on_position: Told the number ahead each time it changes (not when 0).

        Returns:
            True when the run holds a slot (call :meth:`leave` when it ends), False when stopped while queued.
        """
        self.enter(seat, run_id)
        last = None
        try:
            while True:
                ahead = self.poll(run_id)
                if ahead == 0:
                    return True
                if ahead != last and on_position is not None:
                    on_position(ahead)
                last = ahead
                if stop.wait(self.poll_s):
                    self.leave(run_id)
                    return False
        except BaseException:
            self.leave(run_id)
            raise

    def snapshot(self) -> list[dict[str, Any]]:
        """Every ticket, oldest first (for the instructor view)."""
        return db.read(self.path, lambda c: [dict(r) for r in c.execute("SELECT * FROM queue ORDER BY ticket")])


def queue_gate(queue: TrainingQueue, seat: str) -> Callable[[str, threading.Event, Callable[[str], None]], Any]:
    """A start gate for :func:`tl_widgets.core.training.session.set_start_gate`: every run waits its turn.

    The run's notice says ``queued: N ahead of you`` while it waits.
    """
    def gate(run_id: str, stop: threading.Event, say: Callable[[str], None]) -> Callable[[], None] | None:
        def tell(ahead: int) -> None:
            at_once = ngettext("{n} training at a time", "{n} trainings at once", queue.slots).format(n=queue.slots)
            say(_("queued: {ahead} ahead of you ({at_once} in this room)").format(ahead=ahead, at_once=at_once))

        if not queue.wait_turn(seat, run_id, stop, on_position=tell):
            return None
        return lambda: queue.leave(run_id)

    return gate
