"""The Keras callback that turns fit progress into events (runs in the worker thread).

It reports through the run's :class:`~tl_widgets.core.training.control.RunControl`
only: events on the bus (the history recorder takes them from there) and the
stop flag it honours. It never holds the session.

Host reads are time-based. Reading a metric to the host (``float(tensor)``)
waits for the device to finish the step: once per batch, that stalls an
accelerator's asynchronous dispatch. So a batch's logs are only *kept* (the
references Keras hands over, one small tuple per step) and read to the host
together, at most every :data:`HOST_READ_INTERVAL_S` seconds, at the end of an
epoch, and before a stop. Every batch still gets its own ``BatchEnd`` event
with its exact values, stamped with the time the step ended; they simply
arrive in bursts. The non-finite-loss check runs at that cadence too (it needs
the host value): a NaN loss stops the run at most one interval late.

Keras' own :class:`keras.callbacks.CallbackList` converts every batch's logs
to Python floats before it calls any callback that has batch hooks (and the
TensorFlow backend never dispatches callbacks asynchronously), which would
sync per step whatever this callback does. :class:`FitCallbacks` is the
callback list the runner passes to ``fit``: it hands the device logs to
callbacks that take them (``takes_device_logs = True``) and converts them
only when another callback asks for batch logs.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import keras
import numpy as np

from tl_widgets.core.events import BatchEnd, EpochEnd
from tl_widgets.core.training.control import RunControl

__all__ = ["EventCallback", "FitCallbacks", "StopRequested", "NonFiniteLossError", "HOST_READ_INTERVAL_S"]

HOST_READ_INTERVAL_S = 0.1
"""The most often batch metrics are read to the host, in seconds (the one place this is set)."""


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


def _to_host(values: list[Any]) -> np.ndarray:
    """Scalars (device arrays, tensors or numbers) read to the host together, as float64.

    JAX: one ``jax.device_get`` of the whole list (its transfers are batched).
    Elsewhere each value is converted on its own: the first waits for the
    device, the rest are already there (stacking thousands of eager tensors
    first costs more than it saves).
    """
    if keras.backend.backend() == "jax":
        import jax

        values = jax.device_get(values)
    return np.asarray([float(v) for v in values], dtype="float64")


def _columns(logs: Sequence[dict[str, Any] | None]) -> dict[str, np.ndarray]:
    """The logs of several steps read to the host in one go: ``{metric: values per step}``.

    A metric missing from a step is NaN there; non-scalar or non-numeric logs are left out.
    """
    names: dict[str, None] = {}
    for entry in logs:
        names.update(dict.fromkeys(entry or ()))
    out: dict[str, np.ndarray] = {}
    for name in names:
        values = [(entry or {}).get(name) for entry in logs]
        present = [v for v in values if v is not None]
        try:
            host = _to_host(present)
        except (TypeError, ValueError):
            continue  # non-scalar or non-numeric logs are not charted
        if host.shape != (len(present),):
            continue
        if len(present) == len(values):
            out[name] = host
        else:
            column = np.full(len(values), np.nan)
            column[[i for i, v in enumerate(values) if v is not None]] = host
            out[name] = column
    return out


class EventCallback(keras.callbacks.Callback):
    """Publishes BatchEnd/EpochEnd, honours stop and NaN, reads the device at most every ``read_interval``.

    Stopping raises :class:`StopRequested` from ``on_train_batch_end`` so the
    run ends after the current batch without waiting for a validation pass;
    the model keeps every update made so far, and the batches not yet read are
    read and published first.

    Args:
        control: The run's controls (bus, stop flag).
        phase: Index of the phase being fitted.
        data: Has ``batch_size`` and ``steps_per_epoch`` (read each epoch: it drops once a first pass
            skipped bad files).
        state: Shared across phases: ``{"global_step": steps done so far}``.
        steps_per_execution: Batches per ``fit`` step (events then cover chunks).
        on_epoch_end: Called with each ``EpochEnd`` after it was published
            (the runner's checkpoints and best metric).
        clock: Seconds as a float (``time.perf_counter``); a test passes a fake one.
        read_interval: Seconds between host reads (default :data:`HOST_READ_INTERVAL_S`).

    Attributes:
        host_reads: Host reads so far (each one reads every batch pending since the last).
    """

    takes_device_logs = True
    """Tells :class:`FitCallbacks` to hand this callback the device logs, unconverted."""

    def __init__(self, control: RunControl, phase: int, data: Any, state: dict[str, Any], steps_per_execution: int,
                 on_epoch_end: Callable[[EpochEnd], None] | None = None, *,
                 clock: Callable[[], float] = time.perf_counter, read_interval: float = HOST_READ_INTERVAL_S) -> None:
        super().__init__()
        self.control = control
        self.phase = phase
        self.batch_size = data.batch_size
        self._data = data
        self.steps_per_epoch = data.steps_per_epoch
        self.state = state
        self.steps_per_execution = steps_per_execution
        self._after_epoch = on_epoch_end
        self._clock = clock
        self._interval = read_interval
        self._epoch = 0
        self._pending: list[tuple[int, float, Any]] = []
        self._last_read = -math.inf
        self._last_step = 0
        self._last_t = clock()
        self._epoch_t = self._last_t
        self._wall_offset = time.time() - self._last_t  # event times are the steps' own, on the wall clock
        self._epoch_lr: float | None = None
        self.host_reads = 0

    def _lr(self) -> float:
        opt = getattr(self.model, "optimizer", None)
        if opt is None:
            return float("nan")
        return float(keras.ops.convert_to_numpy(opt.learning_rate))

    def _schedule(self) -> Any:
        opt = getattr(self.model, "optimizer", None)
        schedule = getattr(opt, "_learning_rate", None)
        return schedule if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) else None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self.steps_per_epoch = self._data.steps_per_epoch  # the steps that really run, once bad files are known
        self._last_step = 0
        self._pending = []
        self._last_t = self._epoch_t = self._clock()
        # A plain rate only changes between epochs (ReduceLROnPlateau): read it once, not per batch.
        self._epoch_lr = None if self._schedule() is not None else self._lr()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Keeps the batch's logs (no host read) unless the interval has passed; honours stop."""
        now = self._clock()
        self._pending.append((batch, now, logs))
        if now - self._last_read >= self._interval:
            self._catch_up()
        if self.control.stop_requested:
            self._catch_up()
            raise StopRequested()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._catch_up()
        metrics = _floats(logs)
        metrics.pop("learning_rate", None)
        event = EpochEnd(
            self.control.run_id, phase=self.phase, epoch=epoch, metrics=metrics,
            duration=self._clock() - self._epoch_t, learning_rate=self._lr(),
        )
        self.control.bus.publish(event)
        if self._after_epoch is not None:
            self._after_epoch(event)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._catch_up()

    # -- the host read -------------------------------------------------------------------

    def _catch_up(self) -> None:
        """Reads every pending batch to the host at once and publishes one ``BatchEnd`` per batch."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        self.host_reads += 1
        columns = _columns([logs for _, _, logs in pending])
        self._last_read = self._clock()
        steps, chunks = [], []
        for batch, _, _ in pending:
            # Keras reports a last, partial chunk of steps_per_execution as a full one: clamp to the epoch.
            step = min(batch + 1, self.steps_per_epoch) if self.steps_per_epoch else batch + 1
            chunks.append(max(1, step - self._last_step))
            steps.append(step)
            self._last_step = step
        first_global = self.state["global_step"]
        global_steps = first_global + np.cumsum(chunks)
        self.state["global_step"] = int(global_steps[-1])
        rates = self._rates(global_steps)
        names = list(columns)
        values = [columns[name].tolist() for name in names]
        for i, (_, t, _) in enumerate(pending):
            metrics = {name: column[i] for name, column in zip(names, values)}
            dt = max(t - self._last_t, 1e-9)
            self._last_t = t
            self.control.bus.publish(BatchEnd(
                self.control.run_id, phase=self.phase, epoch=self._epoch, step=steps[i],
                global_step=int(global_steps[i]), metrics=metrics,
                images_per_sec=chunks[i] * self.batch_size / dt, learning_rate=rates[i],
                steps_in_chunk=chunks[i], steps_per_epoch=self.steps_per_epoch, time=t + self._wall_offset,
            ))
            loss = metrics.get("loss")
            if loss is not None and not math.isfinite(loss):
                self._pending = []
                raise NonFiniteLossError(
                    f"Loss became {loss} at epoch {self._epoch + 1}, step {steps[i]}: training stopped. Try a "
                    "lower learning rate; the last good checkpoint is kept"
                )

    def _rates(self, global_steps: np.ndarray) -> list[float]:
        """The learning rate after each pending step: the epoch's one, or the schedule's at each iteration."""
        if self._epoch_lr is not None:
            return [self._epoch_lr] * len(global_steps)
        schedule = self._schedule()
        if schedule is None:
            return [self._lr()] * len(global_steps)
        # One read of the optimizer's step counter; the earlier pending steps are counted back from it.
        iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        back = int(global_steps[-1]) - global_steps
        at = np.maximum(iterations - back, 0).astype("int64")
        rates = np.asarray(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(at))), dtype="float64")
        return np.broadcast_to(rates, at.shape).tolist()


def _has_batch_hook(callback: Any) -> bool:
    """Whether ``callback`` does anything per training batch (a method or an attribute, as LambdaCallback sets)."""
    for name in ("on_train_batch_end", "on_batch_end"):
        method = getattr(callback, name)
        if getattr(method, "__func__", method) is not getattr(keras.callbacks.Callback, name):
            return True
    return False


class FitCallbacks(keras.callbacks.CallbackList):
    """The callback list the runner gives ``fit``: no per-batch host read that no callback asks for.

    Callbacks with ``takes_device_logs = True`` (:class:`EventCallback`)
    receive each batch's logs as the backend returned them; other callbacks
    with batch hooks (e.g. TensorBoard) receive them converted, as Keras
    would; callbacks without batch hooks (EarlyStopping, History) cost
    nothing per batch. Batch hooks run in the training thread, in order.

    Args:
        callbacks: The callbacks, in call order.
        model: The model ``fit`` is called on.
        epochs: The ``epochs`` argument of ``fit``.
        steps: Batches per epoch, if known.
    """

    def __init__(self, callbacks: Sequence[Any], model: Any, epochs: int, steps: int | None) -> None:
        super().__init__(list(callbacks), add_history=True, add_progbar=False, model=model, verbose=0,
                         epochs=epochs, steps=steps)
        self._async_train = False  # ordered, in this thread: the event callback's stop/NaN checks raise here
        self._device = [c for c in self.callbacks if getattr(c, "takes_device_logs", False)]
        self._host = [c for c in self.callbacks if c not in self._device and _has_batch_hook(c)]

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        for callback in self._device:
            callback.on_train_batch_end(batch, logs)
        if self._host:
            host = _floats({k: keras.ops.convert_to_numpy(v) if keras.ops.is_tensor(v) else v
                            for k, v in (logs or {}).items()})
            for callback in self._host:
                callback.on_train_batch_end(batch, host)
