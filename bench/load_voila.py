"""Load benchmark: N browser sessions on one served Studio, each training the demo for a few batches.

Starts the Studio the way ``tl-widgets serve`` does (one CPU thread per kernel,
an upload limit, idle culling, sources stripped), opens N Chromium pages at once,
presses Start in each and waits for ``finished``. Records the time per session
(page open -> finished), the peak of the summed RSS of the kernels (psutil,
sampled every 0.25 s) and the peak of the server plus kernels, then prints one
JSON line.

Usage::

    .venv/bin/python bench/load_voila.py --n 8
    .venv/bin/python bench/load_voila.py --quick      # N=3

Needs Chromium (``/usr/bin/chromium`` or ``$TLW_CHROMIUM``) and Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tl_widgets.server.voila_launch import READY_PROBE, LaunchOptions, free_port, kernel_env, voila_argv  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"
NOTICE_JS = "((document.querySelector('.tlw-train-panel .tlw-message') || {}).innerText || '')"


class RssSampler(threading.Thread):
    """Samples the RSS of the server process and its descendants (the kernels) until stopped."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kernels = 0
        self.peak_total = 0
        self.max_kernels_seen = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._halt.is_set():
            kernels = total = n = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                    is_kernel = "ipykernel" in " ".join(proc.cmdline())
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                if is_kernel:
                    kernels += rss
                    n += 1
            self.peak_kernels = max(self.peak_kernels, kernels)
            self.peak_total = max(self.peak_total, total)
            self.max_kernels_seen = max(self.max_kernels_seen, n)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Expected Voilà to serve {url}. Received: exit code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"Expected Voilà to answer at {url} within {timeout:.0f} s. Received: no answer")


def run(n: int, epochs: int, max_per_class: int, threads: int, timeout_s: float) -> dict[str, Any]:
    """Serves the Studio, runs ``n`` sessions at once, returns the measurements."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("TLW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Expected Chromium on PATH or in $TLW_CHROMIUM. Received: none found")
    work = Path(tempfile.mkdtemp(prefix="tlw-load-"))
    (work / "data").mkdir()
    opts = LaunchOptions(port=free_port(), data_roots=[work / "data"], max_upload_bytes=8 * 2**20, threads=threads,
                         cull_idle_s=600, extra_env={
                             "TL_WIDGETS_HOME": str(work / "home"), "TL_WIDGETS_STUDIO_EPOCHS": str(epochs),
                             "TL_WIDGETS_STUDIO_MAX_PER_CLASS": str(max_per_class),
                             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    log = open(work / "voila.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(voila_argv(opts), env=kernel_env(opts), stdout=log, stderr=subprocess.STDOUT,
                            cwd=work, start_new_session=True)
    sampler = None
    try:
        _wait_up(opts.base_url + READY_PROBE, proc, 120)
        sampler = RssSampler(proc.pid)
        sampler.start()
        t0 = time.monotonic()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
            # Playwright's sync API is single-threaded: open every page first, then drive them in turn.
            results = _drive_all(contexts, opts.url, int(timeout_s * 1000))
            browser.close()
        wall = time.monotonic() - t0
    finally:
        if sampler is not None:
            sampler.stop()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    secs = [r["seconds"] for r in results if r.get("seconds") is not None]
    return {
        "bench": "load_voila", "n": n, "epochs": epochs, "max_per_class": max_per_class, "threads_per_kernel": threads,
        "cpus": os.cpu_count(), "all_ok": all(r["ok"] for r in results), "failures": [r for r in results if not r["ok"]],
        "wall_s": round(wall, 1),
        "session_s": {"min": min(secs, default=None), "median": statistics.median(secs) if secs else None,
                      "max": max(secs, default=None)},
        "page_ready_s_median": round(statistics.median([r["page_ready_s"] for r in results if r.get("page_ready_s")] or [0]), 1),
        "kernels_seen": sampler.max_kernels_seen if sampler else 0,
        "peak_kernel_rss_mib": round(sampler.peak_kernels / 2**20) if sampler else None,
        "peak_kernel_rss_per_session_mib": round(sampler.peak_kernels / 2**20 / n) if sampler else None,
        "peak_server_plus_kernels_rss_mib": round(sampler.peak_total / 2**20) if sampler else None,
    }


def _drive_all(contexts: list[Any], url: str, timeout_ms: int) -> list[dict[str, Any]]:
    """Opens all pages at once, starts each run as soon as its page is ready, waits for all to end."""
    t0 = time.monotonic()
    pages = []
    for ctx in contexts:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(url, wait_until="commit", timeout=timeout_ms)
        pages.append({"page": page, "errors": errors, "state": "loading", "t_ready": None, "t_end": None})
    deadline = t0 + timeout_ms / 1000
    while time.monotonic() < deadline and any(p["state"] != "done" for p in pages):
        for p in pages:
            page = p["page"]
            if p["state"] == "loading" and page.locator(".tlw-studio").count():
                p["t_ready"] = time.monotonic()
                page.locator(".tlw-tabs .lm-TabBar-tab", has_text="Train").first.click()
                page.locator("button.tlw-start").click()
                p["state"] = "training"
            elif p["state"] == "training":
                status = page.evaluate(STATUS_JS)
                if status in ("finished", "stopped") or status.startswith("failed"):
                    p.update(state="done", status=status, notice=page.evaluate(NOTICE_JS), t_end=time.monotonic())
        pages[0]["page"].wait_for_timeout(250)
    out = []
    for p in pages:
        ok = p["state"] == "done" and p.get("status") == "finished" and not p["errors"]
        out.append({"ok": ok, "status": p.get("status", p["state"]), "notice": p.get("notice", ""),
                    "errors": p["errors"][:3],
                    "page_ready_s": round(p["t_ready"] - t0, 1) if p["t_ready"] else None,
                    "seconds": round(p["t_end"] - t0, 1) if p["t_end"] else None})
        p["page"].close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="concurrent browser sessions (default 8)")
    parser.add_argument("--quick", action="store_true", help="3 sessions (a smoke run)")
    parser.add_argument("--epochs", type=int, default=1, help="head-phase epochs per session (default 1)")
    parser.add_argument("--max-per-class", type=int, default=20,
                        help="training images per class (default 20: a few batches)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per kernel (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the whole load (default 900)")
    args = parser.parse_args(argv)
    n = 3 if args.quick else args.n
    if n < 1:
        parser.error(f"Expected --n >= 1. Received: {n}")
    result = run(n, args.epochs, args.max_per_class, args.threads, args.timeout)
    print(json.dumps(result), flush=True)
    return 0 if result["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
