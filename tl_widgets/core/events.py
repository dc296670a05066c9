"""Typed training events and the thread-safe bus that carries them.

The engine talks outward only through these events. The training worker
publishes; panels, the CLI progress bar and the run store subscribe. A
subscriber callback runs in the publishing (worker) thread, so it must be quick
and must never print, display or touch a widget: UI subscribers only buffer
events and draw from their own thread (see :class:`Subscription`).
A subscriber that reacts to several kinds of event subclasses
:class:`EventHandler` and names its methods after them (``on_batch_end``):
dispatch by name, not by ``isinstance``.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = [
    "Event",
    "RunStarted",
    "PhaseStarted",
    "BatchEnd",
    "EpochEnd",
    "Message",
    "RunFinished",
    "RunStopped",
    "RunFailed",
    "TERMINAL_EVENTS",
    "EventHandler",
    "EventBus",
    "Subscription",
    "event_to_dict",
]


@dataclass(frozen=True)
class Event:
    """Base class of every event.

    Attributes:
        run_id: The id of the run that emitted the event.
        time: Wall-clock time (``time.time()``) when the event was created.
    """

    run_id: str
    time: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        """Snake-case event name, e.g. ``"batch_end"``."""
        return _KIND_NAMES[type(self)]


@dataclass(frozen=True)
class RunStarted(Event):
    """A run began: the worker thread is up and the data are ready."""

    config: dict[str, Any]
    run_dir: str | None
    total_epochs: int
    steps_per_epoch: int | None
    class_names: tuple[str, ...] = ()
    num_replicas: int = 1
    resumed_from_epoch: int = 0


@dataclass(frozen=True)
class PhaseStarted(Event):
    """A training phase began (e.g. "head" then "fine_tune")."""

    phase: int
    name: str
    epochs: int
    learning_rate: float
    trainable_params: int
    frozen_params: int
    first_epoch: int = 0


@dataclass(frozen=True)
class BatchEnd(Event):
    """One batch (or one chunk of ``steps_in_chunk`` batches) finished.

    Attributes:
        phase: Index of the phase.
        epoch: Global epoch index (0-based, counted across phases).
        step: Step within the epoch (1-based, the last step of the chunk).
        global_step: Steps done since the run started, across phases.
        metrics: Running training metrics of the epoch so far.
        images_per_sec: Throughput measured over this chunk.
        learning_rate: The optimizer's learning rate at this step.
        steps_in_chunk: How many batches this event covers: more than one
            when ``steps_per_execution > 1``.
    """

    phase: int
    epoch: int
    step: int
    global_step: int
    metrics: dict[str, float]
    images_per_sec: float
    learning_rate: float
    steps_in_chunk: int = 1
    steps_per_epoch: int | None = None


@dataclass(frozen=True)
class EpochEnd(Event):
    """An epoch finished; ``metrics`` holds training and ``val_`` metrics."""

    phase: int
    epoch: int
    metrics: dict[str, float]
    duration: float
    learning_rate: float = float("nan")


@dataclass(frozen=True)
class Message(Event):
    """A human-readable notice (``level`` is ``"info"`` or ``"warning"``)."""

    level: str
    text: str


@dataclass(frozen=True)
class RunFinished(Event):
    """The run completed all its epochs."""

    metrics: dict[str, float]
    run_dir: str | None
    duration: float
    status: str = "finished"


@dataclass(frozen=True)
class RunStopped(Event):
    """The run was stopped by the user; model and history are kept."""

    metrics: dict[str, float]
    run_dir: str | None
    duration: float
    status: str = "stopped"


@dataclass(frozen=True)
class RunFailed(Event):
    """The run raised; ``error`` is one line, ``traceback`` the full text."""

    error: str
    traceback: str
    run_dir: str | None
    duration: float
    status: str = "failed"


TERMINAL_EVENTS = (RunFinished, RunStopped, RunFailed)

_KIND_NAMES = {
    Event: "event",
    RunStarted: "run_started",
    PhaseStarted: "phase_started",
    BatchEnd: "batch_end",
    EpochEnd: "epoch_end",
    Message: "message",
    RunFinished: "run_finished",
    RunStopped: "run_stopped",
    RunFailed: "run_failed",
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """Returns a JSON-ready dict of ``event`` with its ``kind``."""
    out = dataclasses.asdict(event)
    out["kind"] = event.kind
    return out


class EventHandler:
    """A subscriber whose methods are named after the events they take.

    Calling the handler with an event runs ``self.on_<event.kind>(event)``
    (``on_batch_end``, ``on_epoch_end``, ...) when it has such a method and
    ignores the event otherwise: dispatch by name, no ``isinstance`` ladder.

    Example:

    >>> class Printer(EventHandler):
    ...     def on_message(self, event):
    ...         print(event.text)
    >>> Printer()(Message("run-1", level="info", text="hello"))
    hello
    """

    def __call__(self, event: Event) -> None:
        method = getattr(self, f"on_{event.kind}", None)
        if method is not None:
            method(event)


class Subscription:
    """A queue of events for one consumer that reads from its own thread.

    Created by :meth:`EventBus.listen`. The publisher never blocks: when the
    queue is full, the oldest :class:`BatchEnd` events are the ones that give
    way (epoch and terminal events are always kept).
    """

    def __init__(self, bus: EventBus, maxsize: int = 100_000) -> None:
        self._bus = bus
        self._queue: queue.Queue[Event] = queue.Queue()
        self._maxsize = maxsize
        self.dropped = 0

    def _put(self, event: Event) -> None:
        if isinstance(event, BatchEnd) and self._queue.qsize() >= self._maxsize:
            self.dropped += 1
            return
        self._queue.put(event)

    def get(self, timeout: float | None = None) -> Event | None:
        """Returns the next event, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[Event]:
        """Returns every event queued so far without waiting."""
        out: list[Event] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Stops receiving events."""
        self._bus._remove_subscription(self)


class EventBus:
    """A thread-safe publish/subscribe bus for training events.

    Example:

    >>> bus = EventBus()
    >>> seen = []
    >>> unsubscribe = bus.subscribe(seen.append)
    >>> bus.publish(Message("run-1", level="info", text="hello"))
    >>> seen[0].text
    'hello'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Event], None]] = []
        self._subscriptions: list[Subscription] = []
        self.errors: list[tuple[Callable[[Event], None], BaseException]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Calls ``callback(event)`` for every event, in the publishing thread.

        Args:
            callback: A quick, thread-safe function. An exception it raises is
                recorded in :attr:`errors` and never reaches the publisher.

        Returns:
            A function that unsubscribes the callback.
        """
        if not callable(callback):
            raise TypeError(f"Expected a callable subscriber. Received: {callback!r}")
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def listen(self, maxsize: int = 100_000) -> Subscription:
        """Returns a :class:`Subscription` queue that receives every event."""
        sub = Subscription(self, maxsize=maxsize)
        with self._lock:
            self._subscriptions.append(sub)
        return sub

    def _remove_subscription(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def publish(self, event: Event) -> None:
        """Delivers ``event`` to every subscriber; never raises.

        Callbacks run first, then the event is queued for the listeners: a
        listener that reads an event from its queue finds the synchronous
        subscribers (the history, the run store) already up to date with it.
        """
        with self._lock:
            callbacks = list(self._callbacks)
            subs = list(self._subscriptions)
        for callback in callbacks:
            try:
                callback(event)
            except Exception as exc:  # a broken subscriber must not kill training
                self.errors.append((callback, exc))
        for sub in subs:
            sub._put(event)
