"""PlotlyChart's message protocol, tested without a browser."""

from __future__ import annotations

import gzip
import json
import math
import pathlib

import numpy as np
import plotly
import plotly.graph_objects as go
import pytest
import traitlets

from tl_widgets.views.widgets.chart import PlotlyChart
from tl_widgets.views.plotly_bundle import plotly_js_version

PLOTLY_JS = pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def browser_sends(chart: PlotlyChart, content: object) -> None:
    """Delivers ``content`` as if a view had called ``model.send``."""
    chart._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def line_chart(n_traces: int = 1, **kwargs: object) -> PlotlyChart:
    fig = go.Figure([go.Scatter(x=[], y=[], mode="lines", name=f"t{i}") for i in range(n_traces)])
    return PlotlyChart(fig, **kwargs)


def test_extend_sends_only_the_new_points(comm_log):
    chart = line_chart(2)
    chart.extend({0: (np.arange(1000), np.linspace(1, 0, 1000))})
    before = len(comm_log)
    chart.extend({0: ([1000, 1001], [0.5, 0.4]), 1: ([7], [3.0])})
    sent = comm_log.custom(before)
    assert len(sent) == 1 and len(comm_log) == before + 1  # no state sync either
    msg = sent[0]
    assert msg["type"] == "extend"
    assert msg["traces"] == [0, 1]
    assert msg["x"] == [[1000, 1001], [7]] and msg["y"] == [[0.5, 0.4], [3.0]]
    assert msg["_nbytes"] < 200
    assert chart.snapshot()["data"][0]["x"][-1] == 1001


def test_update_cost_does_not_grow_with_history(comm_log):
    chart = line_chart()
    sizes = []
    for history in (1_000, 50_000):
        chart.set_figure(go.Figure(go.Scatter(x=[], y=[])))
        chart.extend({0: (np.arange(history), np.random.rand(history))}, max_points=100_000)
        start = len(comm_log)
        chart.extend({0: ([history], [0.123])}, max_points=100_000)
        sizes.append(sum(e["nbytes"] for e in comm_log[start:]))
    assert sizes[0] == sizes[1] - 1 or abs(sizes[0] - sizes[1]) <= 2


def test_snapshot_stays_bounded_and_reaches_a_new_view(comm_log):
    chart = line_chart(max_points=500)
    for start in range(0, 20_000, 1000):
        chart.extend({0: (np.arange(start, start + 1000), np.random.rand(1000))})
    snap = chart.snapshot()["data"][0]
    assert len(snap["x"]) == 500 and snap["x"][-1] == 19_999 and snap["x"][0] == 19_500
    before = len(comm_log)
    browser_sends(chart, {"type": "snapshot?", "view": "view1"})
    reply = comm_log.custom(before)
    assert [m["type"] for m in reply] == ["snapshot"]
    assert reply[0]["view"] == "view1"
    assert len(reply[0]["figure"]["data"][0]["x"]) == 500
    # The synced state a later view starts from is the bounded snapshot too.
    assert len(chart._figure["data"][0]["y"]) == 500
    assert max(e["nbytes"] for e in comm_log[before:]) < 30_000


def test_extend_max_points_defaults_to_chart_bound(comm_log):
    chart = line_chart(max_points=100)
    chart.extend({0: (range(250), range(250))})
    assert comm_log.custom()[-1]["max"] == 100
    assert chart.snapshot()["data"][0]["y"] == list(range(150, 250))
    chart.extend({0: ([250], [1])}, max_points=20)
    assert len(chart.snapshot()["data"][0]["y"]) == 20
    with pytest.raises(ValueError, match="max_points >= 1"):
        chart.extend({0: ([1], [1])}, max_points=0)


def test_nan_becomes_null_and_bad_input_is_refused(comm_log):
    chart = line_chart()
    chart.extend({0: ([1, 2, 3], [1.0, math.nan, math.inf])})
    assert comm_log.custom()[-1]["y"] == [[1.0, None, None]]
    with pytest.raises(ValueError, match="as many x as y"):
        chart.extend({0: ([1, 2], [1.0])})
    with pytest.raises(IndexError, match=r"trace index in \[0, 1\)"):
        chart.extend({3: ([1], [1.0])})
    with pytest.raises(ValueError, match="1-D"):
        chart.extend({0: (np.zeros((2, 2)), np.zeros((2, 2)))})


