"""The event subscriber that writes runs into a :class:`~tl_widgets.core.runs.store.RunStore`.

Import it from :mod:`tl_widgets.core.runs.store`. It depends on the database
layer (:mod:`tl_widgets.core.runs.db`) and the store's ``path`` only, never on
the store module (no import cycle). Progress comes from the one reducer
(:class:`~tl_widgets.core.progress.ProgressTracker`), the best metric from
:func:`~tl_widgets.core.progress.best_metric`; events are dispatched by name.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    Event,
    EventHandler,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)
from tl_widgets.core.progress import BEST_METRICS, ProgressTracker, best_metric
from tl_widgets.core.runs import db
from tl_widgets.core.runs.db import MAX_BATCH_POINTS, SOURCES

__all__ = ["RunRecorder"]

_log = logging.getLogger("tl_widgets.core.runs.store")


class _Store(Protocol):
    """What the recorder needs of a :class:`~tl_widgets.core.runs.store.RunStore`."""

    path: Path


@dataclass
class _Live:
    """What a recorder keeps in memory about one active run."""

    batches: list[BatchEnd] = field(default_factory=list)
    last_flush: float = 0.0
    tracker: ProgressTracker = field(default_factory=ProgressTracker)


class RunRecorder(EventHandler):
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

    def __init__(self, store: _Store, source: str = "python") -> None:
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
                if event.kind == "run_started" or event.run_id in self._live:
                    super().__call__(event)
                elif event.kind in _RUN_EVENT_KINDS:
                    self.ignored += 1
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

    # -- by event name (only runs whose RunStarted was seen) -------------------------

    def on_run_started(self, event: RunStarted) -> None:
        self._start(event)

    def on_phase_started(self, event: PhaseStarted) -> None:
        live = self._live[event.run_id]
        live.tracker(event)
        self._update_progress(event.run_id, live)

    def on_batch_end(self, event: BatchEnd) -> None:
        live = self._live[event.run_id]
        live.batches.append(event)
        live.tracker(event)
        if time.monotonic() - live.last_flush >= self.flush_interval:
            self._flush(event.run_id)

    def on_epoch_end(self, event: EpochEnd) -> None:
        self._live[event.run_id].tracker(event)
        self._flush(event.run_id, epoch=event)

    def on_run_finished(self, event: RunFinished | RunStopped | RunFailed) -> None:
        self._flush(event.run_id)
        self._finish(event)
        del self._live[event.run_id]

    on_run_stopped = on_run_finished
    on_run_failed = on_run_finished

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
        live = _Live(last_flush=time.monotonic())
        live.tracker(ev)
        self._live[ev.run_id] = live

    def _update_progress(self, run_id: str, live: _Live) -> None:
        db.write(self.store.path, lambda conn: self._write_progress(conn, run_id, live))

    @staticmethod
    def _write_progress(conn: sqlite3.Connection, run_id: str, live: _Live) -> None:
        p = live.tracker.progress
        columns: dict[str, Any] = {"epoch": p.epochs_done, "step": p.epoch_step, "global_step": p.global_step}
        if p.phase is not None:
            columns["phase"] = p.phase
        if p.phase_name:
            columns["phase_name"] = p.phase_name
        if p.steps_per_epoch:
            columns["steps_per_epoch"] = p.steps_per_epoch
        sets = ", ".join(["heartbeat = ?", *(f"{key} = ?" for key in columns)])
        conn.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [time.time(), *columns.values(), run_id])

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


_RUN_EVENT_KINDS = frozenset({"phase_started", "batch_end", "epoch_end", "run_finished", "run_stopped", "run_failed"})


def _best(metrics: dict[str, Any], name: str | None, value: float | None) -> tuple[str | None, float | None]:
    """The best-so-far metric after an epoch (the rule: :func:`~tl_widgets.core.progress.best_metric`).

    A better-ranked metric that appears (``val_accuracy`` after ``accuracy``)
    starts the best over; a worse-ranked one never replaces the current one.
    Non-finite values are ignored.
    """
    candidate = best_metric(k for k, v in metrics.items() if db.finite_or_none(v) is not None)
    if candidate is None:
        return name, value
    new = float(metrics[candidate])
    if name == candidate and value is not None:
        return candidate, max(float(value), new)
    if name is None or BEST_METRICS.index(candidate) <= BEST_METRICS.index(name):
        return candidate, new
    return name, value
