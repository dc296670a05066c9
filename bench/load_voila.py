"""Load benchmark: N browsers on one ``tl-widgets serve --workshop``, each uploading its own zip and training.

Runs the real CLI (``tl-widgets serve --workshop workshop.yaml``, with the
fair training queue limited to ``--slots`` trainings at once), opens N
Chromium contexts at once (one seat each), and in every page: waits for the
Studio, uploads a small zip of its own (different images per seat), presses
Start, follows "queued: N ahead" until the run trains, waits for
``finished``, then checks its Runs tab lists only its own run. It also opens
the instructor view (its own URL and token) and checks it counts the seats.

With the room's engine (``--engine local``, the default of ``serve``) the seats' kernels are thin: every Keras
job runs in the room's warm workers. Once every page shows the Studio with Start enabled, the room sits idle for
``--idle-s`` seconds and is measured (each kernel's PSS, the workers' PSS, the machine's used memory): the
"30 idle seats" figure. ``--engine in-process`` is the old room (every kernel imports TensorFlow) for comparison.

Reports time-to-page-ready and time-to-Start-enabled (median, p95, max), queue wait and time-to-finished,
whether the queue was fair (runs started training in the order Start was
pressed), the machine's used memory (MemTotal - MemAvailable, peak minus the
baseline before the server started) and each kernel's PSS (shared pages
split between the processes that share them, unlike RSS). Prints one JSON line.

Usage::

    .venv/bin/python bench/load_voila.py --n 30 --slots 2
    .venv/bin/python bench/load_voila.py --quick      # N=3

Needs Chromium (``/usr/bin/chromium`` or ``$TLW_CHROMIUM``) and Playwright.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"
PROGRESS_JS = "((document.querySelector('.tlw-progress-text') || {}).innerText || '')"
SUMMARY_JS = "((document.querySelector('.tlw-data-summary') || {}).innerText || '')"
DATA_NOTICE_JS = "((document.querySelector('.tlw-data-panel .tlw-message') || {}).innerText || '')"
NOTICE_JS = "((document.querySelector('.tlw-run-notice') || {}).innerText || '')"
RUN_OPTIONS_JS = "Array.from(document.querySelectorAll('.tlw-runs select option')).map(o => o.value)"


def used_memory_bytes() -> int:
    """MemTotal - MemAvailable from /proc/meminfo: what the machine really has in use."""
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


class MemorySampler(threading.Thread):
    """Samples used memory (every 0.5 s) and each kernel's PSS (every 3 s) until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_used = 0
        self.kernel_pss: dict[int, int] = {}  # pid -> peak PSS
        self.peak_kernels_pss = 0
        self.max_kernels = 0
        self.worker_pss: dict[int, int] = {}  # the room's engine workers
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        last_pss = 0.0
        while not self._halt.is_set():
            self.peak_used = max(self.peak_used, used_memory_bytes())
            if time.monotonic() - last_pss > 3:
                last_pss = time.monotonic()
                total = n = 0
                try:
                    procs = root.children(recursive=True)
                except psutil.NoSuchProcess:
                    return
                for proc in procs:
                    try:
                        cmd = " ".join(proc.cmdline())
                        if "tl_widgets.core.engine.worker" in cmd:
                            self.worker_pss[proc.pid] = max(self.worker_pss.get(proc.pid, 0),
                                                            proc.memory_full_info().pss)
                            continue
                        if "ipykernel" not in cmd:
                            continue
                        pss = proc.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    n += 1
                    total += pss
                    self.kernel_pss[proc.pid] = max(self.kernel_pss.get(proc.pid, 0), pss)
                self.peak_kernels_pss = max(self.peak_kernels_pss, total)
                self.max_kernels = max(self.max_kernels, n)
            self._halt.wait(0.5)

    def snapshot(self) -> dict[str, Any]:
        """Now: used memory, every kernel's and worker's PSS (MiB)."""
        import psutil

        kernels, workers = [], []
        for proc in psutil.Process(self.pid).children(recursive=True):
            try:
                cmd = " ".join(proc.cmdline())
                pss = proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if "tl_widgets.core.engine.worker" in cmd:
                workers.append(pss)
            elif "ipykernel" in cmd:
                kernels.append(pss)
        mib = 2**20
        return {"used_memory_mib": round(used_memory_bytes() / mib), "kernels": len(kernels),
                "kernel_pss_mib": {"median": round(statistics.median(kernels) / mib) if kernels else None,
                                   "max": round(max(kernels) / mib) if kernels else None,
                                   "sum": round(sum(kernels) / mib)},
                "workers": len(workers), "workers_pss_sum_mib": round(sum(workers) / mib)}

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def seat_zip(folder: Path, seat: int, per_class: int = 12) -> Path:
    """A small zip of two class folders whose images differ per seat."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seat)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, cls in enumerate(("circles", "squares")):
            for i in range(per_class):
                img = (rng.random((32, 32, 3)) * 80 + (160 if k else 40)).astype("uint8")
                out = io.BytesIO()
                Image.fromarray(img).save(out, "PNG")
                zf.writestr(f"seat{seat}/{cls}/{i}.png", out.getvalue())
    path = folder / f"seat-{seat}.zip"
    path.write_bytes(buf.getvalue())
    return path


def _read_urls(proc: subprocess.Popen[str], log: Path, timeout: float) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    studio = teacher = None
    while time.monotonic() < deadline and (studio is None or teacher is None):
        if proc.poll() is not None:
            raise RuntimeError(f"Expected `tl-widgets serve` to start. Received: exit code {proc.returncode}; "
                               f"{log.read_text(errors='replace')[-2000:]}")
        text = log.read_text(errors="replace")
        if m := re.search(r"tl-widgets Studio \(serve\): (http://\S+)", text):
            studio = m.group(1)
        if m := re.search(r"Instructor view[^:]*: (http://\S+)", text):
            teacher = m.group(1)
        time.sleep(0.5)
    if studio is None or teacher is None:
        raise RuntimeError(f"Expected both URLs within {timeout:.0f} s. Received: {log.read_text()[-2000:]}")
    return studio, teacher


def _wait_preheated(sampler: MemorySampler, n: int, timeout: float) -> None:
    """Voilà fills its pool after ``serve`` prints the URL; a room's students arrive later: wait until ``n`` kernels
    run and the machine has had 10 quiet seconds (under 25 % CPU), so arrivals are measured against a warm pool."""
    import psutil

    deadline, quiet = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=2.0)
        quiet = quiet + 2.0 if sampler.max_kernels >= n and busy < 25 else 0.0
        if quiet >= 10:
            print(f"preheated: {sampler.max_kernels} kernels ready", flush=True)
            return
    raise RuntimeError(f"Expected {n} preheated kernels within {timeout:.0f} s. Received: {sampler.max_kernels}")


def run(n: int, slots: int, epochs: int, threads: int, timeout_s: float,
        max_starting: int | None = None, engine: str = "local", idle_s: float = 20.0,
        preheat: int = 0) -> dict[str, Any]:
    """Serves the room, drives ``n`` seats at once, returns the measurements."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("TLW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Expected Chromium on PATH or in $TLW_CHROMIUM. Received: none found")
    work = Path(tempfile.mkdtemp(prefix="tlw-load-"))
    (work / "data").mkdir()
    zips = [seat_zip(work, i) for i in range(n)]
    (work / "workshop.yaml").write_text(
        f"name: Load test\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\nmax_epochs: 3\nmax_batch_size: 32\n"
        f"max_upload_mb: 1\nthreads_per_kernel: {threads}\nmax_trainings: {slots}\n"
        f"max_seats: {n}\n", encoding="utf-8")  # every seat measured, whatever the memory rule would allow
    env = {**os.environ, "TL_WIDGETS_HOME": str(work / "home"), "TL_WIDGETS_STUDIO_EPOCHS": str(epochs),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    baseline = used_memory_bytes()
    log_path = work / "serve.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "tl_widgets", "serve", "--workshop", str(work / "workshop.yaml"),
                             "--port", "0", "--no-browser", "--engine", engine,
                             *(["--max-starting", str(max_starting)] if max_starting else []),
                             *(["--preheat", str(preheat)] if preheat else [])],
                            env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sampler = None
    try:
        url, teacher_url = _read_urls(proc, log_path, 180)
        sampler = MemorySampler(proc.pid)
        sampler.start()
        if preheat:
            _wait_preheated(sampler, preheat, 900)
        t0 = time.monotonic()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
            idle: dict[str, Any] = {}

            def measure_idle() -> None:
                time.sleep(idle_s)
                idle.update(sampler.snapshot())

            results = _drive_all(contexts, url, zips, t0 + timeout_s, on_all_ready=measure_idle)
            teacher_ctx = browser.new_context()
            teacher = teacher_ctx.new_page()
            teacher.goto(teacher_url, timeout=120_000)
            teacher.wait_for_selector(".tlw-room-table", timeout=300_000)
            teacher.wait_for_timeout(3000)
            seats_seen = teacher.evaluate("document.querySelector('.tlw-room-table').innerText")
            browser.close()
        wall = time.monotonic() - t0
    finally:
        if sampler is not None:
            sampler.stop()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    out = _summary(n, slots, epochs, threads, results, wall, baseline, sampler, seats_seen)
    out.update(engine=engine, idle_s=idle_s, idle=idle, preheat=preheat,
               workers_pss_peak_mib=round(sum(sampler.worker_pss.values()) / 2**20) if sampler else None)
    return out


