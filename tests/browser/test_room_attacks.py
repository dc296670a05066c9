"""Issue #25 against a real ``tl-widgets serve --workshop`` (and Chromium where the attack comes from a page).

``test_the_room_caps_kernels_frees_unconnected_ones_and_keeps_tokens_out`` (the server):
  H1 eight GETs of the student URL with ``max_seats: 3`` leave at most 3 kernels (counted from /proc through the
  server's parent chain), the others get the "room full" page; kernels whose page never connected are shut down
  after ``unconnected_minutes``; the instructor view shuts a connected seat down. L1 tokens and tickets never reach
  the log. L2 a made-up ticket is refused and never joins the line. L3 the last room's push is cleared at start.
  L14 the token leaves the address bar for a cookie; a tab without it opens the Studio; no cookie, no kernel.

``test_attacks_from_a_page`` (the page): M1/M2 an uploaded zip holding PostScript named ``.jpg`` (a fake ``gs`` first
  on the kernel's PATH must never run) and an ICO wrapping a big PNG; M3 webcam frames forged by a script on the page
  through its widget manager (a claimed ``max_frames`` of 500, a new burst id per frame, a flood) stay within the
  seat's quota and rate; "plotly?" requests forged in a loop get a few answers; L12 a model split over more logical CPUs than the room
  allows is refused at Start, and a second tab of the same browser cannot queue a second run.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.cookiejar
import io
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from hostile_images import fake_ghostscript, ico_wrapping_png, path_with, postscript_named_jpeg
from tests.browser.room_server import SERVE, instructor_url, snapshot

pytestmark = pytest.mark.browser

TOKEN = "room-security-test-token-25"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '')"
RUN_NOTICE_JS = "((document.querySelector('.tlw-run-notice') || {}).innerText || '')"
START_ENABLED_JS = "!!document.querySelector('button.tlw-start') && !document.querySelector('button.tlw-start').disabled"

# A script on the page talking to its own widgets through the page's widget manager (Voilà exposes the app as
# window.jupyterapp): it can set any synced value and send any custom message, as a modified page can.
PAGE_WIDGETS_JS = """
async ({ops}) => {
  const mgr = window.jupyterapp && window.jupyterapp.widgetManager;
  if (!mgr) throw new Error('no widget manager on the page');
  const raw = mgr._models;
  const ids = raw instanceof Map ? [...raw.keys()] : Object.keys(raw);
  const models = (await Promise.all(ids.map((id) => mgr.get_model(id).catch(() => null)))).filter(Boolean);
  const find = (pred) => models.filter((m) => { try { return pred(m); } catch (e) { return false; } });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const out = {};
  for (const op of ops) {
    if (op.kind === 'frames') {
      const [cam] = find((m) => m.get('hold') === true && m.get('max_frames') !== undefined && m.get('fps') !== undefined);
      if (!cam) throw new Error(`no hold webcam among ${models.length} widgets`);
      if (op.claim) { for (const [k, v] of Object.entries(op.claim)) cam.set(k, v); cam.save_changes(); }
      const frame = bytes(op.jpeg);
      for (let i = 0; i < op.count; i++) {
        cam.send({type: 'frame', burst: op.burst0 + (op.sameBurst ? 0 : i), seq: i + 1}, undefined, [frame.buffer.slice(0)]);
        if (op.gapMs) await sleep(op.gapMs);
      }
      for (let i = 0; i < 300 && op.claim && cam.get('max_frames') === op.claim.max_frames; i++) await sleep(100);
      await sleep(op.settleMs || 1500);
      out[op.name] = {maxFrames: cam.get('max_frames'), fps: cam.get('fps')};
    } else if (op.kind === 'plotly') {
      const charts = find((m) => m.get('_plotly_version') !== undefined);
      let answers = 0;
      const count = (msg) => { if (msg && msg.type === 'plotly') answers += 1; };
      charts.forEach((c) => c.on('msg:custom', count));
      for (let i = 0; i < op.count; i++) charts[i % charts.length].send({type: 'plotly?', gzip: true, view: `made-up-${i}`});
      await sleep(op.waitMs);
      charts.forEach((c) => c.off('msg:custom', count));
      out[op.name] = {charts: charts.length, answers};
    }
  }
  return out;
}
"""


def _serve(start_server, free_port, tmp_path: Path, workshop: str, *, extra_env: dict[str, str] | None = None,
           args: tuple[str, ...] = ()):
    (tmp_path / "data").mkdir(exist_ok=True)
    ws = tmp_path / "workshop.yaml"
    ws.write_text("name: Security class\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\n" + workshop,
                  encoding="utf-8")
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(extra_env or {})}
    return start_server([*SERVE, "--workshop", str(ws), "--port", str(port),
                         "--token", TOKEN, "--no-browser", *args],
                        ready_url=f"http://127.0.0.1:{port}/", env=env, cwd=tmp_path, name="serve-security")


def _kernels(server) -> list:
    """The student server's kernels: descendants (through the parent chain, as /proc gives it) of the Voilà serving
    studio.ipynb that run ipykernel (the instructor view's Voilà, a sibling, is left out)."""
    import psutil

    def cmd(proc) -> str:
        try:
            return " ".join(proc.cmdline())
        except psutil.Error:
            return ""

    students = [p for p in psutil.Process(server.proc.pid).children() if "studio.ipynb" in cmd(p)]
    return [k for voila in students for k in voila.children(recursive=True) if "ipykernel" in cmd(k)]


def _client() -> urllib.request.OpenerDirector:
    """A client that keeps cookies (a script using curl -c/-b would)."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _get(opener, url: str, timeout: float = 300) -> tuple[int, str, str]:
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, resp.url, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.url, exc.read().decode("utf-8", "replace")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"Expected {what} within {timeout:.0f} s")


def test_the_room_caps_kernels_frees_unconnected_ones_and_keeps_tokens_out(chromium, free_port, start_server,
                                                                            artifacts_dir, tmp_path):
    seats = tmp_path / "home" / "seats"
    seats.mkdir(parents=True)
    (seats / "pushed_config.json").write_text(json.dumps({"time": 1.0, "config": {}}))  # yesterday's push
    server = _serve(start_server, free_port, tmp_path, "max_epochs: 5\nmax_batch_size: 16\nmax_seats: 3\n"
                    "unconnected_minutes: 0.25\n", args=("--max-starting", "8"))
    base = server.ready_url
    assert not (seats / "pushed_config.json").exists()  # L3: a new room starts without the last push

    # H1: eight clients at once, each with its own cookies; the line admits all eight, the cap three.
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], len(_kernels(server)))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _i: _get(_client(), f"{base}?token={TOKEN}"), range(8)))
    done.set()
    watcher.join(5)
    codes = sorted(code for code, _url, _body in answers)
    assert codes.count(200) <= 3 and codes.count(503) >= 5, codes
    assert all("all 3 seats are taken" in body for code, _url, body in answers if code == 503)
    assert all(TOKEN not in url for _code, url, _body in answers)  # L14: every page ends on a clean address
    assert 1 <= peak[0] <= 3 and len(_kernels(server)) <= 3, peak
    # None of those pages opened its websocket: their kernels go after unconnected_minutes (15 s).
    _wait(lambda: not _kernels(server), 120, "the never-connected kernels shut down")

    # L14: a client that keeps no cookies gets no kernel (and no endless redirect).
    code, _url, _body = _get(urllib.request.build_opener(), f"{base}?token={TOKEN}")
    assert not _kernels(server), code
    # L2: a made-up ticket is refused, never a place in line; L1: nothing secret in the log.
    opener = _client()
    assert _get(opener, f"{base}?token={TOKEN}")[0] in (200, 503)
    assert _get(opener, f"{base}tl-widgets-wait?ticket=madeUpTicket42")[0] == 404
    assert _get(_client(), f"{base}tl-widgets-wait?ticket=x&token={TOKEN}")[0] == 400
    wrong = "instructor-token-tried-here-0123"
    assert _get(_client(), f"{base}tl-widgets-wait?ticket=abcdefgh1234&token={wrong}")[0] == 403
    _get(_client(), f"{base}?token={wrong}")
    _wait(lambda: not _kernels(server), 120, "the last never-connected kernel shut down")

    student_ctx = chromium.new_context(viewport={"width": 1300, "height": 1000})
    teacher_ctx = chromium.new_context(viewport={"width": 1300, "height": 1000})
    page = student_ctx.new_page()
    try:
        # L14 in a browser: the token moves to a cookie; a tab opened without it is let in.
        page.goto(f"{base}?token={TOKEN}", timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=180_000)
        assert "token" not in page.url
        second = student_ctx.new_page()
        second.goto(base, timeout=120_000)
        second.wait_for_selector(".tlw-studio", timeout=180_000)
        third = student_ctx.new_page()
        third.goto(base, timeout=120_000)
        third.wait_for_selector(".tlw-studio", timeout=180_000)
        fourth = student_ctx.new_page()  # one more than the room has seats
        fourth.goto(base, timeout=120_000)
        fourth.wait_for_selector(".tlw-room-full-text", timeout=60_000)
        assert "all 3 seats are taken" in fourth.locator(".tlw-room-full-text").inner_text()
        fourth.screenshot(path=str(artifacts_dir / "room_full.png"), full_page=True)
        fourth.close()
        time.sleep(25)  # past unconnected_minutes: connected kernels stay
        assert len(_kernels(server)) == 3
        # H1: the instructor view shuts a seat down; the room's server ends its kernel.
        teacher = teacher_ctx.new_page()
        teacher.goto(instructor_url(server), timeout=120_000)
        # The three tabs are one student (one browser): one seat with three kernels.
        teacher.wait_for_function("(document.querySelector('.tlw-room-table') || {innerText: ''})"
                                  ".innerText.includes('Seats open: 1,')", timeout=180_000)
        teacher.locator(".tlw-room-shutdown").click()
        _wait(lambda: not _kernels(server), 60, "the instructor's shutdown to end the seat's three kernels")
        teacher.wait_for_function("document.querySelector('.tlw-room-table').innerText.includes('Seats open: 0,')",
                                  timeout=60_000)  # the shut seat is listed among the ended ones (with the culled)
        teacher.screenshot(path=str(artifacts_dir / "room_instructor_shutdown.png"), full_page=True)
    except Exception:
        snapshot(page, artifacts_dir / "room_security_failure.png")
        print(server.log_tail(6000))
        raise
    finally:
        student_ctx.close()
        teacher_ctx.close()
    printed = ("tl-widgets Studio (serve):", "Instructor view")  # the URLs serve prints for the operator, by design
    log = "\n".join(line for line in server.log_path.read_text(errors="replace").splitlines()
                    if not line.startswith(printed))
    assert TOKEN not in log and wrong not in log and "madeUpTicket42" not in log
    assert "token=[secret]" in log  # the requests were logged, scrubbed


def _zip_with_hostile_images() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, colour in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
            for i in range(4):
                img = io.BytesIO()
                Image.new("RGB", (24, 24), tuple(c + 9 * i for c in colour)).save(img, "PNG")
                zf.writestr(f"{label}/{i}.png", img.getvalue())
        zf.writestr("cats/photo.jpg", postscript_named_jpeg())
        zf.writestr("dogs/icon.png", ico_wrapping_png(3000, 3000))
    return buf.getvalue()


def _jpeg(width: int, height: int, seed: int, quality: int) -> bytes:
    buf = io.BytesIO()
    noise = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_attacks_from_a_page(chromium, free_port, start_server, artifacts_dir, tmp_path):
    gs_log = fake_ghostscript(tmp_path / "bin")
    server = _serve(start_server, free_port, tmp_path,
                    "max_epochs: 1000\nmax_batch_size: 16\nmax_seat_disk_mb: 5\nmax_logical_cpus: 1\n"
                    "max_trainings: 2\nmax_upload_mb: 1\n",
                    extra_env={"PATH": path_with(tmp_path / "bin") + os.pathsep + str(Path(sys.executable).parent)})
    context = chromium.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: console.append(msg.text))
    try:
        page.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=180_000)

        # M1/M2: an uploaded zip with PostScript named .jpg and an ICO wrapping a 9-megapixel PNG.
        page.locator(".tlw-source button", has_text="Upload zip").click()
        with page.expect_file_chooser() as chooser:
            page.locator("button.tlw-upload").click()
        chooser.value.set_files(files=[{"name": "photos.zip", "mimeType": "application/zip",
                                        "buffer": _zip_with_hostile_images()}])
        page.wait_for_function("(document.querySelector('.tlw-skipped') || {textContent: ''}).textContent"
                               ".includes('EPS format')", timeout=120_000)  # in a closed <details>: textContent
        skipped = page.locator(".tlw-skipped").text_content()
        assert "ICO format" in skipped and "photo.jpg" in skipped and "icon.png" in skipped, skipped
        assert not gs_log.exists(), gs_log.read_text()  # Ghostscript never ran
        page.screenshot(path=str(artifacts_dir / "room_hostile_upload.png"), full_page=True)

        # M3: webcam frames forged by a script on the page. First a class to record into (the page's own UI), once
        # TensorFlow has loaded (while it imports, it holds the kernel's interpreter for seconds at a time).
        page.wait_for_function(START_ENABLED_JS, timeout=240_000)
        page.locator(".jupyter-widget-Collapse-header", has_text="Capture from your webcam").first.click()
        page.locator(".tlw-capture-class-name input").wait_for(state="visible", timeout=30_000)
        page.locator(".tlw-capture-class-name input").fill("forged")
        page.locator("button.tlw-capture-add").click()
        page.wait_for_function("(document.querySelector('.tlw-capture-counts') || {innerText: ''}).innerText"
                               ".includes('forged')", timeout=30_000)
        seat = next((tmp_path / "home" / "seats").glob("seat-*"))
        frames = seat / "captures" / "webcam" / "forged"
        tiny = base64.b64encode(_jpeg(64, 48, 1, 80)).decode()
        big_bytes = _jpeg(1200, 900, 2, 95)
        assert 0.8 * 2**20 < len(big_bytes) < 2 * 2**20
        result = page.evaluate(PAGE_WIDGETS_JS, {"ops": [
            # A claimed hold of 500 frames, all in one burst, as fast as the socket goes.
            {"kind": "frames", "name": "flood", "claim": {"max_frames": 500, "fps": 15}, "count": 40,
             "burst0": 1, "sameBurst": True, "jpeg": tiny, "gapMs": 0},
        ]})
        assert (result["flood"]["maxFrames"], result["flood"]["fps"]) == (20, 5), result  # Python's values again
        flooded = len(list(frames.glob("*.jpg")))
        assert 1 <= flooded <= 10, (flooded, result)  # at most 10 a second, and at most the slider's 20 per hold
        time.sleep(1.5)
        result = page.evaluate(PAGE_WIDGETS_JS, {"ops": [
            # Big frames, each its own "hold" (a new burst id), slowly enough to pass the rate limit.
            {"kind": "frames", "name": "quota", "count": 8, "burst0": 100, "sameBurst": False,
             "jpeg": base64.b64encode(big_bytes).decode(), "gapMs": 250},
            # Plotly.js asked for again and again, under made-up view ids.
            {"kind": "plotly", "name": "plotly", "count": 30, "waitMs": 8000},
        ]})
        from tl_widgets.core.fileio import folder_bytes
        from tl_widgets.views.plotly_bundle import BUNDLE_BURST

        assert folder_bytes(seat) <= 5 * 2**20, folder_bytes(seat)  # one hold used to write 71.8 MiB against 5
        assert len(list(frames.glob("*.jpg"))) - flooded < 8
        page.wait_for_function("(document.querySelector('.tlw-capture-notice') || {innerText: ''}).innerText"
                               ".includes('disk quota')", timeout=30_000)
        assert result["plotly"]["charts"] >= 1 and result["plotly"]["answers"] <= BUNDLE_BURST, result

        # The rest in a fresh tab of the same student (the same seat, a new kernel): the page above ran the forged
        # widget messages and keeps their leftovers; a student's tab is not that page. The flood's frames go first
        # (as "Delete class" would): Start refuses a seat over its disk quota before it looks at the queue.
        shutil.rmtree(frames)
        page.close()
        page = context.new_page()
        page.goto(server.ready_url, timeout=120_000)  # no token: the cookie
        page.wait_for_selector(".tlw-studio", timeout=180_000)
        page.wait_for_function(START_ENABLED_JS, timeout=240_000)

        # L12: more logical CPUs than the room allows is refused at Start.
        page.locator("button.tlw-step-model").click()
        box = page.locator(".tlw-logical-cpus input").first
        box.fill("8")
        box.press("Enter")
        page.locator("button.tlw-start").click()
        page.wait_for_function(f"{RUN_NOTICE_JS}.includes('logical_cpus (workshop limit)')", timeout=30_000)
        box.fill("0")
        box.press("Enter")

        # L12: a second tab of the same browser is the same student: one place in the queue.
        page.locator("button.tlw-step-data").click()
        page.locator(".tlw-source").get_by_text("Demo", exact=True).first.click()
        page.locator("button.tlw-step-train").click()
        epochs = page.locator(".tlw-epochs input").first
        epochs.fill("1000")
        epochs.press("Enter")
        page.locator("button.tlw-start").click()
        page.wait_for_function(f"{STATUS_JS}.trim() === 'running'", timeout=60_000)
        tab = context.new_page()
        tab.goto(server.ready_url, timeout=120_000)  # no token: the cookie
        tab.wait_for_selector(".tlw-studio", timeout=180_000)
        tab.wait_for_function(START_ENABLED_JS, timeout=240_000)
        tab.locator("button.tlw-start").click()
        try:
            tab.wait_for_function(f"{RUN_NOTICE_JS}.includes('one training at a time per student')", timeout=60_000)
        except PlaywrightTimeout:
            raise AssertionError(f"Expected the second tab refused. Received: status {tab.evaluate(STATUS_JS)!r}, "
                                 f"notice {tab.evaluate(RUN_NOTICE_JS)!r}") from None
        assert tab.evaluate(STATUS_JS).strip() != "running"
        tab.screenshot(path=str(artifacts_dir / "room_second_tab_refused.png"), full_page=True)
        page.locator("button.tlw-stop").click()
        page.wait_for_function(f"{STATUS_JS}.trim() === 'stopped'", timeout=120_000)
    except Exception:
        snapshot(page, artifacts_dir / "room_attacks_failure.png")
        print(server.log_tail(6000))
        print("\n".join(console[-40:]))
        raise
    finally:
        context.close()
    assert not gs_log.exists()
    assert not errors, errors
