"""The Keras callback that turns fit progress into events (runs in the worker thread).

It reports through the run's :class:`~tl_widgets.core.training.control.RunControl`
only: events on the bus (the history recorder takes them from there) and the
stop flag it honours. It never holds the session.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import keras

from tl_widgets.core.events import BatchEnd, EpochEnd
from tl_widgets.core.training.control import RunControl

__all__ = ["EventCallback", "StopRequested", "NonFiniteLossError"]


class StopRequested(Exception):
    """Raised inside ``fit`` to end it right after the current batch."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def _floats(logs: dict[str, Any] | None) -> dict[str, float]:
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue  # non-scalar logs (none by default) are not charted
    return out


class EventCallback(keras.callbacks.Callback):
    """Publishes BatchEnd/EpochEnd, honours stop and NaN.

    Stopping raises :class:`StopRequested` from ``on_train_batch_end`` so the
    run ends after the current batch without waiting for a validation pass;
    the model keeps every update made so far.

    Args:
        control: The run's controls (bus, stop flag).
        phase: Index of the phase being fitted.
        data: Has ``batch_size`` and ``steps_per_epoch``.
        state: Shared across phases: ``{"global_step": steps done so far}``.
        steps_per_execution: Batches per ``fit`` step (events then cover chunks).
        on_epoch_end: Called with each ``EpochEnd`` after it was published
            (the runner's checkpoints and best metric).
    """

    def __init__(self, control: RunControl, phase: int, data: Any, state: dict[str, Any], steps_per_execution: int,
                 on_epoch_end: Callable[[EpochEnd], None] | None = None) -> None:
        super().__init__()
        self.control = control
        self.phase = phase
        self.batch_size = data.batch_size
        self.steps_per_epoch = data.steps_per_epoch
        self.state = state
        self.steps_per_execution = steps_per_execution
        self._after_epoch = on_epoch_end
        self._epoch = 0
        self._last_step = 0
        self._last_t = time.perf_counter()
        self._epoch_t = self._last_t
        self._epoch_lr: float | None = None

    def _lr(self) -> float:
        opt = getattr(self.model, "optimizer", None)
        if opt is None:
            return float("nan")
        return float(keras.ops.convert_to_numpy(opt.learning_rate))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._last_step = 0
        self._last_t = self._epoch_t = time.perf_counter()
        # A plain rate only changes between epochs (ReduceLROnPlateau): read it once, not per batch.
        opt = getattr(self.model, "optimizer", None)
        schedule = isinstance(getattr(opt, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule)
        self._epoch_lr = None if schedule else self._lr()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.perf_counter()
        # Keras reports a last, partial chunk of steps_per_execution as a full one: clamp to the epoch.
        step = min(batch + 1, self.steps_per_epoch) if self.steps_per_epoch else batch + 1
        chunk = max(1, step - self._last_step)
        dt = max(now - self._last_t, 1e-9)
        self._last_step, self._last_t = step, now
        self.state["global_step"] += chunk
        metrics = _floats(logs)
        lr = self._epoch_lr if self._epoch_lr is not None else self._lr()
        event = BatchEnd(
            self.control.run_id, phase=self.phase, epoch=self._epoch, step=step,
            global_step=self.state["global_step"], metrics=metrics,
            images_per_sec=chunk * self.batch_size / dt, learning_rate=lr,
            steps_in_chunk=chunk, steps_per_epoch=self.steps_per_epoch,
        )
        self.control.bus.publish(event)
        loss = metrics.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLossError(
                f"Loss became {loss} at epoch {self._epoch + 1}, step {step}: training stopped. Try a lower "
                "learning rate; the last good checkpoint is kept"
            )
        if self.control.stop_requested:
            raise StopRequested()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = _floats(logs)
        metrics.pop("learning_rate", None)
        event = EpochEnd(
            self.control.run_id, phase=self.phase, epoch=epoch, metrics=metrics,
            duration=time.perf_counter() - self._epoch_t, learning_rate=self._lr(),
        )
        self.control.bus.publish(event)
        if self._after_epoch is not None:
            self._after_epoch(event)
