"""LiveTrainingCharts fed with synthetic events, and the pump's throttling.

The charts keep no history of their own: the run's one history is the
HistoryRecorder the session subscribes; the tests feed it the same events and
read it (directly or through ``charts.history``).
"""

from __future__ import annotations

import math
import threading
import time

import pytest

from tl_widgets.core.events import (
    BatchEnd,
    EpochEnd,
    EventBus,
    Message,
    PhaseStarted,
    RunFailed,
    RunFinished,
    RunStarted,
)
from tl_widgets.core.training.history import HistoryRecorder
from tl_widgets.views.live import LiveTrainingCharts, TrainingProgress

RUN = "run-1"


def run_events(steps_per_epoch: int = 50, epochs: int = 2, chunk: int = 1, run_id: str = RUN, t0: float = 1000.0):
    """A two-phase run: one head epoch, then fine-tuning; one event per chunk."""
    events = [RunStarted(run_id, config={}, run_dir=None, total_epochs=epochs, steps_per_epoch=steps_per_epoch, time=t0)]
    step = 0
    for epoch in range(epochs):
        if epoch in (0, 1):
            events.append(PhaseStarted(run_id, phase=epoch, name=("head", "fine_tune")[epoch], epochs=1,
                                       learning_rate=1e-3 / (1 + 9 * epoch), trainable_params=10, frozen_params=90,
                                       time=t0 + step))
        for s in range(chunk, steps_per_epoch + 1, chunk):
            step += chunk
            events.append(BatchEnd(run_id, phase=min(epoch, 1), epoch=epoch, step=s, global_step=step,
                                   metrics={"loss": 2.0 / step, "accuracy": step / (epochs * steps_per_epoch)},
                                   images_per_sec=320.0, learning_rate=1e-3 / (1 + 9 * min(epoch, 1)),
                                   steps_in_chunk=chunk, steps_per_epoch=steps_per_epoch, time=t0 + step * 0.1))
        events.append(EpochEnd(run_id, phase=min(epoch, 1), epoch=epoch, duration=5.0, time=t0 + step * 0.1,
                               metrics={"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + epoch / 10,
                                        "val_loss": 1.2 / (epoch + 1), "val_accuracy": 0.45 + epoch / 10}))
    return events


@pytest.fixture
def history():
    return HistoryRecorder()


@pytest.fixture
def charts(comm_log, history):
    """Charts whose ``handle`` also feeds the run's history, as the bus does for a session."""
    charts = LiveTrainingCharts(max_display_points=200, history=history)
    draw = charts.handle

    def handle(events, draw_now=True):
        events = list(events)
        for event in events:
            history(event)
        draw(events, draw_now)

    charts.handle = handle
    return charts


def traces(chart) -> dict[str, list]:
    return {t["name"]: t.get("x", []) for t in chart.snapshot()["data"]}


def test_history_progress_and_traces_of_a_run(charts, history):
    charts.handle(run_events() + [RunFinished(RUN, metrics={}, run_dir=None, duration=10.0)])
    hist = history.snapshot()
    assert charts.history == hist  # the charts read the one history, they keep none of their own
    assert hist["batch"]["global_step"] == list(range(1, 101))
    assert hist["batch"]["loss"][-1] == pytest.approx(0.02)
    assert hist["epoch"]["global_step"] == [50, 100]  # epoch points sit at the step where the epoch ended
    assert hist["epoch"]["val_accuracy"] == pytest.approx([0.45, 0.55])
    assert [(p["name"], p["global_step"]) for p in hist["phases"]] == [("head", 0), ("fine_tune", 50)]
    p = charts.progress
    assert (p.status, p.epoch, p.total_epochs, p.global_step, p.total_steps) == ("finished", 2, 2, 100, 100)
    assert p.fraction == 1.0 and p.eta_seconds == 0.0 and p.images_per_sec == 320.0 and p.phase_name == "fine_tune"
    loss = traces(charts.charts["loss"])
    assert loss["loss (batch)"] == list(range(1, 101)) and loss["val loss"] == [50, 100]
    assert set(traces(charts.charts["metrics"])) >= {"accuracy (batch)", "accuracy (epoch)", "val accuracy"}
    assert len(traces(charts.charts["lr"])["learning rate"]) == 100
    layout = charts.charts["loss"].snapshot()["layout"]
    assert [s["x0"] for s in layout["shapes"]] == [0, 50]
    assert [a["text"] for a in layout["annotations"]] == ["head", "fine_tune"]


