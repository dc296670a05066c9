"""Kernel memory of a long run's history, with the Studio's live charts attached.

Drives a 100,000-step run's worth of real ``BatchEnd`` / ``EpochEnd`` events
(1,000 steps per epoch; ``--quick``: 10,000 steps) through a real ``EventBus``
with the session's ``HistoryRecorder`` subscribed and the Studio's
``LiveTrainingCharts`` attached (its pump thread draws at 5 Hz into widgets
whose comm serialises every message as a kernel would, then drops it). No
Keras ``fit`` runs: the events are what the kernel keeps.

Reports resident memory (RSS) and proportional set size (PSS, from
``/proc/self/smaps_rollup``) before the first batch and after the last one
(queues drained, garbage collected), the growth per 1,000 steps (overall, and
from the first fifth of the run on, past the one-off costs of the first
draws), and what the history's own Python objects weigh, for comparison.

Usage: ``python bench/history_memory.py [--quick] [--steps N]``. The last
printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pathlib
import platform
import sys
import time
from typing import Any

import comm
from comm.base_comm import BaseComm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from tl_widgets.core.events import BatchEnd, EpochEnd, EventBus, PhaseStarted, RunFinished, RunStarted  # noqa: E402
from tl_widgets.core.training.history import HistoryRecorder  # noqa: E402
from tl_widgets.views.live import LiveTrainingCharts  # noqa: E402

STEPS_PER_EPOCH = 1_000


class _KernelLikeComm(BaseComm):
    """Serialises each message to JSON like a kernel does, then drops it."""

    sent_bytes = 0

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                    **keys: Any) -> None:
        _KernelLikeComm.sent_bytes += len(json.dumps(data, allow_nan=False, default=str).encode())


def _memory_mb() -> dict[str, float | None]:
    """RSS (psutil) and PSS (``/proc/self/smaps_rollup``, Linux only) in MiB."""
    rss = psutil.Process().memory_info().rss / 2**20
    pss = None
    rollup = pathlib.Path("/proc/self/smaps_rollup")
    if rollup.is_file():
        for line in rollup.read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
                break
    return {"rss_mb": rss, "pss_mb": pss}


def _history_bytes(history: HistoryRecorder) -> int:
    """Bytes of the history's lists and of the distinct number objects they hold."""
    seen: set[int] = set()
    total = 0
    for table in (history.batch, history.epoch):
        for column in table.values():
            total += sys.getsizeof(column)
            for value in column:
                if id(value) not in seen:
                    seen.add(id(value))
                    total += sys.getsizeof(value)
    return total


def _settle(charts: LiveTrainingCharts, timeout: float = 60.0) -> None:
    """Waits until the pump has drained the charts' queue, then collects garbage."""
    sub = charts._subscription
    deadline = time.monotonic() + timeout
    while sub is not None and sub._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the draw that follows the last drain
    gc.collect()


def run(steps: int) -> dict[str, Any]:
    """Publishes ``steps`` batches (and their epochs) and measures memory around them."""
    comm.create_comm = _KernelLikeComm
    epochs = max(1, math.ceil(steps / STEPS_PER_EPOCH))
    bus = EventBus()
    history = HistoryRecorder()
    bus.subscribe(history)
    charts = LiveTrainingCharts()
    charts.attach(bus, history=history)
    run_id = "bench-history"
    bus.publish(RunStarted(run_id, config={}, run_dir=None, total_epochs=epochs, steps_per_epoch=STEPS_PER_EPOCH))
    bus.publish(PhaseStarted(run_id, phase=0, name="fine_tune", epochs=epochs, learning_rate=1e-3,
                             trainable_params=1, frozen_params=0))
    _settle(charts)
    before = _memory_mb()
    checkpoints = []
    t0 = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        for s in range(1, STEPS_PER_EPOCH + 1):
            step += 1
            if step > steps:
                break
            bus.publish(BatchEnd(run_id, phase=0, epoch=epoch, step=s, global_step=step,
                                 metrics={"loss": 1.0 / (1 + step * 1e-3) + 0.01 * math.sin(step),
                                          "accuracy": 1.0 - 1.0 / (1 + step * 1e-3)},
                                 images_per_sec=1000.0 + (step % 7), learning_rate=1e-3 * (1 - step / (steps + 1)),
                                 steps_per_epoch=STEPS_PER_EPOCH))
        bus.publish(EpochEnd(run_id, phase=0, epoch=epoch, duration=1.0, learning_rate=1e-3,
                             metrics={"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75}))
        if (epoch + 1) % max(1, epochs // 5) == 0:
            _settle(charts)
            checkpoints.append({"steps": min(step, steps), **_memory_mb()})
    publish_s = time.perf_counter() - t0
    bus.publish(RunFinished(run_id, metrics={}, run_dir=None, duration=publish_s))
    _settle(charts)
    after = _memory_mb()
    charts.detach()
    assert len(history.batch["global_step"]) == steps, "the history must hold every step"
    display = {name: len(dec._body) for name, dec in charts._series._batch.items()}
    per_k = 1000 / steps

    def growth(key: str) -> float | None:
        if before[key] is None or after[key] is None:
            return None
        return (after[key] - before[key]) * 1024 * per_k

    first, last = checkpoints[0], checkpoints[-1]
    span = (last["steps"] - first["steps"]) / 1000
    steady = (last["rss_mb"] - first["rss_mb"]) * 1024 / span if span else None
    return {
        "steps": steps,
        "rss_mb_before": round(before["rss_mb"], 1), "rss_mb_after": round(after["rss_mb"], 1),
        "pss_mb_before": before["pss_mb"] and round(before["pss_mb"], 1),
        "pss_mb_after": after["pss_mb"] and round(after["pss_mb"], 1),
        "rss_kb_per_1000_steps": round(growth("rss_mb"), 1),
        "pss_kb_per_1000_steps": growth("pss_mb") and round(growth("pss_mb"), 1),
        "rss_kb_per_1000_steps_after_first_fifth": steady and round(steady, 1),
        "history_kb_per_1000_steps": round(_history_bytes(history) / 1024 * per_k, 1),
        "batch_columns": len(history.batch),
        "chart_display_buckets": display,
        "draws": charts.draw_count,
        "dropped_by_charts_queue": 0 if charts._subscription is None else charts._subscription.dropped,
        "publish_s": round(publish_s, 2),
        "comm_mb_sent": round(_KernelLikeComm.sent_bytes / 1e6, 2),
        "checkpoints": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in c.items()} for c in checkpoints],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 steps (CI)")
    parser.add_argument("--steps", type=int, default=None, help="steps to publish (default 100,000)")
    args = parser.parse_args(argv)
    steps = args.steps or (10_000 if args.quick else 100_000)
    if steps < 1_000:
        raise SystemExit(f"Expected --steps >= 1000. Received: --steps={steps}")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}", flush=True)
    result = run(steps)
    for c in result["checkpoints"]:
        print(f"  after {c['steps']:>7,} steps: RSS {c['rss_mb']:8.1f} MiB  PSS {c['pss_mb']} MiB", flush=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
