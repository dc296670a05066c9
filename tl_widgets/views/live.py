"""Live training charts fed by engine events, drawn from a pump thread.

:class:`LiveTrainingCharts` turns ``BatchEnd`` / ``EpochEnd`` / ``PhaseStarted``
... events into three :class:`~tl_widgets.views.chart.PlotlyChart` charts (loss,
other metrics, learning rate) and a :class:`TrainingProgress` summary. The full
history stays in Python (:attr:`LiveTrainingCharts.history`); the browser gets
only new points, and per-batch series are min/max-decimated into a bounded
display. An :class:`EventPump` thread (never the training thread) drains the
bus subscription and draws at most ``1 / interval`` times a second.

Example (the Train panel)::

    charts = LiveTrainingCharts()
    charts.observe(lambda change: show(change["new"]), names="progress")
    charts.attach(session.bus)   # starts the pump
    ...
    charts.detach()              # stops it after a last drain and draw

``progress`` observers run in the pump thread: they may set widget values but
must never print, display or use ``Output``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import ipywidgets as widgets
import traitlets

from tl_widgets.core.events import (
    TERMINAL_EVENTS,
    BatchEnd,
    EpochEnd,
    Event,
    EventBus,
    Message,
    PhaseStarted,
    RunFailed,
    RunStarted,
    Subscription,
)
from tl_widgets.views.live_series import ChartSeries

__all__ = ["TrainingProgress", "LiveTrainingCharts", "EventPump"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingProgress:
    """A summary of the run for progress bars and status lines.

    Attributes:
        run_id: The run, or None before the first event.
        status: ``"idle"``, ``"running"``, ``"finished"``, ``"stopped"`` or ``"failed"``.
        phase: Index of the current phase, or None.
        phase_name: Name of the current phase ("" if none).
        epoch: Current epoch, 1-based and counted across phases (0 before start).
        total_epochs: Epochs in the whole run, or None when unknown.
        step: Step within the current epoch (the last step of the chunk).
        steps_per_epoch: Steps per epoch, or None when unknown.
        global_step: Steps done since the run started.
        total_steps: ``total_epochs * steps_per_epoch``, or None.
        steps_in_chunk: Steps per batch event (``steps_per_execution``).
        images_per_sec: Latest throughput, or None.
        eta_seconds: Estimated seconds left (from the recent step rate), or None.
        metrics: Latest batch metrics, merged with the latest epoch metrics.
        message: Latest notice (a ``Message`` text or the error of a failed run).
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

    @property
    def fraction(self) -> float | None:
        """Share of the run done (0..1), or None when the total is unknown."""
        if not self.total_steps:
            return None
        return min(1.0, self.global_step / self.total_steps)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


