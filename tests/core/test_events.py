from __future__ import annotations

import threading

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