def test_each_draw_sends_only_new_points(charts, comm_log):
    events = run_events(steps_per_epoch=60, epochs=1)
    loss_id = charts.charts["loss"].comm.comm_id
    start = len(comm_log)
    for i in range(0, len(events), 7):
        charts.handle(events[i:i + 7])
    sent_x = [x for m in comm_log.custom(start, loss_id) if m["type"] == "extend"
              for idx, xs in zip(m["traces"], m["x"]) if idx == 0 for x in xs]
    assert sent_x == list(range(1, 61))  # each point exactly once, none resent
    assert charts.draw_count == math.ceil(len(events) / 7)


def test_eta_from_the_recent_step_rate(charts):
    charts.handle(run_events(steps_per_epoch=50, epochs=2)[:30])
    p = charts.progress
    assert p.status == "running" and p.global_step == 28
    assert p.eta_seconds == pytest.approx((100 - 28) * 0.1)


def test_display_is_bounded_and_keeps_spikes(charts, history):
    events = run_events(steps_per_epoch=5000, epochs=2)
    spike = next(e for e in events if isinstance(e, BatchEnd) and e.global_step == 7777)
    events[events.index(spike)] = BatchEnd(RUN, phase=1, epoch=1, step=2777, global_step=7777,
                                           metrics={"loss": 50.0, "accuracy": 0.5}, images_per_sec=1.0,
                                           learning_rate=1e-4)
    for i in range(0, len(events), 250):
        charts.handle(events[i:i + 250])
    snap = charts.charts["loss"].snapshot()["data"]
    body = next(t for t in snap if t["name"] == "loss (batch)")
    assert len(body["x"]) <= 200 and 50.0 in body["y"]
    assert len(history.batch["loss"]) == 10_000
    assert all(len(dec) == 10_000 and len(dec._body) <= 200 for dec in [charts._series._batch["loss"]])


def test_chunks_are_plotted_at_their_last_step_with_a_note(charts, history):
    charts.handle(run_events(steps_per_epoch=40, epochs=1, chunk=4))
    assert history.batch["global_step"] == list(range(4, 41, 4))
    loss = charts.charts["loss"].snapshot()
    assert "per 4 steps" in loss["layout"]["title"]["text"]
    assert "per 4 steps" in loss["data"][0]["hovertemplate"]
    assert charts.progress.steps_in_chunk == 4


def test_new_run_resets_and_failure_is_reported(charts, history):
    charts.handle(run_events(steps_per_epoch=10, epochs=1))
    charts.handle(run_events(steps_per_epoch=10, epochs=1, run_id="run-2")[:5])
    assert history.batch["global_step"] == [1, 2, 3]
    charts.handle([Message("run-2", level="warning", text="low memory"),
                   RunFailed("run-2", error="OOM", traceback="...", run_dir=None, duration=1.0)])
    assert (charts.progress.run_id, charts.progress.status, charts.progress.message) == ("run-2", "failed", "OOM")
    charts.reset()
    assert charts.progress == TrainingProgress() and charts.history["batch"]["global_step"] == []
    assert all(not c.snapshot()["data"] for c in charts.charts.values())


