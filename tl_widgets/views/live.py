"""Live training charts fed by engine events, drawn from a pump thread.

:class:`LiveTrainingCharts` turns ``BatchEnd`` / ``EpochEnd`` / ``PhaseStarted``
... events into three :class:`~tl_widgets.views.widgets.chart.PlotlyChart` charts (loss,
other metrics, learning rate) and a :class:`~tl_widgets.core.progress.TrainingProgress`
summary (from the one reducer in core). The charts keep only what they show:
per-batch series are min/max-decimated into a bounded display and the browser
gets only new points. The run's full history is kept once, by the session's
:class:`~tl_widgets.core.training.history.HistoryRecorder`; pass it to
:meth:`LiveTrainingCharts.attach` and :attr:`LiveTrainingCharts.history` reads
it. An :class:`EventPump` thread (never the training thread) drains the bus
subscription and draws at most ``1 / interval`` times a second.

Example (the Train panel)::

    charts = LiveTrainingCharts()
    charts.observe(lambda change: show(change["new"]), names="progress")
    charts.attach(session.bus, history=session.history_recorder)   # starts the pump
    ...
    charts.detach()              # stops it after a last drain and draw

``progress`` observers run in the pump thread: they may set widget values but
must never print, display or use ``Output``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable

import ipywidgets as widgets
import traitlets

from tl_widgets.core.events import BatchEnd, EpochEnd, Event, EventBus, EventHandler, PhaseStarted, RunStarted, Subscription
from tl_widgets.core.progress import ProgressTracker, TrainingProgress
from tl_widgets.core.training.history import BATCH_COLUMNS, EPOCH_COLUMNS, HistoryRecorder
from tl_widgets.views.live_series import ChartSeries

__all__ = ["TrainingProgress", "LiveTrainingCharts", "EventPump"]

_log = logging.getLogger(__name__)


class _SeriesFeeder(EventHandler):
    """Events -> chart points (by event name); keeps only the last step, for placing epoch and phase marks."""

    def __init__(self, series: ChartSeries) -> None:
        self.series = series
        self.last_step: int | None = None

    def on_phase_started(self, event: PhaseStarted) -> None:
        self.series.add_phase(self.last_step or 0, event.name)

    def on_batch_end(self, event: BatchEnd) -> None:
        self.last_step = event.global_step
        self.series.add_batch(event.global_step, event.metrics, event.learning_rate, event.steps_in_chunk)

    def on_epoch_end(self, event: EpochEnd) -> None:
        x = self.last_step if self.last_step is not None else event.epoch + 1
        self.series.add_epoch(x, event.metrics)


class LiveTrainingCharts(widgets.VBox):
    """Loss, metrics and learning-rate charts that follow a training run.

    Args:
        max_display_points: Bound on the points drawn per per-batch series.
        height: Height of each chart in pixels.
        interval: Seconds between draws of the pump (0.2 = at most 5 a second).
        history: The run's history recorder, read by :attr:`history` (also
            settable in :meth:`attach`).
    """

    progress = traitlets.Instance(
        TrainingProgress, args=(), help="Latest progress summary; observe it (runs in the pump thread)."
    )

    def __init__(self, max_display_points: int = 2000, height: int = 280, interval: float = 0.2,
                 history: HistoryRecorder | None = None) -> None:
        if interval <= 0:
            raise ValueError(f"Expected interval > 0 seconds. Received: interval={interval}")
        self.interval = float(interval)
        self._lock = threading.RLock()
        self._series = ChartSeries(max_display_points=max_display_points, height=height)
        self._tracker = ProgressTracker()
        self._pump: EventPump | None = None
        self._subscription: Subscription | None = None
        self.draw_count = 0
        super().__init__(children=list(self._series.charts.values()))
        self.add_class("tlw-live-charts")
        self.reset()
        self._history = history

    # -- public API -----------------------------------------------------------------

    @property
    def charts(self) -> dict[str, Any]:
        """The charts by name: ``"loss"``, ``"metrics"``, ``"lr"``."""
        return dict(self._series.charts)

    @property
    def history(self) -> dict[str, Any]:
        """The run's history, read from its recorder: ``{"batch": {...}, "epoch": {...}, "phases": [...]}``.

        Empty columns when no recorder was given (the charts keep no history of their own).
        """
        history = self._history
        if history is None:
            return {"batch": {c: [] for c in BATCH_COLUMNS}, "epoch": {c: [] for c in EPOCH_COLUMNS}, "phases": []}
        return history.snapshot()

    def reset(self) -> None:
        """Forgets the run: empties progress and charts and lets go of the run's history."""
        with self._lock:
            self._series.reset()
            self._feeder = _SeriesFeeder(self._series)
            self._tracker.reset()
            self._history: HistoryRecorder | None = None
            self.progress = TrainingProgress()

    def handle(self, events: Iterable[Event], draw: bool = True) -> None:
        """Takes events into the charts and the progress; draws unless ``draw=False``.

        Args:
            events: Events in the order they were published.
            draw: Send the new points to the browser now (see :meth:`flush`).
        """
        with self._lock:
            for event in events:
                if event.kind == "run_started":
                    self._restart_for(event)
                self._tracker(event)
                self._feeder(event)
            if self._tracker.progress != self.progress:
                self.progress = self._tracker.progress
            if draw:
                self.flush()

    def flush(self) -> None:
        """Sends every point not drawn yet to the charts."""
        with self._lock:
            if self._series.flush():
                self.draw_count += 1

    def attach(self, bus: EventBus, history: HistoryRecorder | None = None) -> None:
        """Listens to ``bus`` and starts the pump thread that draws.

        Args:
            bus: The run's event bus.
            history: The run's history recorder (``session.history_recorder``),
                so :attr:`history` reads the kernel's one copy.

        Raises:
            RuntimeError: Already attached.
        """
        with self._lock:
            if self._pump is not None:
                raise RuntimeError("LiveTrainingCharts is already attached: call detach() first.")
            if history is not None:
                self._history = history
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

    # -- private ----------------------------------------------------------------------

    def _restart_for(self, event: RunStarted) -> None:
        """A new run (or the same one restarted after batches) starts on empty charts."""
        p = self._tracker.progress
        if p.run_id is not None and (p.run_id != event.run_id or self._feeder.last_step is not None):
            history = self._history
            self.reset()
            self._history = history


