"""Streaming chart costs, side by side: PlotlyChart vs FigureWidget with x/y reassigned.

Everything runs in-process. Widgets talk to a comm that serialises each
message to JSON like a kernel does and counts its bytes, so the timings
include serialisation but not the websocket or the browser.

  (a) one chart update with 1,000 and 50,000 points of history;
  (b) the total overhead of streaming N steps (5,000; 1,000 with --quick),
      with one update per step, plus our full LiveTrainingCharts pipeline;
  (c) what it costs to bring Plotly.js to a page of three charts.

The last line printed is JSON with named ratios.

Usage: python bench/bench_charts.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import statistics
import sys
import time
from typing import Any, Callable

import comm
from comm.base_comm import BaseComm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import plotly.graph_objects as go  # noqa: E402

from tl_widgets.core.events import BatchEnd, RunStarted  # noqa: E402
from tl_widgets.views.widgets.chart import PlotlyChart  # noqa: E402
from tl_widgets.views.plotly_bundle import plotly_js_payload  # noqa: E402
from tl_widgets.views.live import LiveTrainingCharts  # noqa: E402


class _Meter:
    """Counts the bytes of every comm message, serialised as a kernel would."""

    def __init__(self) -> None:
        self.bytes = 0
        self.messages = 0

    def comm_class(self) -> type[BaseComm]:
        meter = self

        class MeteredComm(BaseComm):
            def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                            **keys: Any) -> None:
                meter.bytes += len(json.dumps(data, allow_nan=False, default=str).encode())
                meter.bytes += sum(len(memoryview(b).cast("B")) for b in buffers or [])
                meter.messages += 1

        return MeteredComm


def _ours(history: int) -> Callable[[int], None]:
    chart = PlotlyChart(go.Figure(go.Scatter(x=[], y=[], mode="lines")))
    chart.extend({0: (list(range(history)), [math.sin(i) for i in range(history)])}, max_points=10**7)

    def update(step: int) -> None:
        chart.extend({0: ([step], [math.sin(step)])}, max_points=10**7)

    return update


def _figurewidget(history: int) -> Callable[[int], None]:
    fw = go.FigureWidget(go.Scatter(x=[], y=[], mode="lines"))
    xs = list(range(history))
    ys = [math.sin(i) for i in range(history)]
    with fw.batch_update():
        fw.data[0].x, fw.data[0].y = xs, ys

    def update(step: int) -> None:
        xs.append(step)
        ys.append(math.sin(step))
        with fw.batch_update():
            fw.data[0].x, fw.data[0].y = xs, ys

    return update


def _one_update(meter: _Meter, make: Callable[[int], Callable[[int], None]], history: int, reps: int) -> dict[str, float]:
    update = make(history)
    times, sizes = [], []
    for r in range(reps):
        before = meter.bytes
        t0 = time.perf_counter()
        update(history + r)
        times.append(time.perf_counter() - t0)
        sizes.append(meter.bytes - before)
    return {"ms": 1000 * statistics.median(times), "bytes": statistics.median(sizes)}


def _stream(meter: _Meter, make: Callable[[int], Callable[[int], None]], steps: int) -> dict[str, float]:
    update = make(0)
    before = meter.bytes
    t0 = time.perf_counter()
    for step in range(steps):
        update(step)
    return {"s": time.perf_counter() - t0, "mb": (meter.bytes - before) / 1e6}


def _stream_live(meter: _Meter, steps: int, draw_every: int) -> dict[str, float]:
    charts = LiveTrainingCharts()
    events = [RunStarted("bench", config={}, run_dir=None, total_epochs=1, steps_per_epoch=steps)]
    events += [
        BatchEnd("bench", phase=0, epoch=0, step=s, global_step=s, metrics={"loss": 1 / s, "accuracy": s / steps},
                 images_per_sec=100.0, learning_rate=1e-3, steps_per_epoch=steps)
        for s in range(1, steps + 1)
    ]
    before = meter.bytes
    t0 = time.perf_counter()
    for i, event in enumerate(events):
        charts.handle([event], draw=(i % draw_every == 0 or i == len(events) - 1))
    return {"s": time.perf_counter() - t0, "mb": (meter.bytes - before) / 1e6}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions (CI)")
    args = parser.parse_args(argv)
    steps = 1_000 if args.quick else 5_000
    reps = 5 if args.quick else 20
    meter = _Meter()
    comm.create_comm = meter.comm_class()

    print("(a) one update, by points of history")
    a: dict[str, dict[int, dict[str, float]]] = {"ours": {}, "figurewidget": {}}
    for name, make in (("ours", _ours), ("figurewidget", _figurewidget)):
        for history in (1_000, 50_000):
            a[name][history] = r = _one_update(meter, make, history, reps)
            print(f"  {name:13s} history {history:>6,}: {r['ms']:8.3f} ms  {r['bytes']:>10,.0f} bytes")

    print(f"(b) streaming {steps:,} steps, one update per step")
    b = {"ours": _stream(meter, _ours, steps), "figurewidget": _stream(meter, _figurewidget, steps),
         "live_charts": _stream_live(meter, steps, draw_every=max(1, steps // 250))}
    for name, r in b.items():
        print(f"  {name:13s}: {r['s']:8.3f} s  {r['mb']:10.2f} MB sent")
    print("  (live_charts: 3 charts, loss/accuracy/lr per batch, decimated, drawn every "
          f"{max(1, steps // 250)} steps)")

    def opening_bytes(make: Callable[[], Any]) -> int:
        before = meter.bytes
        for _ in range(3):
            make()
        return meter.bytes - before

    open_ours = opening_bytes(lambda: PlotlyChart(go.Figure(go.Scatter(x=[1], y=[1]))))
    open_fw = opening_bytes(lambda: go.FigureWidget(go.Scatter(x=[1], y=[1])))
    plotly_gz = len(plotly_js_payload("gzip"))
    page_ours = open_ours + plotly_gz
    page_fw = open_fw
    print("(c) bringing Plotly.js to a page with 3 charts (widget state sent at creation + loader)")
    print(f"  ours:         {open_ours:,} bytes of widget state + {plotly_gz:,} bytes of Plotly.js once (gzip)"
          f" = {page_ours / 1e6:.2f} MB")
    print(f"  figurewidget: {open_fw:,} bytes of widget state (bundle in every instance) = {page_fw / 1e6:.2f} MB")

    ratios = {
        "ours_update_ms_50k_over_1k": a["ours"][50_000]["ms"] / a["ours"][1_000]["ms"],
        "fw_update_ms_50k_over_1k": a["figurewidget"][50_000]["ms"] / a["figurewidget"][1_000]["ms"],
        "fw_over_ours_update_ms_at_50k": a["figurewidget"][50_000]["ms"] / a["ours"][50_000]["ms"],
        "fw_over_ours_update_bytes_at_50k": a["figurewidget"][50_000]["bytes"] / a["ours"][50_000]["bytes"],
        f"fw_over_ours_stream_{steps}_seconds": b["figurewidget"]["s"] / b["ours"]["s"],
        f"fw_over_ours_stream_{steps}_bytes": b["figurewidget"]["mb"] / b["ours"]["mb"],
        f"fw_over_live_charts_stream_{steps}_seconds": b["figurewidget"]["s"] / b["live_charts"]["s"],
        "fw_over_ours_page_bytes_3_charts": page_fw / page_ours,
    }
    print(json.dumps({k: round(v, 2) for k, v in ratios.items()}))
    return ratios


if __name__ == "__main__":
    main()
