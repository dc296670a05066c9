"""The event subscriber that writes runs into a :class:`~tl_widgets.core.runs.store.RunStore`.

Import it from :mod:`tl_widgets.core.runs.store`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tl_widgets.core.runs import db
from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    Event,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)
from tl_widgets.core.runs.db import MAX_BATCH_POINTS, SOURCES

if TYPE_CHECKING:
    from tl_widgets.core.runs.store import RunStore

__all__ = ["RunRecorder"]

_BEST_METRICS = ("val_accuracy", "accuracy")
_log = logging.getLogger("tl_widgets.core.runs.store")


@dataclass
class _Live:
    """What a recorder keeps in memory about one active run."""

    batches: list[BatchEnd] = field(default_factory=list)
    last_flush: float = 0.0
    progress: dict[str, Any] = field(default_factory=dict)


class RunRecorder:
    """Records the events of every run on a bus into a :class:`RunStore`.

    Subscribe it to a bus: ``bus.subscribe(RunRecorder(store, source="cli"))``.
    Batch events are buffered and written at most :attr:`flush_interval`
    apart and at each epoch end; at most :data:`MAX_BATCH_POINTS` batch
    points are kept per run (older ones are thinned by doubling a stride).

    A database error never reaches the training thread: it is logged and
    appended to :attr:`errors` (the last 100 are kept).

    Args:
        store: Where to write.
        source: Who started the runs: ``"studio"``, ``"python"`` or ``"cli"``.

    Raises:
        ValueError: Unknown ``source``.
    """

    flush_interval = 0.5

    def __init__(self, store: RunStore, source: str = "python") -> None:
        if source not in SOURCES:
            raise ValueError(f"Expected source in {SOURCES}. Received: source={source!r}")
        self.store = store
        self.source = source
        self.errors: list[BaseException] = []
        self.ignored = 0  # events of runs whose RunStarted this recorder never saw
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Records one event; never raises for database errors."""
        with self._lock:
            try:
                self._handle(event)
            except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
                self._record_error(event, exc)

    def flush(self) -> None:
        """Writes every buffered batch point now."""
        with self._lock:
            for run_id in list(self._live):
                try:
                    self._flush(run_id)
                except (sqlite3.Error, OSError) as exc:
                    self._record_error(None, exc)

    def _record_error(self, event: Event | None, exc: BaseException) -> None:
        self.errors.append(exc)
        del self.errors[:-100]
        what = f"{event.kind} of run {event.run_id!r}" if event is not None else "buffered batches"
        _log.warning("tl_widgets run store: could not record %s in %s: %s", what, self.store.path, exc)

    def _handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
            return
        live = self._live.get(event.run_id)
        if live is None:
            if isinstance(event, (PhaseStarted, BatchEnd, EpochEnd, RunFinished, RunStopped, RunFailed)):
                self.ignored += 1
            return
        if isinstance(event, PhaseStarted):
            live.progress.update(phase=event.phase, phase_name=event.name, epoch=event.first_epoch, step=0)
            self._update_progress(event.run_id, live)
        elif isinstance(event, BatchEnd):
            live.batches.append(event)
            live.progress.update(phase=event.phase, epoch=event.epoch, step=event.step, global_step=event.global_step)
            if event.steps_per_epoch:
                live.progress["steps_per_epoch"] = event.steps_per_epoch
            if time.monotonic() - live.last_flush >= self.flush_interval:
                self._flush(event.run_id)
        elif isinstance(event, EpochEnd):
            live.progress.update(phase=event.phase, epoch=event.epoch + 1, step=0)
            self._flush(event.run_id, epoch=event)
        elif isinstance(event, (RunFinished, RunStopped, RunFailed)):
            self._flush(event.run_id)
            self._finish(event)
            del self._live[event.run_id]

    def _start(self, ev: RunStarted) -> None:
        pid, created = db.this_process()
        name = str(ev.config.get("run_name") or ev.run_id) if isinstance(ev.config, dict) else ev.run_id
        row = (
            ev.run_id, name, self.source, db.dumps(ev.config), ev.time, ev.run_dir, db.this_host(), pid, created,
            ev.time, ev.resumed_from_epoch, ev.total_epochs, ev.steps_per_epoch,
        )

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                """INSERT INTO runs (run_id, name, source, config, status, start_time, run_dir, host, pid,
                       pid_create_time, heartbeat, epoch, total_epochs, steps_per_epoch)
                   VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(run_id) DO UPDATE SET name=excluded.name, source=excluded.source,
                       config=excluded.config, status='running', end_time=NULL, run_dir=excluded.run_dir,
                       host=excluded.host, pid=excluded.pid, pid_create_time=excluded.pid_create_time,
                       heartbeat=excluded.heartbeat, epoch=excluded.epoch, total_epochs=excluded.total_epochs,
                       steps_per_epoch=excluded.steps_per_epoch, error=NULL, traceback=NULL""",
                row,
            )

        db.write(self.store.path, upsert)
        self._live[ev.run_id] = _Live(last_flush=time.monotonic(), progress={"epoch": ev.resumed_from_epoch})

    def _update_progress(self, run_id: str, live: _Live) -> None:
        db.write(self.store.path, lambda conn: self._write_progress(conn, run_id, live))

    @staticmethod
    def _write_progress(conn: sqlite3.Connection, run_id: str, live: _Live) -> None:
        p = live.progress
        sets = ["heartbeat = ?"]
        args: list[Any] = [time.time()]
        for key in ("phase", "phase_name", "epoch", "step", "steps_per_epoch", "global_step"):
            if key in p:
                sets.append(f"{key} = ?")
                args.append(p[key])
        conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", [*args, run_id])

    def _flush(self, run_id: str, epoch: EpochEnd | None = None) -> None:
        live = self._live[run_id]
        pending, live.batches = live.batches, []
        live.last_flush = time.monotonic()

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT batch_stride, batch_seq, best_metric_name, best_metric FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
            if row is None:
                return  # deleted while training: nothing to update
            stride, seq = int(row["batch_stride"]), int(row["batch_seq"])
            points = []
            for b in pending:
                if seq % stride == 0:
                    points.append((run_id, seq, b.global_step, b.epoch, b.step, db.dumps(b.metrics),
                                   db.finite_or_none(b.images_per_sec), db.finite_or_none(b.learning_rate), b.time))
                seq += 1
            conn.executemany(
                "INSERT OR REPLACE INTO batches (run_id, seq, global_step, epoch, step, metrics, images_per_sec,"
                " learning_rate, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                points,
            )
            count = conn.execute("SELECT COUNT(*) FROM batches WHERE run_id = ?", (run_id,)).fetchone()[0]
            while count > MAX_BATCH_POINTS:
                stride *= 2
                conn.execute("DELETE FROM batches WHERE run_id = ? AND seq % ? != 0", (run_id, stride))
                count = conn.execute("SELECT COUNT(*) FROM batches WHERE run_id = ?", (run_id,)).fetchone()[0]
            conn.execute("UPDATE runs SET batch_stride = ?, batch_seq = ? WHERE run_id = ?", (stride, seq, run_id))
            if epoch is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO epochs (run_id, epoch, phase, metrics, duration, learning_rate, time)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (run_id, epoch.epoch, epoch.phase, db.dumps(epoch.metrics), db.finite_or_none(epoch.duration),
                     db.finite_or_none(epoch.learning_rate), epoch.time),
                )
                name, value = _best(epoch.metrics, row["best_metric_name"], row["best_metric"])
                conn.execute("UPDATE runs SET best_metric_name = ?, best_metric = ? WHERE run_id = ?",
                             (name, value, run_id))
            self._write_progress(conn, run_id, live)

        db.write(self.store.path, write)

    def _finish(self, ev: RunFinished | RunStopped | RunFailed) -> None:
        metrics = getattr(ev, "metrics", {}) or {}
        error = ev.error if isinstance(ev, RunFailed) else None
        tb = ev.traceback if isinstance(ev, RunFailed) else None

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT best_metric_name, best_metric, run_dir FROM runs WHERE run_id = ?",
                               (ev.run_id,)).fetchone()
            if row is None:
                return
            name, value = row["best_metric_name"], row["best_metric"]
            if value is None and metrics:
                name, value = _best(metrics, None, None)
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, heartbeat = ?, final_metrics = ?, error = ?,"
                " traceback = ?, run_dir = ?, best_metric_name = ?, best_metric = ? WHERE run_id = ?",
                (ev.status, ev.time, ev.time, db.dumps(metrics), error, tb, ev.run_dir or row["run_dir"], name, value,
                 ev.run_id),
            )

        db.write(self.store.path, write)


def _best(metrics: dict[str, Any], name: str | None, value: float | None) -> tuple[str | None, float | None]:
    """The best-so-far metric after an epoch: val_accuracy if present, else accuracy (higher is better)."""
    for candidate in _BEST_METRICS:
        new = db.finite_or_none(metrics.get(candidate))
        if new is None:
            continue
        if name != candidate or value is None:
            # A better-ranked metric appears (or the first one): start over with it.
            if name is None or _BEST_METRICS.index(candidate) <= _BEST_METRICS.index(name):
                return candidate, new
            return name, value
        return candidate, max(float(value), new)
    return name, value
