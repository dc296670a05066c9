"""PlotlyChart in a real Voilà page, driven by Chromium through Playwright.

A notebook shows two charts and extends the first from a background thread;
the page must show the trace growing, and Plotly.js must cross the websocket
once, compressed, for both charts.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from typing import Iterator

import nbformat
import pytest

pytestmark = pytest.mark.browser

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def voila_url(tmp_path: pathlib.Path) -> Iterator[str]:
    """Serves the notebook with a real Voilà on 127.0.0.1; yields its URL."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_CODE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "chart.ipynb"
    nbformat.write(nb, path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = open(tmp_path / "voila.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Voilà did not start: {(tmp_path / 'voila.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's Chromium at {CHROMIUM}")
def test_chart_grows_live_in_voila(voila_url: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    received: list[int] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: received.append(len(payload))))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(voila_url, timeout=120_000)
            page.wait_for_function(
                "document.querySelectorAll('.tlw-plotly-chart.js-plotly-plot').length === 2", timeout=120_000)
            count_js = "document.querySelector('.tlw-plotly-chart').data[0].x.length"
            page.wait_for_function(f"{count_js} > 0", timeout=60_000)
            first = page.evaluate(count_js)
            time.sleep(2.0)
            second = page.evaluate(count_js)
            page.screenshot(path=str(ARTIFACTS / "chart_widget_voila.png"), full_page=True)
            state = page.evaluate(
                "(() => { const gd = document.querySelector('.tlw-plotly-chart');"
                " return { versions: Object.keys(globalThis.__tl_widgets_plotly__ || {}),"
                "  globalPlotly: typeof globalThis.Plotly, svg: gd.querySelectorAll('path.js-line').length,"
                "  bars: document.querySelectorAll('.tlw-plotly-chart')[1].data[0].y.length }; })()")
        finally:
            browser.close()
    assert second > first > 0, (first, second)
    assert state["svg"] >= 1 and state["bars"] == 2
    assert len(state["versions"]) == 1
    assert state["globalPlotly"] == "undefined"  # no window.Plotly left behind for other libraries to trip on
    # Plotly.js (4.8 MB raw, ~1.5 MB gzipped) crossed the websocket once for both charts.
    assert sum(received) < 3_000_000, sum(received)
    assert not errors, errors
