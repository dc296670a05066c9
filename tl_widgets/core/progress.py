"""Reading a run's events: the ONE event -> progress reducer and the best-metric rule.

:class:`ProgressTracker` folds the events of a run into a
:class:`TrainingProgress` summary (phase, epoch, step, throughput, ETA,
latest metrics, status). The Studio's live charts, the CLI progress bar and
the run store all reduce events through it, so "where is this run" is
computed in one place. Events are dispatched by name
(:class:`~tl_widgets.core.events.EventHandler`).

:func:`best_metric` is the one rule for which metric decides the best epoch
of a run: ``val_accuracy`` when the run validates, else ``accuracy``
(higher is better). The runner (best checkpoint, rollback) and the run
store (best metric column) both ask it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Iterable

from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    Event,
    EventHandler,
    Message,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)

__all__ = ["TrainingProgress", "ProgressTracker", "BEST_METRICS", "best_metric"]

BEST_METRICS = ("val_accuracy", "accuracy")
"""Metrics that can decide the best epoch, best first; higher is better."""


def best_metric(names: Iterable[str]) -> str | None:
    """The metric that decides the best epoch among ``names``.

    Args:
        names: Metric names a run logged (e.g. an epoch's ``metrics`` dict).

    Returns:
        ``"val_accuracy"`` when present, else ``"accuracy"`` when present,
        else None.
    """
    present = set(names)
    return next((name for name in BEST_METRICS if name in present), None)


@dataclass(frozen=True)
class TrainingProgress:
    """A summary of the run for progress bars, status lines and the run store.

    Attributes:
        run_id: The run, or None before the first event.
        status: ``"idle"``, ``"running"``, ``"finished"``, ``"stopped"`` or ``"failed"``.
        phase: Index of the current phase, or None.
        phase_name: Name of the current phase ("" if none).
        epoch: Current epoch, 1-based and counted across phases (0 before start).
        total_epochs: Epochs in the whole run, or None when unknown.
        step: Step within the current epoch (the last step of the chunk); kept
            after the epoch ends, for display.
        steps_per_epoch: Steps per epoch, or None when unknown.
        global_step: Steps done since the run started.
        total_steps: ``total_epochs * steps_per_epoch``, or None.
        steps_in_chunk: Steps per batch event (``steps_per_execution``).
        images_per_sec: Latest throughput, or None.
        eta_seconds: Estimated seconds left (from the recent step rate), or None.
        metrics: Latest batch metrics, merged with the latest epoch metrics.
        message: Latest notice (a ``Message`` text or the error of a failed run).
        warning: The latest ``Message`` with level ``"warning"`` of this run (e.g. why the room stopped it).
        epochs_done: Epochs finished (what the run store records).
        epoch_step: Steps done in the epoch under way; 0 between epochs.
    """

    run_id: str | None = None
    status: str = "idle"
    phase: int | None = None
    phase_name: str = ""
    epoch: int = 0
    total_epochs: int | None = None
    step: int = 0
    steps_per_epoch: int | None = None
    global_step: int = 0
    total_steps: int | None = None
    steps_in_chunk: int = 1
    images_per_sec: float | None = None
    eta_seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    warning: str = ""
    epochs_done: int = 0
    epoch_step: int = 0

    @property
    def fraction(self) -> float | None:
        """Share of the run done (0..1), or None when the total is unknown."""
        if not self.total_steps:
            return None
        return min(1.0, self.global_step / self.total_steps)


def _total(epochs: int | None, steps_per_epoch: int | None) -> int | None:
    return epochs * steps_per_epoch if epochs and steps_per_epoch else None


class ProgressTracker(EventHandler):
    """Folds the events of one run, in order, into :attr:`progress`.

    Example:

    >>> tracker = ProgressTracker()
    >>> tracker.take(RunStarted("r", config={}, run_dir=None, total_epochs=2, steps_per_epoch=5)).total_steps
    10

    Args:
        rate_window: How many recent batch events the ETA's step rate is taken over.
    """

    def __init__(self, rate_window: int = 30) -> None:
        self._rate_window = rate_window
        self.reset()

    def reset(self) -> None:
        """Forgets the run."""
        self.progress = TrainingProgress()
        self._rates: deque[tuple[float, int]] = deque(maxlen=self._rate_window)

    def take(self, event: Event) -> TrainingProgress:
        """Takes one event and returns the progress after it."""
        self(event)
        return self.progress

    # -- by event name ---------------------------------------------------------------

    def on_run_started(self, event: RunStarted) -> None:
        self._rates.clear()
        self.progress = TrainingProgress(
            run_id=event.run_id, status="running", total_epochs=event.total_epochs,
            steps_per_epoch=event.steps_per_epoch, epoch=event.resumed_from_epoch,
            epochs_done=event.resumed_from_epoch, total_steps=_total(event.total_epochs, event.steps_per_epoch),
        )

    def on_phase_started(self, event: PhaseStarted) -> None:
        p = self.progress
        self.progress = replace(p, run_id=p.run_id or event.run_id, status="running", phase=event.phase,
                                phase_name=event.name, epochs_done=event.first_epoch, epoch_step=0)

    def on_batch_end(self, event: BatchEnd) -> None:
        p = self.progress
        self._rates.append((event.time, event.global_step))
        steps_per_epoch = event.steps_per_epoch or p.steps_per_epoch
        total = _total(p.total_epochs, steps_per_epoch)
        self.progress = replace(
            p, run_id=p.run_id or event.run_id, status="running", phase=event.phase, epoch=event.epoch + 1,
            step=event.step, steps_per_epoch=steps_per_epoch, global_step=event.global_step, total_steps=total,
            steps_in_chunk=event.steps_in_chunk, images_per_sec=event.images_per_sec,
            eta_seconds=self._eta(event.global_step, total), metrics={**p.metrics, **event.metrics},
            epochs_done=event.epoch, epoch_step=event.step,
        )

    def on_epoch_end(self, event: EpochEnd) -> None:
        p = self.progress
        self.progress = replace(p, epoch=event.epoch + 1, epochs_done=event.epoch + 1, epoch_step=0,
                                metrics={**p.metrics, **event.metrics})

    def on_message(self, event: Message) -> None:
        extra = {"warning": event.text} if event.level == "warning" else {}
        self.progress = replace(self.progress, message=event.text, **extra)

    def on_run_finished(self, event: RunFinished) -> None:
        self.progress = replace(self.progress, status=event.status, eta_seconds=0.0)

    def on_run_stopped(self, event: RunStopped) -> None:
        self.progress = replace(self.progress, status=event.status, eta_seconds=None)

    def on_run_failed(self, event: RunFailed) -> None:
        self.progress = replace(self.progress, status=event.status, eta_seconds=None, message=event.error)

    # -- private ----------------------------------------------------------------------

    def _eta(self, global_step: int, total: int | None) -> float | None:
        if total is None or len(self._rates) < 2:
            return None
        (t0, s0), (t1, s1) = self._rates[0], self._rates[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return max(0.0, (total - global_step) * (t1 - t0) / (s1 - s0))
