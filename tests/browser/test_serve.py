"""``tl-widgets serve --workshop FILE`` in Chromium: the token is required (and never on the command line),
the Host header is checked, sources are stripped, values above the workshop's limits typed into the page are
refused in Python with a message, and two browsers get two private seats: each sees only its own runs, and with
one training slot the second Start waits in the room's queue ("queued: 1 ahead of you"; Stop takes it out of
line) until the first ends. With one page prepared at a time, a page arriving meanwhile shows "Waiting for a seat,
1 ahead." and then opens the Studio by itself."""

from __future__ import annotations

import os
import stat
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.studio_page import StudioPage
from tests.browser.room_server import SERVE, instructor_url

TOKEN = "workshop-test-token-42"


def test_serve_with_workshop(chromium, free_port, start_server, artifacts_dir, tmp_path):
    (tmp_path / "data").mkdir()
    workshop = tmp_path / "workshop.yaml"
    workshop.write_text("name: Browser class\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\n"
                        "max_epochs: 1000\nmax_batch_size: 16\nmax_upload_mb: 1\nmax_trainings: 1\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20", "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                              f"{os.environ.get('PATH', '')}"}
    server = start_server([*SERVE, "--workshop", str(workshop), "--port", str(port),
                           "--token", TOKEN, "--no-browser", "--max-starting", "1"],
                          ready_url=f"http://127.0.0.1:{port}/", env=env, cwd=tmp_path, name="serve")
    # The token is never on a command line (`ps` shows those to every user).
    import psutil

    cmdlines = [" ".join(p.cmdline()) for p in psutil.Process(server.proc.pid).children(recursive=True)]
    assert cmdlines and not any(TOKEN in c for c in cmdlines)
    # A page of another site that makes the browser call 127.0.0.1 under its own name (DNS rebinding): refused.
    forged = urllib.request.Request(f"{server.ready_url}?token={TOKEN}", headers={"Host": f"evil.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 403
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    other = chromium.new_context(viewport={"width": 1300, "height": 1000})
    page_b = other.new_page()
    a, b = StudioPage(page), StudioPage(page_b)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page_b.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # 1. No token: the login page, never the Studio.
        page.goto(server.ready_url, timeout=60_000)
        assert "/login" in page.url and not a.shown()

        # 2. With the token: the Studio with the workshop banner; the notebook's code is not in the page.
        #    One page is prepared at a time (--max-starting 1): B, arriving while A's is, gets the live
        #    "waiting for a seat, 1 ahead" page (its poll endpoint refuses a request without the token),
        #    then moves on to the Studio by itself.
        page.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000, wait_until="commit")
        page_b.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000)
        page_b.wait_for_selector(".tlw-waiting-text", timeout=30_000)
        assert "Waiting for a seat, 1 ahead." in page_b.locator(".tlw-waiting-text").inner_text()
        page_b.screenshot(path=str(artifacts_dir / "serve_waiting.png"), full_page=True)
        with pytest.raises(urllib.error.HTTPError) as no_token:
            urllib.request.urlopen(f"{server.ready_url}tl-widgets-wait?ticket=abcdefgh1234", timeout=30)
        assert no_token.value.code == 403
        a.wait_open(timeout=120_000)
        assert "Browser class" in a.text("workshop")
        assert "Studio(config" not in page.content()

        # 3. Typed values above the workshop's limits: refused in Python, with the reason, and reset.
        a.click_step("train")
        a.fill("epochs", 5000, settle_ms=0)
        notice = a.wait_text("run", contains="Received: epochs=5000")
        assert "Expected epochs between 0 and 1000" in notice
        a.wait_field_value("epochs", "1")
        a.click_step("data")
        a.fill("batch_size", 64, settle_ms=0)
        a.wait_text("data", contains="Received: batch_size=64")
        page.screenshot(path=str(artifacts_dir / "serve_refused.png"), full_page=True)

        # 4. A second browser gets its own seat. One training slot: its Start waits in line until A's ends.
        b.wait_open(timeout=180_000)
        assert "seat_ticket=" in page_b.url
        # 4a. The instructor view: its own URL and token; a student's token does not open it.
        teacher_url = instructor_url(server)
        assert TOKEN not in teacher_url
        teacher = other.new_page()
        teacher.goto(teacher_url.split("?")[0] + f"?token={TOKEN}", timeout=60_000)
        assert "/login" in teacher.url and teacher.locator(".tlw-room-panel").count() == 0
        teacher.goto(teacher_url, timeout=120_000)
        teacher.wait_for_function("(document.querySelector('.tlw-room-table') || {innerText: ''})"
                                  ".innerText.includes('Seats open: 2,')", timeout=180_000)
        a.click_step("train")
        # A long run (stopped below): seat B must find the slot taken for as long as the checks take, however
        # fast training is (the demo head trains on cached features in a blink).
        a.fill("epochs", 1000, settle_ms=0)
        a.wait_start_enabled()  # TensorFlow loaded
        a.button("start").click()
        a.wait_status("running")
        b.click_step("train")
        b.wait_start_enabled()
        b.button("start").click()
        b.wait_text("progress", contains="queued: 1 ahead of you", timeout=60_000)
        b.wait_status("queued", timeout=30_000)
        teacher.wait_for_function("document.querySelector('.tlw-room-table').innerText.includes('queued (#1 in line)')",
                                  timeout=30_000)
        teacher.screenshot(path=str(artifacts_dir / "serve_instructor.png"), full_page=True)
        page_b.screenshot(path=str(artifacts_dir / "serve_queued.png"), full_page=True)
        # 4b. Stop while queued: B leaves the line (the instructor view no longer lists it), then starts again.
        b.stop()
        b.wait_status("stopped", timeout=30_000)
        teacher.wait_for_function("!document.querySelector('.tlw-room-table').innerText.includes('queued (#')",
                                  timeout=30_000)
        b.button("start").click()
        b.wait_status("queued", timeout=30_000)
        a.stop()  # A gives the slot back: B trains
        a.wait_status("stopped")
        b.wait_status("finished", timeout=240_000)

        # 5. Each seat's Runs tab lists only its own run; each seat is a private folder.
        ids = []
        for seat in (a, b):
            seat.click_step("runs")
            seat.wait_run_option()
            ids.append(seat.run_ids())
        assert len(ids[0]) == 1 and ids[1] and not set(ids[0]) & set(ids[1]), ids  # B: its stopped run too
        page_b.screenshot(path=str(artifacts_dir / "serve_seat_runs.png"), full_page=True)
        seats = sorted((tmp_path / "home" / "seats").glob("seat-*"))
        assert len(seats) >= 2 and all(stat.S_IMODE(s.stat().st_mode) == 0o700 for s in seats)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "serve_failure.png"), full_page=True)
        page_b.screenshot(path=str(artifacts_dir / "serve_failure_b.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
        other.close()
    assert not errors, errors
