from __future__ import annotations

import threading

import pytest

from tl_widgets.core.events import BatchEnd, EventBus, Message, RunFinished, event_to_dict


def _batch(i: int) -> BatchEnd:
    return BatchEnd("r", phase=0, epoch=0, step=i, global_step=i, metrics={"loss": 1.0 / i},
                    images_per_sec=10.0, learning_rate=0.1)


def test_subscribers_and_queues_receive_everything_from_many_threads():
    bus = EventBus()
    seen: list = []
    lock = threading.Lock()

    def cb(e):
        with lock:
            seen.append(e)

    bus.subscribe(cb)
    sub = bus.listen()
    threads = [threading.Thread(target=lambda k=k: [bus.publish(_batch(k * 1000 + i + 1)) for i in range(500)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 2000
    assert len(sub.drain()) == 2000


def test_broken_subscriber_does_not_stop_others():
    bus = EventBus()
    got = []

    def bad(e):
        raise RuntimeError("boom")

    bus.subscribe(bad)
    bus.subscribe(got.append)
    bus.publish(Message("r", level="info", text="x"))
    assert len(got) == 1
    assert isinstance(bus.errors[0][1], RuntimeError)


def test_unsubscribe_and_close():
    bus = EventBus()
    got = []
    off = bus.subscribe(got.append)
    sub = bus.listen()
    off()
    sub.close()
    bus.publish(Message("r", level="info", text="x"))
    assert got == [] and sub.drain() == []


def test_full_queue_drops_only_batch_events():
    bus = EventBus()
    sub = bus.listen(maxsize=10)
    for i in range(20):
        bus.publish(_batch(i + 1))
    bus.publish(RunFinished("r", metrics={}, run_dir=None, duration=1.0))
    events = sub.drain()
    assert len(events) == 11 and sub.dropped == 10
    assert isinstance(events[-1], RunFinished)


def test_event_to_dict_has_kind():
    d = event_to_dict(_batch(1))
    assert d["kind"] == "batch_end" and d["metrics"] == {"loss": 1.0}


def test_handlers_dispatch_by_event_name():
    from tl_widgets.core.events import EventHandler

    class Batches(EventHandler):
        def __init__(self):
            self.steps = []

        def on_batch_end(self, event):
            self.steps.append(event.global_step)

    handler = Batches()
    bus = EventBus()
    bus.subscribe(handler)
    bus.publish(_batch(1))
    bus.publish(Message("r", level="info", text="no on_message: ignored"))
    bus.publish(_batch(2))
    assert handler.steps == [1, 2] and bus.errors == []


def test_callbacks_have_an_event_before_listeners_can_read_it():
    bus = EventBus()
    sub = bus.listen()
    queued_when_called = []
    bus.subscribe(lambda e: queued_when_called.append(sub._queue.qsize()))
    bus.publish(_batch(1))
    bus.publish(_batch(2))
    # The history and the run store (callbacks) hold an event before any listener sees it.
    assert queued_when_called == [0, 1] and len(sub.drain()) == 2


def test_one_progress_reducer_tracks_epochs_steps_and_eta():
    from tl_widgets.core.events import EpochEnd, PhaseStarted, RunFailed, RunStarted
    from tl_widgets.core.progress import ProgressTracker, TrainingProgress

    tracker = ProgressTracker()
    assert tracker.progress == TrainingProgress()
    p = tracker.take(RunStarted("r", config={}, run_dir=None, total_epochs=4, steps_per_epoch=10,
                                resumed_from_epoch=1, time=100.0))
    assert (p.status, p.epoch, p.epochs_done, p.total_steps) == ("running", 1, 1, 40)
    tracker.take(PhaseStarted("r", phase=1, name="fine_tune", epochs=3, learning_rate=1e-4, trainable_params=1,
                              frozen_params=2, first_epoch=1, time=100.0))
    for s in range(1, 6):
        p = tracker.take(BatchEnd("r", phase=1, epoch=1, step=s, global_step=10 + s, metrics={"loss": 1.0 / s},
                                  images_per_sec=50.0, learning_rate=1e-4, time=100.0 + s))
    assert (p.phase_name, p.epoch, p.epochs_done, p.step, p.epoch_step, p.global_step) == ("fine_tune", 2, 1, 5, 5, 15)
    assert p.eta_seconds == pytest.approx(25.0) and p.fraction == pytest.approx(15 / 40)
    p = tracker.take(EpochEnd("r", phase=1, epoch=1, metrics={"val_loss": 0.5}, duration=5.0))
    assert (p.epoch, p.epochs_done, p.step, p.epoch_step) == (2, 2, 5, 0)  # the step stays for display
    assert p.metrics == {"loss": 0.2, "val_loss": 0.5}
    p = tracker.take(RunFailed("r", error="OOM", traceback="", run_dir=None, duration=1.0))
    assert (p.status, p.message, p.eta_seconds) == ("failed", "OOM", None)


def test_best_metric_rule():
    from tl_widgets.core.progress import best_metric

    assert best_metric({"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.4}) == "val_accuracy"
    assert best_metric(["accuracy", "loss"]) == "accuracy"
    assert best_metric(["loss", "val_loss"]) is None
