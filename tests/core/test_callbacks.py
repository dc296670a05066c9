"""The event callback reads the device to the host by time, not by step, and still records every batch exactly."""

from __future__ import annotations

import math
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from tl_widgets.core.events import BatchEnd, EventBus
from tl_widgets.core.training.callbacks import (
    HOST_READ_INTERVAL_S,
    EventCallback,
    FitCallbacks,
    NonFiniteLossError,
    StopRequested,
)
from tl_widgets.core.training.control import RunControl
from tl_widgets.core.training.history import HistoryRecorder


class FakeClock:
    """A clock that a fake device advances by ``step_s`` per training step."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wired(steps: int, clock: FakeClock, model: keras.Model) -> tuple[EventCallback, HistoryRecorder, list[BatchEnd]]:
    bus = EventBus()
    history = HistoryRecorder()
    history.begin("r")
    bus.subscribe(history)
    seen: list[BatchEnd] = []
    bus.subscribe(lambda e: seen.append(e) if isinstance(e, BatchEnd) else None)
    control = RunControl(run_id="r", bus=bus, history=history)
    cb = EventCallback(control, 0, SimpleNamespace(batch_size=8, steps_per_epoch=steps), {"global_step": 0}, 1,
                       clock=clock)
    cb.set_model(model)
    return cb, history, seen


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    return model


class DeviceScalar:
    """A scalar on a fake device: reading it to the host (``float``) is logged with the fake clock's time."""

    def __init__(self, value: float, clock: FakeClock, reads: list[float]) -> None:
        self.value, self.clock, self.reads = value, clock, reads

    def __float__(self) -> float:
        self.reads.append(self.clock.now)
        return self.value


def _drive(cb: EventCallback, clock: FakeClock, epochs: int, steps: int, step_s: float,
           reads: list[float]) -> dict[int, list[float]]:
    """Runs the callback as fit would, with device scalars as logs and ``step_s`` of fake device time per step."""
    values: dict[int, list[float]] = {}
    for epoch in range(epochs):
        cb.on_epoch_begin(epoch)
        values[epoch] = []
        for batch in range(steps):
            clock.now += step_s
            loss = float(np.float32(1.0 / (1 + batch + epoch * steps)))
            values[epoch].append(loss)
            cb.on_train_batch_end(batch, {"loss": DeviceScalar(loss, clock, reads),
                                          "accuracy": DeviceScalar(batch / steps, clock, reads)})
        cb.on_epoch_end(epoch, {"loss": values[epoch][-1]})
    cb.on_train_end()
    return values


@pytest.mark.parametrize("step_s", [0.002, 0.25])
def test_host_reads_per_epoch_are_bounded_by_time_not_steps(step_s):
    steps, epochs = 600, 2
    clock = FakeClock()
    cb, history, seen = _wired(steps, clock, _tiny_model())
    reads: list[float] = []

    values = _drive(cb, clock, epochs, steps, step_s, reads)

    # every device value is read exactly once, and the reads happen at few distinct moments
    assert len(reads) == 2 * epochs * steps
    read_moments = len(set(reads))
    assert read_moments == cb.host_reads
    bound = epochs * (math.floor(steps * step_s / HOST_READ_INTERVAL_S) + 2)  # + the first read, + the epoch end
    assert cb.host_reads <= min(bound, epochs * steps)
    if step_s < HOST_READ_INTERVAL_S:
        assert cb.host_reads < epochs * steps / 20  # about 12 per 1.2 s epoch, not 600
    else:
        assert cb.host_reads == epochs * steps  # a slow step is read as soon as it ends
    # every batch still has its own exact value, in order
    expected = [v for epoch in range(epochs) for v in values[epoch]]
    assert history.batch["loss"] == expected
    assert history.batch["global_step"] == list(range(1, epochs * steps + 1))
    assert [e.step for e in seen[:steps]] == list(range(1, steps + 1))
    # events carry the time their step ended (on the wall clock), not the time they were read
    gaps = np.diff([e.time for e in seen[:steps]])
    assert np.allclose(gaps, step_s, atol=1e-3)


def test_stop_reads_pending_batches_then_stops():
    clock = FakeClock()
    cb, history, seen = _wired(100, clock, _tiny_model())
    cb.on_epoch_begin(0)
    for batch in range(5):
        clock.now += 0.001
        cb.on_train_batch_end(batch, {"loss": keras.ops.convert_to_tensor(np.float32(0.5))})
    assert len(seen) == 1  # the first batch is read at once; the next four wait for the interval
    cb.control.stop.set()
    with pytest.raises(StopRequested):
        cb.on_train_batch_end(5, {"loss": keras.ops.convert_to_tensor(np.float32(0.5))})
    assert len(history.batch["loss"]) == 6


def test_non_finite_loss_found_at_the_next_read():
    clock = FakeClock()
    cb, history, _ = _wired(100, clock, _tiny_model())
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(0, {"loss": keras.ops.convert_to_tensor(np.float32(0.5))})
    cb.on_train_batch_end(1, {"loss": keras.ops.convert_to_tensor(np.float32("nan"))})  # same instant: pending
    cb.on_train_batch_end(2, {"loss": keras.ops.convert_to_tensor(np.float32(0.4))})
    clock.now += HOST_READ_INTERVAL_S
    with pytest.raises(NonFiniteLossError, match="epoch 1, step 2"):
        cb.on_train_batch_end(3, {"loss": keras.ops.convert_to_tensor(np.float32(0.3))})
    assert len(history.batch["loss"]) == 2 and math.isnan(history.batch["loss"][1])


def test_real_fit_history_equals_keras_per_batch_and_epoch():
    """A real fit: the recorded batches equal the floats Keras hands a batch-logging callback, epochs equal History."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 3)).astype("float32"), rng.integers(0, 2, 96)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=24)
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = FakeClock()  # never advances: only epoch ends read the device, the worst case for batching
    cb, history, _ = _wired(12, clock, model)
    keras_batches: list[dict[str, float]] = []
    logger = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: keras_batches.append(dict(logs)))
    callbacks = FitCallbacks([cb, logger], model, epochs=2, steps=12)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks, shuffle=False)

    assert cb.host_reads == 3  # the very first batch, then each epoch's batches at once at its end
    assert history.batch["loss"] == [b["loss"] for b in keras_batches]
    assert history.batch["accuracy"] == [b["accuracy"] for b in keras_batches]
    assert history.epoch["loss"] == model.history.history["loss"]
    assert history.epoch["accuracy"] == model.history.history["accuracy"]
    # the schedule's rate after each step, counted back from one read of the optimizer's step counter
    expected_lr = [float(keras.ops.convert_to_numpy(schedule(i))) for i in range(1, 25)]
    np.testing.assert_allclose(history.batch["learning_rate"], expected_lr, rtol=1e-6)


def test_batch_events_carry_the_steps_the_epoch_really_runs() -> None:
    """Once a first epoch skipped broken files, the data's step count drops: later epochs' events say so."""
    clock = FakeClock()
    cb, _history, seen = _wired(6, clock, _tiny_model())
    data = cb._data
    reads: list[float] = []
    _drive(cb, clock, 1, 6, 0.01, reads)
    data.steps_per_epoch = 5  # what Datasets does when its first pass drops files
    _drive(cb, clock, 1, 5, 0.01, reads)
    assert {e.steps_per_epoch for e in seen[:6]} == {6} and {e.steps_per_epoch for e in seen[6:]} == {5}