def test_set_figure_relayout_add_traces_and_set_data(comm_log):
    chart = PlotlyChart({"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": {"text": "a"}}}, height=300)
    chart.relayout({"title.text": "b", "shapes[1].x0": 5, "xaxis.range": [0, 3]})
    layout = chart.snapshot()["layout"]
    assert layout["title"]["text"] == "b" and layout["shapes"][1]["x0"] == 5 and layout["xaxis"]["range"] == [0, 3]
    chart.relayout({"xaxis.range": None})
    assert "range" not in chart.snapshot()["layout"]["xaxis"]
    assert chart.add_traces([go.Scatter(name="new"), {"type": "scatter", "name": "dict"}]) == [1, 2]
    chart.set_data({2: ([1, 2], [3, 4]), 1: ([], [])})
    data = chart.snapshot()["data"]
    assert data[2]["x"] == [1, 2] and data[1]["x"] == [] and data[0]["y"] == [1, 2] and "x" not in data[0]
    chart.set_figure(go.Figure(go.Scatter(x=[1], y=[2])))
    types = [m["type"] for m in comm_log.custom()]
    assert types == ["relayout", "relayout", "add_traces", "restyle", "react"]
    assert chart.n_traces == 1 and chart._figure["data"][0]["x"] == [1]
    with pytest.raises(ValueError, match="layout path"):
        chart.relayout({"bad path!": 1})
    with pytest.raises(TypeError, match="plotly Figure, a dict or None"):
        chart.set_figure([1, 2])


@pytest.fixture
def fresh_bundle_budget(monkeypatch):
    """This test's own bundle budget (the kernel's is shared by every chart in the process)."""
    from tl_widgets.views import plotly_bundle

    monkeypatch.setattr(plotly_bundle, "_BUNDLES", plotly_bundle._Bucket(plotly_bundle.BUNDLE_BURST,
                                                                         plotly_bundle.BUNDLE_REFILL_S))


def test_plotly_js_is_served_once_compressed(comm_log, fresh_bundle_budget):
    chart = line_chart()
    browser_sends(chart, {"type": "plotly?", "gzip": True, "view": "v1"})
    reply = comm_log.custom()[-1]
    assert reply["type"] == "plotly" and reply["encoding"] == "gzip"
    assert reply["version"] == plotly_js_version() == chart._plotly_version
    payload = reply["_buffers"][0]
    assert len(payload) < 0.4 * PLOTLY_JS.stat().st_size
    assert gzip.decompress(payload) == PLOTLY_JS.read_bytes()
    browser_sends(chart, {"type": "plotly?", "gzip": "yes", "view": "v2"})  # not a bool: plain text
    assert comm_log.custom()[-1]["encoding"] == "identity"


def test_plotly_js_is_sent_once_per_view_and_a_few_times_per_kernel(comm_log, fresh_bundle_budget):
    """#25 (partly fixed before): a `plotly?` message answered with the whole 1.5-4.8 MB bundle every time."""
    from tl_widgets.views import plotly_bundle

    chart = line_chart()
    for _ in range(5):
        browser_sends(chart, {"type": "plotly?", "gzip": True, "view": "same-view"})
    browser_sends(chart, {"type": "plotly?", "gzip": True})  # no view named: refused
    assert [m["type"] for m in comm_log.custom()].count("plotly") == 1 and chart.requests_rejected == 5
    others = [line_chart() for _ in range(6)]
    for i in range(200):  # a page inventing views, across every chart of the kernel
        browser_sends(others[i % 6], {"type": "plotly?", "gzip": True, "view": f"made-up-{i}"})
    assert [m["type"] for m in comm_log.custom()].count("plotly") == plotly_bundle.BUNDLE_BURST
    assert plotly_bundle.may_send_bundle(now=10**9)  # the budget comes back with time


def test_the_esm_does_not_carry_plotly():
    esm = pathlib.Path(PlotlyChart._esm).read_text() if isinstance(PlotlyChart._esm, pathlib.Path) else str(PlotlyChart._esm)
    assert len(esm.encode()) < 20_000
    assert "export default { render }" in esm and "extendTraces" in esm


@pytest.mark.parametrize(
    "content",
    [None, "plotly?", {"type": "drop tables"}, {"type": "snapshot?"}, {"type": "snapshot?", "view": "<script>"},
     {"type": "plotly?", "view": "<script>"},
     {"type": "snapshot?", "view": "x" * 65}, [1, 2]],
)
def test_unexpected_browser_messages_are_refused(comm_log, content):
    chart = line_chart()
    before = len(comm_log)
    browser_sends(chart, content)
    assert chart.requests_rejected == 1
    assert comm_log[before:] == []


