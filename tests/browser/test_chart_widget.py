"""PlotlyChart in a real Voilà page, driven by Chromium through Playwright (the suite's fixtures: a missing
Chromium fails, as for every browser test).

A notebook shows two charts and extends the first from a background thread;
the page must show the trace growing, and Plotly.js must cross the websocket
once, compressed, for both charts.
"""

from __future__ import annotations

import time

import nbformat

NOTEBOOK_CODE = """\
import threading, time, math
import plotly.graph_objects as go
from IPython.display import display
from tl_widgets.views.widgets.chart import PlotlyChart

chart = PlotlyChart(go.Figure(go.Scatter(x=[], y=[], mode="lines", name="live")), height=300)
other = PlotlyChart(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), height=220)

def feed():
    for i in range(900):
        chart.extend({0: ([i], [math.sin(i / 10)])})
        time.sleep(0.05)

threading.Thread(target=feed, daemon=True).start()
display(chart, other)
"""


def test_chart_grows_live_in_voila(chromium, start_voila, artifacts_dir, tmp_path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_CODE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "chart.ipynb")
    server = start_voila(tmp_path / "chart.ipynb", tmp_path, env={}, name="chart-voila")
    received: list[int] = []
    page = chromium.new_page(viewport={"width": 1000, "height": 800})
    try:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_function(
            "document.querySelectorAll('.tlw-plotly-chart.js-plotly-plot').length === 2", timeout=120_000)
        count_js = "document.querySelector('.tlw-plotly-chart').data[0].x.length"
        page.wait_for_function(f"{count_js} > 0", timeout=60_000)
        first = page.evaluate(count_js)
        time.sleep(2.0)
        second = page.evaluate(count_js)
        page.screenshot(path=str(artifacts_dir / "chart_widget_voila.png"), full_page=True)
        state = page.evaluate(
            "(() => { const gd = document.querySelector('.tlw-plotly-chart');"
            " return { versions: Object.keys(globalThis.__tl_widgets_plotly__ || {}),"
            "  globalPlotly: typeof globalThis.Plotly, svg: gd.querySelectorAll('path.js-line').length,"
            "  bars: document.querySelectorAll('.tlw-plotly-chart')[1].data[0].y.length }; })()")
    except Exception:
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert second > first > 0, (first, second)
    assert state["svg"] >= 1 and state["bars"] == 2
    assert len(state["versions"]) == 1
    assert state["globalPlotly"] == "undefined"  # no window.Plotly left behind for other libraries to trip on
    # Plotly.js (4.8 MB raw, ~1.5 MB gzipped) crossed the websocket once for both charts.
    assert sum(received) < 3_000_000, sum(received)
    assert not errors, errors
