"""First paint of the Studio in a real Voilà, in Chromium: the Data step before TensorFlow, then Start.

Serves two copies of the Studio's notebook with Voilà (every page open starts a
fresh kernel, so TensorFlow is imported anew each time):

* ``background`` — the packaged notebook: the Data step is built without
  TensorFlow; Keras loads in a thread, then the Model step is built and Start
  is enabled ("Loading TensorFlow…" until then);
* ``at_once`` — the same notebook with ``Studio(..., background=False)``: every
  step built before the cell ends, as the Studio did before;
* ``floor`` — a notebook showing one HTML line and one button (class names the
  probes look for): what Voilà and Chromium take on this machine for any page.

Opens each page ``--repeats`` times, interleaved, and reports per arm, from the
moment the browser is sent to the URL: time to first paint (the Data step's
demo summary visible) and time to Start enabled; medians, min and max, and the
ratio at_once / background. Prints one JSON line last.

Usage::

    .venv/bin/python bench/first_paint.py              # 3 repeats
    .venv/bin/python bench/first_paint.py --repeats 5

Needs Chromium (``/usr/bin/chromium`` or ``$TLW_CHROMIUM``) and Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PAINTED_JS = ("(() => { const s = document.querySelector('.tlw-studio .tlw-data-summary');"
              " return !!(s && s.offsetParent && /\\d/.test(s.innerText)); })()")
START_READY_JS = ("(() => { const b = document.querySelector('.tlw-studio button.tlw-start');"
                  " return !!(b && !b.disabled && b.innerText.trim() === 'Start'); })()")
LOADING_JS = ("(() => { const b = document.querySelector('.tlw-studio button.tlw-start');"
              " return !!(b && b.disabled && /Loading/.test(b.innerText)); })()")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _notebooks(work: Path) -> dict[str, Path]:
    """The packaged notebook, and a copy that builds every step at once."""
    background = work / "background.ipynb"
    shutil.copy(NOTEBOOK, background)
    text = NOTEBOOK.read_text(encoding="utf-8")
    marker = "studio = Studio(config=default_studio_config())"
    if marker not in text:
        raise SystemExit(f"Expected {marker!r} in {NOTEBOOK}. Received: a notebook without it")
    at_once = work / "at_once.ipynb"
    at_once.write_text(text.replace(marker, "studio = Studio(config=default_studio_config(), background=False)"),
                       encoding="utf-8")
    floor = work / "floor.ipynb"
    nb = json.loads(text)
    nb["cells"][0]["source"] = [
        "import ipywidgets as widgets\n", "from IPython.display import display\n",
        "summary = widgets.HTML('1 image')\n", "summary.add_class('tlw-data-summary')\n",
        "start = widgets.Button(description='Start')\n", "start.add_class('tlw-start')\n",
        "page = widgets.VBox([summary, start])\n", "page.add_class('tlw-studio')\n", "display(page)\n"]
    floor.write_text(json.dumps(nb), encoding="utf-8")
    return {"background": background, "at_once": at_once, "floor": floor}


def _serve(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Voilà serving ``work`` (both notebooks); returns the process and its base URL once it answers."""
    port = _free_port()
    log = open(work / "voila.log", "wb")  # noqa: SIM115 - the process owns it until the end
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(work), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1", "--ServerApp.token=", "--show_tracebacks=True"],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
            return proc, base
        except urllib.error.HTTPError:
            return proc, base
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("Voilà did not answer within 120 s; see " + str(work / "voila.log"))


def _open_once(browser: Any, url: str, timeout_s: float) -> dict[str, Any]:
    """One page: seconds to first paint and to Start enabled, and whether the loading state was seen."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        t0 = time.monotonic()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.wait_for_function(PAINTED_JS, timeout=timeout_s * 1000, polling=50)
        painted = time.monotonic() - t0
        loading_seen = bool(page.evaluate(LOADING_JS))
        page.wait_for_function(START_READY_JS, timeout=timeout_s * 1000, polling=50)
        ready = time.monotonic() - t0
        return {"first_paint_s": round(painted, 2), "start_enabled_s": round(ready, 2), "loading_seen": loading_seen}
    finally:
        page.close()


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def run(repeats: int, timeout_s: float) -> dict[str, Any]:
    """Serves both notebooks and opens each ``repeats`` times, interleaved; returns the summary."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("TLW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Expected Chromium on PATH or in $TLW_CHROMIUM. Received: none found")
    work = Path(tempfile.mkdtemp(prefix="tlw-first-paint-"))
    notebooks = _notebooks(work)
    env = {**os.environ, "TL_WIDGETS_HOME": str(work / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc, base = _serve(work, env)
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in notebooks}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            _open_once(browser, f"{base}/voila/render/{notebooks['background'].name}", timeout_s)  # warm the disk
            for i in range(repeats):
                for arm, nb in (notebooks.items() if i % 2 == 0 else reversed(list(notebooks.items()))):
                    results[arm].append(_open_once(browser, f"{base}/voila/render/{nb.name}", timeout_s))
                    print(arm, results[arm][-1], flush=True)
            browser.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                               "load_average_1min": round(os.getloadavg()[0], 1), "repeats": repeats}
    for arm, rows in results.items():
        summary[arm] = {"first_paint_s": _stats([r["first_paint_s"] for r in rows]),
                        "start_enabled_s": _stats([r["start_enabled_s"] for r in rows]),
                        "loading_seen": sum(r["loading_seen"] for r in rows)}
    summary["first_paint_ratio_at_once_over_background"] = round(
        summary["at_once"]["first_paint_s"]["median"] / summary["background"]["first_paint_s"]["median"], 2)
    summary["start_enabled_ratio_at_once_over_background"] = round(
        summary["at_once"]["start_enabled_s"]["median"] / summary["background"]["start_enabled_s"]["median"], 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="page opens per arm (interleaved); at least 1")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each page state")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"Expected --repeats >= 1. Received: {args.repeats}")
    print(json.dumps(run(args.repeats, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
