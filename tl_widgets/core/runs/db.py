"""SQLite plumbing for the run store: schema, connections, retries, liveness.

The database is one SQLite file in WAL mode so that several kernels, CLI
processes and the Jupyter server can read and write it at once. Every
operation opens its own short-lived connection (cheap for SQLite, and safe
across threads and ``fork``), writes run in short ``BEGIN IMMEDIATE``
transactions, and a ``database is locked`` error is retried with a backoff on
top of SQLite's own busy timeout.

WAL needs a local file system: do not put ``TL_WIDGETS_HOME`` on NFS/SMB.

This module is private to :mod:`tl_widgets.core.runs.store`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import psutil

__all__ = [
    "SCHEMA_VERSION",
    "StoreTooNewError",
    "SOURCES",
    "MAX_BATCH_POINTS",
    "ACTIVE_STATUSES",
    "STATUSES",
    "HEARTBEAT_TIMEOUT_S",
    "connect",
    "ensure_schema",
    "with_retry",
    "write_transaction",
    "run_row_to_dict",
    "is_dead",
    "this_host",
    "this_process",
    "dumps",
    "loads",
    "json_safe",
    "finite_or_none",
    "read",
    "write",
    "MODEL_STATUSES",
    "saved_a_model",
]

SCHEMA_VERSION = 1
STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
#: The statuses of a run that ended with a saved model (stopped runs keep the model of their last epoch).
MODEL_STATUSES = ("finished", "stopped")
ACTIVE_STATUSES = ("running",)
SOURCES = ("studio", "python", "cli", "work")
# Batch points kept per run; older points are thinned by doubling a stride.
MAX_BATCH_POINTS = 2000
# A run on another host whose last heartbeat is older than this is reported
# as interrupted (we cannot ask that host whether the process is alive).
HEARTBEAT_TIMEOUT_S = 300.0
_BUSY_TIMEOUT_S = 10.0
_RETRIES = 8

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    run_dir TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_create_time REAL,
    heartbeat REAL NOT NULL,
    phase INTEGER,
    phase_name TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    total_epochs INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    steps_per_epoch INTEGER,
    global_step INTEGER NOT NULL DEFAULT 0,
    best_metric_name TEXT,
    best_metric REAL,
    final_metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    traceback TEXT,
    batch_stride INTEGER NOT NULL DEFAULT 1,
    batch_seq INTEGER NOT NULL DEFAULT 0,
    sweep_id TEXT,
    trial INTEGER
);
CREATE INDEX IF NOT EXISTS runs_start ON runs(start_time);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    phase INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    duration REAL,
    learning_rate REAL,
    time REAL NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    global_step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    images_per_sec REAL,
    learning_rate REAL,
    time REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_run ON artifacts(run_id);
"""
# Columns added after a store was first created: added in place when missing (no version bump needed).
_ADDED_COLUMNS = (("runs", "sweep_id", "TEXT"), ("runs", "trial", "INTEGER"))


def saved_a_model(status: Any) -> bool:
    """True for the status of a run that ended with a saved model (``"finished"`` or ``"stopped"``)."""
    return status in MODEL_STATUSES


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def with_retry(fn: Callable[[], _T], retries: int = _RETRIES) -> _T:
    """Calls ``fn()``, retrying with a jittered backoff while the db is locked.

    Args:
        fn: Opens its own connection and does one short piece of work.
        retries: Attempts after the first one.

    Raises:
        sqlite3.OperationalError: Still locked after every retry, or any other
            operational error (re-raised at once).
    """
    delay = 0.02
    for attempt in range(retries + 1):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or attempt == retries:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # the loop returns or raises


def connect(path: Path) -> sqlite3.Connection:
    """Opens a connection in autocommit mode with a busy timeout."""
    conn = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode; fsync at checkpoints
    conn.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
    return conn


