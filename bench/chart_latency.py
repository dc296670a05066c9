"""Batch end -> chart update in the page: how long a student waits to see a batch's point, measured in Chromium.

Serves the Studio with ``tl-widgets serve --workshop`` (``--engine local``: the run trains in the room's warm
worker and its events travel worker -> gateway -> seat kernel -> page; ``--engine in-process``: the seat's own
kernel trains, the old way), opens one page, turns on the fine-tune phase (its
batches run the backbone: tens of milliseconds each, as real training does, unlike the head on cached features),
presses Start and, in the page, watches the live loss chart on every
animation frame: the first moment each new global step is drawn. The worker's batch-end wall time of each step is
read back from the seat's run store (``batches.time``, the event's own timestamp; same machine, same clock).
Latency of a step = first frame showing it - its batch end. Prints the median, p95 and max, and one JSON line.

    .venv/bin/python bench/chart_latency.py                   # both engines, one after the other
    .venv/bin/python bench/chart_latency.py --engine local --epochs 3
    .venv/bin/python bench/chart_latency.py --quick

Needs Chromium (``/usr/bin/chromium`` or ``$TLW_CHROMIUM``) and Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
LOSS_CHART = ".tlw-live-charts .tlw-plotly-chart.js-plotly-plot"
# Every animation frame: the largest step on the loss chart; the first time (ms since the epoch) each is shown.
WATCH_JS = """(sel) => {
  window.__tlwSeen = [];
  let last = -1;
  const tick = () => {
    const gd = document.querySelector(sel);
    if (gd && gd.data) {
      let top = -1;
      for (const t of gd.data) { const x = t.x || []; if (x.length) top = Math.max(top, Number(x[x.length - 1])); }
      if (top > last) { last = top; window.__tlwSeen.push([Date.now() / 1000, top]); }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def _serve(work: Path, engine: str, epochs: int) -> tuple[subprocess.Popen[str], str, Path]:
    (work / "data").mkdir(exist_ok=True)
    (work / "workshop.yaml").write_text("name: Latency\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\n"
                                        "max_epochs: 50\nmax_batch_size: 64\nmax_trainings: 1\n", encoding="utf-8")
    home = work / f"home-{engine}"
    env = {**os.environ, "TL_WIDGETS_HOME": str(home), "TL_WIDGETS_STUDIO_EPOCHS": str(epochs),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = work / f"serve-{engine}.log"
    proc = subprocess.Popen([sys.executable, "-m", "tl_widgets", "serve", "--workshop", str(work / "workshop.yaml"),
                             "--port", "0", "--no-browser", "--engine", engine],
                            env=env, cwd=work, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True,  # noqa: SIM115
                            start_new_session=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Expected serve to start. Received: exit {proc.returncode}: {log.read_text()[-2000:]}")
        found = re.search(r"tl-widgets Studio \(serve\): (http://\S+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1), home
        time.sleep(0.5)
    raise RuntimeError(f"Expected the Studio's URL within 900 s. Received: {log.read_text()[-2000:]}")


def _batch_times(home: Path) -> dict[int, float]:
    stores = list((home / "seats").glob("seat-*/runs.sqlite"))
    if not stores:
        raise RuntimeError(f"Expected a seat's run store under {home / 'seats'}. Received: none")
    times: dict[int, float] = {}
    for store in stores:
        with sqlite3.connect(store) as conn:
            for step, t in conn.execute("SELECT global_step, time FROM batches"):
                times[int(step)] = float(t)
    return times


def measure(engine: str, epochs: int, chromium: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="tlw-latency-"))
    proc, url, home = _serve(work, engine, epochs)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(url, timeout=300_000)
            page.wait_for_function("document.querySelector('button.tlw-start') && "
                                   "!document.querySelector('button.tlw-start').disabled", timeout=600_000)
            page.locator("button.tlw-step-train").click()
            page.locator(".tlw-fine-tune input").first.check()
            page.evaluate(WATCH_JS, LOSS_CHART)
            page.locator("button.tlw-start").click()
            page.wait_for_function("['finished', 'stopped'].includes((document.querySelector('.tlw-status') || "
                                   "{}).innerText.trim()) || (document.querySelector('.tlw-status') || "
                                   "{innerText: ''}).innerText.startsWith('failed')", timeout=1_800_000)
            page.wait_for_timeout(1500)  # the last points reach the page
            seen = page.evaluate("window.__tlwSeen")
            status = page.evaluate("document.querySelector('.tlw-status').innerText.trim()")
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    ends = _batch_times(home)
    latencies = []
    shown = sorted(seen, key=lambda p: p[1])
    for step, t_end in sorted(ends.items()):
        first = next((t for t, top in shown if top >= step), None)
        if first is not None:
            latencies.append(max(0.0, first - t_end) * 1000)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, max(0, round(0.95 * len(latencies)) - 1))] if latencies else None
    return {"engine": engine, "status": status, "steps_measured": len(latencies), "frames_with_new_steps": len(seen),
            "latency_ms": {"median": round(statistics.median(latencies), 1) if latencies else None,
                           "p95": round(p95, 1) if p95 is not None else None,
                           "max": round(latencies[-1], 1) if latencies else None}}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", choices=("local", "in-process"), action="append",
                   help="engine(s) to measure (default both)")
    p.add_argument("--epochs", type=int, default=3, help="epochs of the demo head run (default 3)")
    p.add_argument("--quick", action="store_true", help="one epoch, the local engine only")
    a = p.parse_args(argv)
    chromium = os.environ.get("TLW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Expected Chromium on PATH or in $TLW_CHROMIUM. Received: none found")
    engines = a.engine or (["local"] if a.quick else ["local", "in-process"])
    rows = [measure(engine, 1 if a.quick else a.epochs, chromium) for engine in engines]
    for row in rows:
        print(f"{row['engine']:<11} {row['status']:<9} steps {row['steps_measured']:>5}  latency ms "
              f"median {row['latency_ms']['median']}  p95 {row['latency_ms']['p95']}  max {row['latency_ms']['max']}",
              flush=True)
    print(json.dumps(rows), flush=True)
    return rows


if __name__ == "__main__":
    main()
