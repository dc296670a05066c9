"""Claiming an interrupted run before resuming it, across processes.

Two kernels (two browser tabs, two seats of a room) may press Resume on the
same interrupted run at the same moment. A :class:`ResumeClaim` makes sure
only one continues it: an exclusive lock file in the run folder (held while
the run trains, released by the OS if the process dies) plus a conditional
update in the run store (the row still shows the dead owner it showed when
the claim began; a live owner means the run is not interrupted).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from tl_widgets.core.i18n import _
from tl_widgets.core.runs import db

__all__ = ["ResumeClaim", "RunClaimedError", "LOCK_FILE"]

LOCK_FILE = ".resume.lock"


class RunClaimedError(RuntimeError):
    """Another process is already training (or resuming) this run."""


class ResumeClaim:
    """Holds the right to resume one run until :meth:`release`.

    Args:
        run_dir: The run folder.
        run_id: The run's id.
        store: The run store to claim the row in (None: only the lock file).

    Raises:
        RunClaimedError: Another process holds the run.
        OSError: The lock file cannot be created.
    """

    def __init__(self, run_dir: str | os.PathLike[str], run_id: str, store: Any = None) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunClaimedError(_("Expected an interrupted run nobody is resuming. Received: run {run_id!r} is "
                                    "being resumed by another tab or process").format(run_id=run_id)) from None
        self._fd: int | None = fd
        try:
            if store is not None:
                _claim_row(store.path, run_id)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Lets another process claim the run (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _claim_row(path: Path, run_id: str) -> None:
    """Marks the run as this process's, only if its stored owner is dead (one transaction)."""
    pid, created = db.this_process()

    def claim(conn: Any) -> None:
        row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return  # not recorded (yet): the lock file alone decides
        if row["status"] in db.ACTIVE_STATUSES and not db.is_dead(row):
            raise RunClaimedError(_("Expected an interrupted run. Received: run {run_id!r} is training in process "
                                    "{pid} on {host}").format(run_id=run_id, pid=row["pid"], host=row["host"]))
        n = conn.execute(
            "UPDATE runs SET status = 'running', pid = ?, pid_create_time = ?, host = ?, heartbeat = ? "
            "WHERE run_id = ? AND status IS ? AND pid IS ? AND pid_create_time IS ?",
            (pid, created, db.this_host(), time.time(), run_id, row["status"], row["pid"], row["pid_create_time"]),
        ).rowcount
        if n != 1:
            raise RunClaimedError(_("Expected to claim run {run_id!r}. Received: another process claimed it first").format(
                run_id=run_id))

    db.write(path, claim)
