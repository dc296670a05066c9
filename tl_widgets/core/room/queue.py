"""The room's fair training queue: at most K trainings at once, first come first served, one place per student.

Built on the run store's SQLite helpers (:mod:`tl_widgets.core.runs.db`): one
``room.sqlite`` beside the seats, one row per training that asked for a
slot. A training waits (``queued, N ahead``) until fewer than K trainings
run and nobody who asked earlier is still waiting. Rows of processes that are
gone (a killed kernel) are dropped at every poll, so their slots free
themselves; Stop while queued leaves the queue at once. A student (a browser,
however many tabs it opens) holds at most one place (:class:`StudentBusyError`),
and a run that holds a slot longer than the room allows is stopped
(:func:`queue_gate`). A damaged queue file raises :class:`RoomQueueError`,
which ``serve`` checks before the room opens (:func:`check_queue_file`).

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

__all__ = ["TrainingQueue", "QUEUE_FILE", "RoomQueueError", "StudentBusyError", "check_queue_file", "queue_gate",
           "busy_message"]

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
    started REAL,
    student TEXT
);
"""


class RoomQueueError(RuntimeError):
    """The room's queue database cannot be used (damaged, or not a database)."""


class StudentBusyError(RuntimeError):
    """The student already has a training running or waiting (from another tab)."""


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
                if "student" not in {r[1] for r in conn.execute("PRAGMA table_info(queue)")}:
                    conn.execute("ALTER TABLE queue ADD COLUMN student TEXT")  # a queue file from before students
            finally:
                conn.close()

        try:
            db.with_retry(create)
        except sqlite3.DatabaseError as exc:
            raise RoomQueueError(
                f"Expected the room's queue database {str(self.path)!r} to be readable. Received: {exc}; it holds "
                "only the queue of waiting trainings: move it away and start again") from exc

    def enter(self, seat: str, run_id: str, student: str | None = None) -> None:
        """Takes a ticket for ``run_id`` (at the back of the queue).

        Raises:
            StudentBusyError: ``student`` already holds a place with another run (a live process's).
        """
        pid, created = db.this_process()

        def take(conn: sqlite3.Connection) -> None:
            if student is not None:
                for row in conn.execute("SELECT * FROM queue WHERE student = ? AND run_id != ?", (student, run_id)):
                    if _alive(row):
                        raise StudentBusyError(busy_message(row))
            conn.execute("INSERT OR REPLACE INTO queue (run_id, seat, pid, pid_create_time, entered, student) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (run_id, seat, pid, created, time.time(), student))

        db.write(self.path, take)

    def student_place(self, student: str) -> dict[str, Any] | None:
        """The live ticket ``student`` holds (``run_id``, ``seat``, ``state``...), None when it holds none."""
        rows = db.read(self.path, lambda c: c.execute("SELECT * FROM queue WHERE student = ?", (student,)).fetchall())
        return next((dict(r) for r in rows if _alive(r)), None)

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
                  on_position: Callable[[int], Any] | None = None, student: str | None = None) -> bool:
        """Queues ``run_id`` and blocks until it may train.

        Args:
            seat: The seat asking (shown in the instructor view).
            run_id: The run.
            stop: Set by Stop: leaves the queue and returns False.
            on_position: Told the number ahead each time it changes (not when 0).
            student: The student asking (one place each; None: no such rule).

        Returns:
            True when the run holds a slot (call :meth:`leave` when it ends), False when stopped while queued.

        Raises:
            StudentBusyError: The student already holds a place.
        """
        self.enter(seat, run_id, student)
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


def busy_message(row: Any) -> str:
    """The refusal for a student who already holds ``row`` (a queue ticket) from another tab."""
    state = _("training") if row["state"] == "training" else _("waiting in the queue")
    return _("Expected one training at a time per student. Received: another tab of yours has run {run} {state}; "
             "stop it there first").format(run=row["run_id"], state=state)


def check_queue_file(path: str | Path) -> None:
    """Opens (or creates) the room's queue database once, so that a damaged one stops ``serve`` with the reason.

    Raises:
        RoomQueueError: Naming the file and what to do.
    """
    TrainingQueue(path, slots=1)


def queue_gate(queue: TrainingQueue, seat: str, *, student: str | None = None, max_hold_s: float | None = None
               ) -> Callable[[str, threading.Event, Callable[[str], None]], Any]:
    """A start gate for :func:`tl_widgets.core.training.session.set_start_gate`: every run waits its turn.

    The run's notice says ``queued: N ahead of you`` while it waits.

    Args:
        queue: The room's queue.
        seat: The seat asking.
        student: The student asking: one place per student across their tabs.
        max_hold_s: A run that holds its slot this long is stopped (after its current batch), with a notice.
    """
    def gate(run_id: str, stop: threading.Event, say: Callable[[str], None]) -> Callable[[], None] | None:
        def tell(ahead: int) -> None:
            at_once = ngettext("{n} training at a time", "{n} trainings at once", queue.slots).format(n=queue.slots)
            say(_("queued: {ahead} ahead of you ({at_once} in this room)").format(ahead=ahead, at_once=at_once))

        if not queue.wait_turn(seat, run_id, stop, on_position=tell, student=student):
            return None
        timer = None
        if max_hold_s is not None:
            def time_up() -> None:
                say(_("Stopped: a run may train for at most {minutes:g} minutes in this room (workshop limit).")
                    .format(minutes=max_hold_s / 60), "warning")
                stop.set()

            timer = threading.Timer(max_hold_s, time_up)
            timer.daemon = True
            timer.start()

        def release() -> None:
            if timer is not None:
                timer.cancel()
            queue.leave(run_id)

        return release

    return gate