@contextlib.contextmanager
def _closing(path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def write_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection inside ``BEGIN IMMEDIATE``; commits on success, rolls back on error.

    ``IMMEDIATE`` takes the write lock up front, so two writers never deadlock
    upgrading a read lock. Keep the body short.
    """
    with _closing(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def read(path: Path, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """Runs ``fn(conn)`` on a fresh connection with retries."""

    def attempt() -> _T:
        with _closing(path) as conn:
            return fn(conn)

    return with_retry(attempt)


def write(path: Path, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """Runs ``fn(conn)`` inside a write transaction with retries."""

    def attempt() -> _T:
        with write_transaction(path) as conn:
            return fn(conn)

    return with_retry(attempt)


class StoreTooNewError(OSError):
    """A run store written by a newer tl_widgets (a schema version this one does not know)."""


def ensure_schema(path: Path) -> None:
    """Creates the tables and switches the file to WAL mode (idempotent).

    Raises:
        StoreTooNewError: The file was written by a newer tl_widgets (an ``OSError``, as a damaged
            store's is: every caller that reports one reports the other).
    """

    def attempt() -> None:
        with _closing(path) as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"Expected journal_mode 'wal'. Received: {mode!r} for {str(path)!r}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreTooNewError(
                    f"Expected a run store with schema version <= {SCHEMA_VERSION}. "
                    f"Received: version {version} in {str(path)!r} (written by a newer tl_widgets); upgrade "
                    "tl_widgets, or move the file away to start a fresh store"
                )
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            for table, column, kind in _ADDED_COLUMNS:
                have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    try:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc).lower():
                            raise

    with_retry(attempt)


# -- JSON ------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value: Any) -> str:
    """JSON text of ``value``; numpy scalars become Python numbers, NaN stays NaN."""
    return json.dumps(_clean(value), default=str)


def loads(text: str | None, default: Any) -> Any:
    """Parses JSON text; ``None`` or empty text gives ``default``."""
    if not text:
        return default
    return json.loads(text)


def json_safe(value: Any) -> Any:
    """A copy of ``value`` where NaN and infinities are None (strict JSON for browsers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def finite_or_none(value: Any) -> float | None:
    """``float(value)`` when it is a finite number, else None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# -- liveness --------------------------------------------------------------


def this_host() -> str:
    """The host name recorded with each run."""
    return socket.gethostname()


def this_process() -> tuple[int, float | None]:
    """``(pid, create_time)`` of the current process."""
    pid = os.getpid()
    try:
        return pid, psutil.Process(pid).create_time()
    except psutil.Error:
        return pid, None


def is_dead(row: sqlite3.Row | dict[str, Any], now: float | None = None) -> bool:
    """True when a ``running`` row's process can no longer be training.

    Same host: the pid is gone, or it now belongs to a process created at
    another time (the pid was recycled). Other host: the heartbeat is older
    than :data:`HEARTBEAT_TIMEOUT_S`.
    """
    now = time.time() if now is None else now
    if row["host"] != this_host():
        return now - float(row["heartbeat"]) > HEARTBEAT_TIMEOUT_S
    pid = int(row["pid"])
    try:
        proc = psutil.Process(pid)
        created = proc.create_time()
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False  # it exists and belongs to someone else: assume alive
    expected = row["pid_create_time"]
    return expected is not None and abs(created - float(expected)) > 1.0


def run_row_to_dict(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    """A public run dict from a ``runs`` row, with the effective status."""
    d = dict(row)
    status = d["status"]
    if status in ACTIVE_STATUSES and is_dead(row, now):
        status = "interrupted"
        d["end_time"] = d["end_time"] or d["heartbeat"]
    d["status"] = status
    d["config"] = loads(d.get("config"), {})
    d["final_metrics"] = loads(d.get("final_metrics"), {})
    total = d["total_epochs"] or 0
    done = float(d["epoch"] or 0)
    if status == "running" and d.get("steps_per_epoch") and done < total:
        done += min(1.0, (d["step"] or 0) / d["steps_per_epoch"])
    d["progress"] = 1.0 if status == "finished" else (min(1.0, done / total) if total else 0.0)
    for private in ("pid_create_time", "batch_stride", "batch_seq"):
        d.pop(private, None)
    return d