def _stats(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))] if ordered else None
    return {"median": round(statistics.median(values), 1) if values else None,
            "p95": round(p95, 1) if p95 is not None else None,
            "max": round(max(values), 1) if values else None}


def _summary(n: int, slots: int, epochs: int, threads: int, results: list[dict[str, Any]], wall: float,
             baseline: int, sampler: MemorySampler | None, seats_seen: str) -> dict[str, Any]:
    started = sorted((r for r in results if r.get("t_train") is not None), key=lambda r: r["t_start"])
    order = [r["t_train"] for r in started]
    inversions = sum(a > b + 1.0 for i, a in enumerate(order) for b in order[i + 1:])  # 1 s: the queue's poll
    pss = sorted(sampler.kernel_pss.values()) if sampler else []
    m = re.search(r"Seats open: (\d+)", seats_seen)
    return {
        "bench": "load_voila", "n": n, "slots": slots, "epochs": epochs, "threads_per_kernel": threads,
        "cpus": os.cpu_count(), "all_ok": all(r["ok"] for r in results),
        "finished": sum(r["status"] == "finished" for r in results),
        "pages_with_errors": sum(bool(r["errors"]) for r in results),
        "failures": [r for r in results if not r["ok"]][:5], "wall_s": round(wall, 1),
        "page_ready_s": _stats([r["page_ready_s"] for r in results if r.get("page_ready_s") is not None]),
        "start_enabled_s": _stats([r["start_enabled_s"] for r in results if r.get("start_enabled_s") is not None]),
        "seats_start_enabled": sum(r.get("start_enabled_s") is not None for r in results),
        "queue_wait_s": _stats([r["queue_wait_s"] for r in results if r.get("queue_wait_s") is not None]),
        "seats_queued": sum(bool(r.get("queued")) for r in results),
        "seats_shown_waiting_room": sum(bool(r.get("waited")) for r in results),
        "waiting_room_max_ahead": max((r.get("max_ahead") or 0 for r in results), default=0),
        "finished_s": _stats([r["finished_s"] for r in results if r.get("finished_s") is not None]),
        "train_s": _stats([r["finished_s"] - r["t_train_rel"] for r in results
                           if r.get("finished_s") is not None and r.get("t_train_rel") is not None]),
        "queue_order_inversions": inversions,
        "cross_seat_leaks": sum(r.get("runs_listed", 1) != 1 for r in results if r.get("finished_s") is not None),
        "instructor_seats_open": int(m.group(1)) if m else None,
        "used_memory_baseline_mib": round(baseline / 2**20),
        "used_memory_peak_mib": round(sampler.peak_used / 2**20) if sampler else None,
        "used_memory_peak_minus_baseline_mib": round((sampler.peak_used - baseline) / 2**20) if sampler else None,
        "kernels_seen": sampler.max_kernels if sampler else 0,
        "kernel_pss_peak_mib": {"median": round(statistics.median(pss) / 2**20) if pss else None,
                                "max": round(max(pss) / 2**20) if pss else None},
        "kernels_pss_sum_peak_mib": round(sampler.peak_kernels_pss / 2**20) if sampler else None,
    }


