"""The ONE batch/epoch history of a run, kept by one bus subscriber.

:class:`HistoryRecorder` (fastai's idea of a recorder that owns the history)
subscribes to the bus and is the only thing in the kernel that keeps every
batch: ``TrainingSession.history``, ``RunResult.history``, the runner's
summary and rollback, the run folder's CSVs and the Studio's charts all read
its columns. The training worker never writes into it directly: it publishes
events and the recorder takes them.

Columns stay aligned: a metric that appears late is padded with NaN for the
rows before it, and a row that lacks a metric gets NaN there.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Mapping

from tl_widgets.core.events import BatchEnd, EpochEnd, EventHandler, PhaseStarted, RunStarted

__all__ = ["HistoryRecorder", "BATCH_COLUMNS", "EPOCH_COLUMNS"]

BATCH_COLUMNS = ("global_step", "epoch", "phase", "learning_rate", "images_per_sec")
"""Columns of every batch row before the metrics."""
EPOCH_COLUMNS = ("epoch", "phase", "global_step", "learning_rate")
"""Columns of every epoch row before the metrics (``global_step``: the step where the epoch ended)."""


def _append_row(table: dict[str, list[Any]], row: Mapping[str, Any]) -> None:
    """Appends one row, padding columns with NaN so every list keeps the same length."""
    n = len(next(iter(table.values()))) if table else 0
    for key in row:
        if key not in table:
            table[key] = [math.nan] * n
    for key, column in table.items():
        value = row.get(key)
        column.append(math.nan if value is None else value)


class HistoryRecorder(EventHandler):
    """Records the batch and epoch history of one run from its events.

    Subscribe it to the run's bus (``bus.subscribe(recorder)``); it runs in
    the publishing thread. Readers in other threads use :meth:`snapshot`.

    A ``RunStarted`` of another run (or of the same run once batches were
    recorded) starts over; :meth:`begin` starts over explicitly, e.g. with the
    epochs a resumed run already has.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.begin(None)

    def begin(self, run_id: str | None, epoch_history: Mapping[str, list[Any]] | None = None) -> None:
        """Starts an empty history for ``run_id``, seeded with earlier epochs when given.

        Args:
            run_id: The run whose events will follow.
            epoch_history: Epoch columns of the epochs already done (a resumed run).
        """
        with self._lock:
            self.run_id = run_id
            self.batch: dict[str, list[Any]] = {name: [] for name in BATCH_COLUMNS}
            epoch: dict[str, list[Any]] = {name: [] for name in EPOCH_COLUMNS}
            if epoch_history:
                rows = max((len(v) for v in epoch_history.values()), default=0)
                for name in epoch_history:
                    epoch.setdefault(name, [])
                for name, column in epoch.items():
                    given = list(epoch_history.get(name, []))
                    column.extend(given + [math.nan] * (rows - len(given)))
            self.epoch: dict[str, list[Any]] = epoch
            self.phases: list[dict[str, Any]] = []
            self._last_step: int | None = None

    @property
    def history(self) -> dict[str, dict[str, list[Any]]]:
        """``{"batch": {column: [...]}, "epoch": {column: [...]}}`` (the live lists, not copies)."""
        return {"batch": self.batch, "epoch": self.epoch}

    def snapshot(self) -> dict[str, Any]:
        """Copies of the columns and the phases: ``{"batch": ..., "epoch": ..., "phases": [...]}``."""
        with self._lock:
            return {
                "batch": {k: list(v) for k, v in self.batch.items()},
                "epoch": {k: list(v) for k, v in self.epoch.items()},
                "phases": [dict(p) for p in self.phases],
            }

    def final_metrics(self) -> dict[str, float]:
        """The last epoch's metrics; the last batch's when no epoch finished."""
        with self._lock:
            metrics = {k: v[-1] for k, v in self.epoch.items() if k not in EPOCH_COLUMNS and v}
            if not metrics:
                metrics = {k: v[-1] for k, v in self.batch.items()
                           if k not in ("epoch", "phase", "global_step") and v}
            return metrics

    @property
    def epochs_done(self) -> int:
        """Rows in the epoch history."""
        return len(self.epoch["epoch"])

    # -- by event name ---------------------------------------------------------------

    def on_run_started(self, event: RunStarted) -> None:
        if event.run_id != self.run_id or self.batch["global_step"]:
            self.begin(event.run_id)

    def on_phase_started(self, event: PhaseStarted) -> None:
        with self._lock:
            self.phases.append({"phase": event.phase, "name": event.name, "global_step": self._last_step or 0,
                                "learning_rate": event.learning_rate, "epochs": event.epochs})

    def on_batch_end(self, event: BatchEnd) -> None:
        with self._lock:
            self._last_step = event.global_step
            _append_row(self.batch, {"global_step": event.global_step, "epoch": event.epoch, "phase": event.phase,
                                     "learning_rate": event.learning_rate, "images_per_sec": event.images_per_sec,
                                     **event.metrics})

    def on_epoch_end(self, event: EpochEnd) -> None:
        with self._lock:
            step = self._last_step if self._last_step is not None else event.epoch + 1
            _append_row(self.epoch, {"epoch": event.epoch, "phase": event.phase, "global_step": step,
                                     "learning_rate": event.learning_rate, **event.metrics})