class LiveTrainingCharts(widgets.VBox):
    """Loss, metrics and learning-rate charts that follow a training run.

    Args:
        max_display_points: Bound on the points drawn per per-batch series.
        height: Height of each chart in pixels.
        interval: Seconds between draws of the pump (0.2 = at most 5 a second).
    """

    progress = traitlets.Instance(
        TrainingProgress, args=(), help="Latest progress summary; observe it (runs in the pump thread)."
    )

    def __init__(self, max_display_points: int = 2000, height: int = 280, interval: float = 0.2) -> None:
        if interval <= 0:
            raise ValueError(f"Expected interval > 0 seconds. Received: interval={interval}")
        self.interval = float(interval)
        self._lock = threading.RLock()
        self._series = ChartSeries(max_display_points=max_display_points, height=height)
        self._pump: EventPump | None = None
        self._subscription: Subscription | None = None
        self.draw_count = 0
        super().__init__(children=list(self._series.charts.values()))
        self.add_class("tlw-live-charts")
        self.reset()

    # -- public API -----------------------------------------------------------------

    @property
    def charts(self) -> dict[str, Any]:
        """The charts by name: ``"loss"``, ``"metrics"``, ``"lr"``."""
        return dict(self._series.charts)

    @property
    def history(self) -> dict[str, Any]:
        """The full history: ``{"batch": {name: [...]}, "epoch": {...}, "phases": [...]}``."""
        with self._lock:
            return {
                "batch": {k: list(v) for k, v in self._batch.items()},
                "epoch": {k: list(v) for k, v in self._epoch.items()},
                "phases": [dict(p) for p in self._phases],
            }

    def reset(self) -> None:
        """Forgets the run: empties history, progress and charts."""
        with self._lock:
            self._batch: dict[str, list[float]] = {"global_step": [], "epoch": [], "learning_rate": [], "images_per_sec": []}
            self._epoch: dict[str, list[float]] = {"epoch": [], "global_step": [], "learning_rate": []}
            self._phases: list[dict[str, Any]] = []
            self._rates: deque[tuple[float, int]] = deque(maxlen=30)
            self._series.reset()
            self.progress = TrainingProgress()

    def handle(self, events: Iterable[Event], draw: bool = True) -> None:
        """Takes events into the history and progress; draws unless ``draw=False``.

        Args:
            events: Events in the order they were published.
            draw: Send the new points to the browser now (see :meth:`flush`).
        """
        with self._lock:
            progress = self.progress
            for event in events:
                progress = self._take(event, progress)
            if progress != self.progress:
                self.progress = progress
            if draw:
                self.flush()

    def flush(self) -> None:
        """Sends every point not drawn yet to the charts."""
        with self._lock:
            if self._series.flush():
                self.draw_count += 1

    def attach(self, bus: EventBus) -> None:
        """Listens to ``bus`` and starts the pump thread that draws.

        Raises:
            RuntimeError: Already attached.
        """
        with self._lock:
            if self._pump is not None:
                raise RuntimeError("LiveTrainingCharts is already attached: call detach() first.")
            self._subscription = bus.listen()
            self._pump = EventPump(self._subscription, self, interval=self.interval)
            self._pump.start()

    def detach(self, timeout: float = 5.0) -> None:
        """Stops the pump, then takes and draws the events still queued."""
        pump, sub = self._pump, self._subscription
        self._pump, self._subscription = None, None
        if pump is not None:
            pump.stop(timeout=timeout)
        if sub is not None:
            sub.close()
            self.handle(sub.drain())

    @property
    def pump(self) -> EventPump | None:
        """The running pump, if attached."""
        return self._pump

    # -- events -----------------------------------------------------------------------

    def _take(self, event: Event, p: TrainingProgress) -> TrainingProgress:
        if isinstance(event, RunStarted):
            if p.run_id is not None and (p.run_id != event.run_id or self._batch["global_step"]):
                self.reset()
            return replace(
                TrainingProgress(),
                run_id=event.run_id,
                status="running",
                total_epochs=event.total_epochs,
                steps_per_epoch=event.steps_per_epoch,
                epoch=event.resumed_from_epoch,
                total_steps=self._total(event.total_epochs, event.steps_per_epoch),
            )
        if isinstance(event, PhaseStarted):
            x = self._batch["global_step"][-1] if self._batch["global_step"] else 0
            self._phases.append({"phase": event.phase, "name": event.name, "global_step": x,
                                 "learning_rate": event.learning_rate, "epochs": event.epochs})
            self._series.add_phase(x, event.name)
            return replace(p, run_id=p.run_id or event.run_id, status="running", phase=event.phase,
                           phase_name=event.name)
        if isinstance(event, BatchEnd):
            return self._take_batch(event, p)
        if isinstance(event, EpochEnd):
            x = self._batch["global_step"][-1] if self._batch["global_step"] else event.epoch + 1
            self._append_row(self._epoch, {"epoch": event.epoch, "global_step": x,
                                           "learning_rate": event.learning_rate, **event.metrics})
            self._series.add_epoch(x, event.metrics)
            return replace(p, epoch=event.epoch + 1, metrics={**p.metrics, **event.metrics})
        if isinstance(event, Message):
            return replace(p, message=event.text)
        if isinstance(event, TERMINAL_EVENTS):
            text = event.error if isinstance(event, RunFailed) else p.message
            return replace(p, status=event.status, eta_seconds=0.0 if event.status == "finished" else None,
                           message=text)
        return p

    def _take_batch(self, event: BatchEnd, p: TrainingProgress) -> TrainingProgress:
        x = event.global_step
        self._append_row(self._batch, {"global_step": x, "epoch": event.epoch, "learning_rate": event.learning_rate,
                                       "images_per_sec": event.images_per_sec, **event.metrics})
        self._series.add_batch(x, event.metrics, event.learning_rate, event.steps_in_chunk)
        self._rates.append((event.time, x))
        spe = event.steps_per_epoch or p.steps_per_epoch
        total = self._total(p.total_epochs, spe)
        return replace(
            p, run_id=p.run_id or event.run_id, status="running", phase=event.phase, epoch=event.epoch + 1,
            step=event.step, steps_per_epoch=spe, global_step=x, total_steps=total,
            steps_in_chunk=event.steps_in_chunk, images_per_sec=event.images_per_sec,
            eta_seconds=self._eta(x, total), metrics={**p.metrics, **event.metrics},
        )

    def _eta(self, global_step: int, total: int | None) -> float | None:
        if total is None or len(self._rates) < 2:
            return None
        (t0, s0), (t1, s1) = self._rates[0], self._rates[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return max(0.0, (total - global_step) * (t1 - t0) / (s1 - s0))

    @staticmethod
    def _total(epochs: int | None, steps_per_epoch: int | None) -> int | None:
        return epochs * steps_per_epoch if epochs and steps_per_epoch else None

    @staticmethod
    def _append_row(table: dict[str, list[float]], row: dict[str, float]) -> None:
        """Appends one row, padding columns so every list keeps the same length."""
        n = len(next(iter(table.values())))
        for key in row:
            if key not in table:
                table[key] = [math.nan] * n
        for key, column in table.items():
            column.append(_nan(row.get(key)) if key in row else math.nan)


class EventPump:
    """Drains a subscription in its own thread and draws at a bounded rate.

    Args:
        subscription: From ``bus.listen()``.
        charts: Whatever has ``handle(events, draw=True)``.
        interval: Minimum seconds between two draws.
    """

    def __init__(self, subscription: Subscription, charts: LiveTrainingCharts, interval: float = 0.2) -> None:
        if interval <= 0:
            raise ValueError(f"Expected interval > 0 seconds. Received: interval={interval}")
        self._subscription = subscription
        self._charts = charts
        self.interval = interval
        self.draws = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tl_widgets-event-pump", daemon=True)

    def start(self) -> None:
        """Starts the thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Asks the thread to end and waits up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        next_draw = 0.0
        while not self._stop.is_set():
            first = self._subscription.get(timeout=min(0.5, self.interval))
            if first is None:
                continue
            wait = next_draw - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                events = [first, *self._subscription.drain()]
                self._draw(events)
                return
            self._draw([first, *self._subscription.drain()])
            next_draw = time.monotonic() + self.interval

    def _draw(self, events: list[Event]) -> None:
        try:
            self._charts.handle(events, draw=True)
            self.draws += 1
        except Exception as exc:  # keep pumping; the error is kept and logged
            if len(self.errors) < 100:
                self.errors.append(exc)
            _log.exception("tl_widgets: drawing training events failed")