DRAW_CPU_SHARE = 0.01
"""Drawing may take at most this share of one core's time while training (the pump waits longer otherwise)."""
MAX_PAUSE_S = 2.0
"""The longest the pump waits between two draws, however costly they are."""


class EventPump:
    """Drains a subscription in its own thread and draws at a bounded rate.

    Draws are at least ``interval`` apart, and further apart when one draw's
    CPU time is more than :data:`DRAW_CPU_SHARE` of the pause (so the charts
    never take a measurable share of the CPU from training); no event is
    dropped, a later draw takes every event queued since.

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
            cpu = time.thread_time()
            self._draw([first, *self._subscription.drain()])
            next_draw = time.monotonic() + self.pause_after(time.thread_time() - cpu)

    def pause_after(self, draw_cpu_s: float) -> float:
        """Seconds until the next draw: ``interval``, longer when a draw costs more than its share of a core.

        Time-based and lossless: events keep queueing and the next draw takes
        them all; only how often the browser is updated changes (at most
        :data:`MAX_PAUSE_S` apart).
        """
        return min(max(self.interval, draw_cpu_s / DRAW_CPU_SHARE), max(self.interval, MAX_PAUSE_S))

    def _draw(self, events: list[Event]) -> None:
        try:
            self._charts.handle(events, draw=True)
            self.draws += 1
        except Exception as exc:  # keep pumping; the error is kept and logged
            if len(self.errors) < 100:
                self.errors.append(exc)
            _log.exception("tl_widgets: drawing training events failed")