def _drive_all(contexts: list[Any], url: str, zips: list[Path], deadline: float,
               on_all_ready: Any = None) -> list[dict[str, Any]]:
    """Opens every page at once; once every page shows the Studio with Start enabled (or 5 minutes passed),
    ``on_all_ready()`` measures the idle room; then steps each page through upload, Start, queue and finish."""
    t0 = time.monotonic()
    seats = []
    for ctx, zpath in zip(contexts, zips):
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(url, wait_until="commit", timeout=120_000)
        seats.append({"page": page, "zip": zpath, "errors": errors, "state": "loading"})
    released = False
    while time.monotonic() < deadline and any(s["state"] != "done" for s in seats):
        if not released and (all(s["state"] in ("ready", "done") for s in seats) or time.monotonic() - t0 > 300):
            if on_all_ready is not None:
                on_all_ready()
            released = True
            for s in seats:
                if s["state"] == "ready":
                    s["state"] = "go"
        for s in seats:
            try:
                _step(s, t0)
            except Exception as exc:  # one broken page must not stop the others: record it
                s.update(state="done", status=f"driver error: {exc}"[:300])
        time.sleep(0.3)
    out = []
    for s in seats:
        ok = s["state"] == "done" and s.get("status") == "finished" and not s["errors"] and s.get("runs_listed") == 1
        out.append({"ok": ok, "status": s.get("status", s["state"]), "notice": s.get("notice", ""),
                    "errors": s["errors"][:3], "queued": s.get("queued", False), "waited": s.get("waited", False),
                    "max_ahead": s.get("max_ahead"), "t_start": s.get("t_start"),
                    "t_train": s.get("t_train"), "runs_listed": s.get("runs_listed"),
                    "page_ready_s": _rel(s.get("t_ready"), t0), "t_train_rel": _rel(s.get("t_train"), t0),
                    "start_enabled_s": _rel(s.get("t_enabled"), t0),
                    "queue_wait_s": (round(s["t_train"] - s["t_start"], 1) if s.get("t_train") else None),
                    "finished_s": _rel(s.get("t_end"), t0)})
    return out