def test_nan_loss_and_late_metrics_keep_columns_aligned(charts, history):
    charts.handle([
        BatchEnd(RUN, phase=0, epoch=0, step=1, global_step=1, metrics={"loss": math.nan}, images_per_sec=1.0,
                 learning_rate=1e-3),
        BatchEnd(RUN, phase=0, epoch=0, step=2, global_step=2, metrics={"loss": 1.0, "auc": 0.7},
                 images_per_sec=1.0, learning_rate=1e-3),
    ])
    batch = history.batch
    assert math.isnan(batch["loss"][0]) and math.isnan(batch["auc"][0]) and batch["auc"][1] == 0.7
    assert traces(charts.charts["metrics"])["auc (batch)"] == [2]


def test_pump_draws_at_most_five_times_a_second_off_the_training_thread(comm_log):
    bus = EventBus()
    history = HistoryRecorder()
    bus.subscribe(history)  # as the session does: the history is taken in the publishing thread
    charts = LiveTrainingCharts(max_display_points=200)
    draw_threads: set[str] = set()
    original = charts.handle

    def spy(events, draw=True):
        draw_threads.add(threading.current_thread().name)
        original(events, draw)

    charts.handle = spy
    charts.attach(bus, history=history)
    events = run_events(steps_per_epoch=3000, epochs=1)
    start = time.monotonic()

    def train():
        for i, event in enumerate(events):
            bus.publish(event)
            if i % 100 == 0:
                time.sleep(0.01)

    worker = threading.Thread(target=train, name="trainer")
    worker.start()
    worker.join()
    time.sleep(0.5)
    elapsed = time.monotonic() - start
    draws = charts.pump.draws
    charts.detach()
    assert "trainer" not in draw_threads and "tl_widgets-event-pump" in draw_threads
    assert 1 <= draws <= 5 * elapsed + 2, (draws, elapsed)
    assert charts.history["batch"]["global_step"][-1] == 3000
    assert len(history.batch["global_step"]) == 3000
    with pytest.raises(ValueError, match="interval > 0"):
        LiveTrainingCharts(interval=0)


def test_pump_waits_longer_when_a_draw_costs_more_than_its_share():
    from tl_widgets.core.events import EventBus
    from tl_widgets.views.live import DRAW_CPU_SHARE, MAX_PAUSE_S, EventPump

    pump = EventPump(EventBus().listen(), LiveTrainingCharts(), interval=0.2)
    assert pump.pause_after(0.0) == 0.2
    assert pump.pause_after(0.005) == pytest.approx(0.005 / DRAW_CPU_SHARE)
    assert pump.pause_after(10.0) == MAX_PAUSE_S


def test_a_long_run_draws_its_epoch_traces_without_markers(charts, comm_log):
    """Each epoch marker is an SVG node the page redraws: after EPOCH_MARKERS_UP_TO points an epoch trace turns to
    lines only (one restyle, sent once), so a run of 1000 fast epochs does not slow the page down to a stop."""
    from tl_widgets.views.live_series import EPOCH_MARKERS_UP_TO

    loss = charts.charts["loss"]
    start = len(comm_log)
    epochs = EPOCH_MARKERS_UP_TO + 5
    events = run_events(steps_per_epoch=2, epochs=epochs)
    for i in range(0, len(events), 10):
        charts.handle(events[i:i + 10])
    modes = {t["name"]: t["mode"] for t in loss.snapshot()["data"] if "epoch" in t["name"] or "val" in t["name"]}
    assert modes and set(modes.values()) == {"lines"}, modes
    restyles = [m for m in comm_log.custom(start, loss.comm.comm_id) if m["type"] == "restyle"
                and m["update"] == {"mode": "lines"}]
    assert len(restyles) == 1 and set(restyles[0]["traces"]) == {
        i for i, t in enumerate(loss.snapshot()["data"]) if t["name"] in modes}
    with pytest.raises(ValueError, match="no x or y"):
        loss.restyle({"x": [1]}, [0])
    with pytest.raises(ValueError, match="trace indices below"):
        loss.restyle({"mode": "lines"}, [99])