def test_browser_cannot_set_invalid_state(comm_log):
    chart = line_chart()
    with pytest.raises(traitlets.TraitError, match="height"):
        chart.set_state({"height": 10})
    with pytest.raises(traitlets.TraitError, match="read-only"):
        chart.set_state({"_plotly_version": "0.0.1"})
    chart.set_state({"height": 400})
    assert chart.height == 400


def test_messages_are_valid_json_for_a_kernel(comm_log):
    chart = line_chart()
    chart.extend({0: (np.arange(3, dtype=np.float32), np.array([np.nan, 1, 2], dtype=np.float32))})
    chart.relayout({"shapes": [{"type": "line", "x0": np.int64(3)}]})
    assert json.dumps([e["data"] for e in comm_log], allow_nan=False)


def test_snapshots_while_another_thread_extends(comm_log):
    import threading

    chart = line_chart(max_points=100_000)
    done = threading.Event()

    def pump():
        for i in range(0, 20_000, 10):
            chart.extend({0: (range(i, i + 10), range(i, i + 10))})
        done.set()

    worker = threading.Thread(target=pump)
    worker.start()
    views = 0
    while not done.is_set():
        browser_sends(chart, {"type": "snapshot?", "view": f"v{views}"})
        views += 1
    worker.join()
    assert chart.requests_rejected == 0 and views > 0
    # A view that got a snapshot and then applied every later extend holds each point exactly once.
    msgs = comm_log.custom()
    last_snap = max(i for i, m in enumerate(msgs) if m["type"] == "snapshot")
    xs = msgs[last_snap]["figure"]["data"][0]["x"]
    for m in msgs[last_snap + 1:]:
        if m["type"] == "extend":
            xs += m["x"][0]
    assert xs == list(range(20_000))


def test_views_never_import_keras_or_tensorflow():
    import subprocess
    import sys

    code = ("import sys, tl_widgets.views, tl_widgets.views.figures.basic; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_numpy_xy_survive_plotly_typed_array_encoding():
    import numpy as np
    import plotly.graph_objects as go

    from tl_widgets.views.widgets.chart import PlotlyChart

    xs = np.logspace(-5, 0, 7)
    ys = np.arange(7, dtype="float32") * 0.5
    chart = PlotlyChart(go.Figure(go.Scatter(x=xs, y=ys)))
    trace = chart.snapshot()["data"][0]
    assert trace["x"] == pytest.approx(xs.tolist())
    assert trace["y"] == pytest.approx(ys.tolist())


def test_figure_json_helpers_on_their_own():
    import math

    from tl_widgets.views.figure_json import apply_relayout, figure_dict, json_values

    assert json_values([1.0, math.nan, math.inf, 2.5], "y values") == [1.0, None, None, 2.5]
    with pytest.raises(ValueError, match="1-D sequence of x values. Received shape \\(2, 2\\)"):
        json_values([[1, 2], [3, 4]], "x values")
    layout = {"xaxis": {"title": {"text": "step"}}, "shapes": []}
    apply_relayout(layout, {"xaxis.title.text": "epoch", "shapes[1].x0": 3, "yaxis.type": "log"})
    assert layout == {"xaxis": {"title": {"text": "epoch"}}, "shapes": [{}, {"x0": 3}], "yaxis": {"type": "log"}}
    apply_relayout(layout, {"yaxis.type": None, "shapes[0]": None})
    assert layout == {"xaxis": {"title": {"text": "epoch"}}, "shapes": [{}, {"x0": 3}], "yaxis": {}}
    with pytest.raises(ValueError, match="layout path like 'xaxis.title.text'. Received: 'x axis'"):
        apply_relayout(layout, {"x axis": 1})
    import numpy as np
    import plotly.graph_objects as go

    plain = figure_dict(go.Figure(go.Scatter(x=np.arange(3), y=np.array([0.5, 0.25, 0.125]))))
    assert plain["data"][0]["x"] == [0, 1, 2] and plain["data"][0]["y"] == [0.5, 0.25, 0.125]
    with pytest.raises(TypeError, match="plotly Figure, a dict or None. Received: list"):
        figure_dict([1, 2])