def _rel(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 1)


def _step(s: dict[str, Any], t0: float) -> None:
    page = s["page"]
    if s["state"] == "loading":
        upload = page.locator(".tlw-source button", has_text="Upload zip")
        from playwright.sync_api import Error as PlaywrightError

        try:  # serve's waiting room: "Waiting for a seat, N ahead." (read without waiting: it moves on by itself)
            text = page.evaluate("((document.querySelector('.tlw-waiting-text') || {}).innerText || '')")
        except PlaywrightError:
            return  # the waiting page was leaving for the Studio while being read: look again next round
        if text:
            s["waited"] = True
            s["max_ahead"] = max(s.get("max_ahead", 0), int(re.sub(r"\D", "", text) or 0))
        elif page.locator(".tlw-studio").count() and upload.count():  # the page can show before every widget does
            s.setdefault("t_ready", time.monotonic())
            if page.evaluate("!document.querySelector('button.tlw-start').disabled"):  # the engine answered
                s.update(t_enabled=time.monotonic(), state="ready")
    elif s["state"] == "go":
        page.locator(".tlw-source button", has_text="Upload zip").first.click()
        s["state"] = "picking"
    elif s["state"] == "picking":
        if page.locator(".tlw-upload").count():
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.locator(".tlw-upload").first.click()
            chooser.value.set_files(str(s["zip"]))
            s["state"] = "uploading"
    elif s["state"] == "uploading":
        if "images in" in page.evaluate(SUMMARY_JS) and \
                page.evaluate("!document.querySelector('button.tlw-start').disabled"):  # TensorFlow loaded
            page.locator("button.tlw-step-train").click()
            page.locator("button.tlw-start").click()
            s.update(state="started", t_start=time.monotonic())
        elif "Refused" in page.evaluate(DATA_NOTICE_JS):
            s.update(state="done", status="upload refused", notice=page.evaluate(DATA_NOTICE_JS))
    elif s["state"] == "started":
        status = page.evaluate(STATUS_JS)
        if status == "queued":
            s["queued"] = True
        elif status == "running" and not page.evaluate(PROGRESS_JS).startswith("queued"):
            s.update(state="training", t_train=time.monotonic())
        elif status in ("finished", "stopped") or status.startswith("failed") or status.startswith("Cannot"):
            s.update(state="training", t_train=time.monotonic())
    elif s["state"] == "training":
        status = page.evaluate(STATUS_JS)
        if status in ("finished", "stopped") or status.startswith("failed"):
            s.update(status=status, notice=page.evaluate(NOTICE_JS), t_end=time.monotonic(), state="listing")
            page.locator("button.tlw-step-runs").click()
    elif s["state"] == "listing":
        ids = page.evaluate(RUN_OPTIONS_JS)
        if ids:
            s.update(runs_listed=len(ids), state="done")
            page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="concurrent browser seats (default 8)")
    parser.add_argument("--quick", action="store_true", help="3 seats (a smoke run)")
    parser.add_argument("--slots", type=int, default=2, help="trainings at once (the workshop's max_trainings)")
    parser.add_argument("--epochs", type=int, default=1, help="head-phase epochs per seat (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per kernel (default 1)")
    parser.add_argument("--max-starting", type=int, default=None,
                        help="serve's --max-starting (pages prepared at once; default: serve's, the CPU cores; "
                             "a number >= N turns the waiting room off, for comparison)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole load (default 1800)")
    parser.add_argument("--engine", default="local", help="serve's --engine: local (default) or in-process")
    parser.add_argument("--idle-s", type=float, default=20.0, help="seconds the ready room sits idle before measuring")
    parser.add_argument("--preheat", type=int, default=0, help="serve's --preheat (Voilà kernels started in advance)")
    args = parser.parse_args(argv)
    n = 3 if args.quick else args.n
    if n < 1:
        parser.error(f"Expected --n >= 1. Received: {n}")
    result = run(n, args.slots, args.epochs, args.threads, args.timeout, args.max_starting, args.engine,
                 args.idle_s, args.preheat)
    result["max_starting"] = args.max_starting or "serve's default (CPU cores)"
    print(json.dumps(result), flush=True)
    return 0 if result["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
