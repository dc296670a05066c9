"""The instructor board (#26) against a real ``tl-widgets serve --workshop``: three named students train at once on
the room's warm workers; the board shows each as training; one heavy worker is killed and exactly that student's
card says it failed and why (the others train on); the board stops the other two runs; a one-line message reaches
every seat; the instructor's own Studio sets the epochs and "Send my Studio's config to the room" puts them in
every seat's panels; the results come down as a CSV the browser saves."""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import pytest

from tests.browser.room_server import SERVE, instructor_url
from tests.browser.studio_page import StudioPage

pytestmark = pytest.mark.browser

TOKEN = "board-test-token-26"
NAMES = ("Ada", "Grace", "Alan")
CARDS_JS = """(kind) => [...document.querySelectorAll('.tlw-room-badges .tlw-seat-card')]
  .filter((c) => !kind || c.classList.contains('tlw-seat-' + kind)).map((c) => c.innerText)"""


def _busiest_worker(root_pid: int) -> int:
    """The engine worker using the most CPU over two seconds (a training one: the quick lane idles)."""
    import psutil

    workers = [p for p in psutil.Process(root_pid).children(recursive=True)
               if "tl_widgets.core.engine.worker" in " ".join(p.cmdline())]
    before = {p.pid: sum(p.cpu_times()[:2]) for p in workers}
    time.sleep(2)
    used = {p.pid: sum(p.cpu_times()[:2]) - before[p.pid] for p in workers if p.is_running()}
    return max(used, key=used.get)


def test_the_board_follows_stops_messages_and_configures_a_room(chromium, free_port, start_server, artifacts_dir,
                                                                  tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "workshop.yaml").write_text(
        "name: Board\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\nmax_epochs: 400\nmax_batch_size: 32\n"
        "max_trainings: 3\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "400",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = start_server([*SERVE, "--workshop", str(tmp_path / "workshop.yaml"), "--port", str(port),
                           "--token", TOKEN, "--no-browser", "--max-starting", "3"],
                          ready_url=f"http://127.0.0.1:{port}/", env=env, cwd=tmp_path, name="board-serve", timeout=600)
    pages = [chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page() for _ in NAMES]
    errors: list[str] = []
    for page in pages:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000, wait_until="commit")
    students = [StudioPage(p) for p in pages]
    teacher = chromium.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True).new_page()
    teacher.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        for name, studio in zip(NAMES, students):
            studio.wait_open(timeout=300_000)
            studio.locator(".tlw-seat-name input").fill(name)
            studio.locator(".tlw-seat-name-save").click()
            studio.page.wait_for_function("(n) => (document.querySelector('.tlw-seat-name-said') || {innerText: ''})"
                                          ".innerText.includes(n)", arg=f"Hello, {name}!", timeout=60_000)
            studio.wait_start_enabled(timeout=300_000)
            studio.show("train")
            studio.start_run()

        teacher.goto(instructor_url(server), timeout=120_000)
        teacher.wait_for_function(f"({CARDS_JS})('training').length === 3", timeout=300_000)
        cards = " ".join(teacher.evaluate(CARDS_JS, None))
        assert all(name in cards for name in NAMES), cards
        teacher.wait_for_function("document.querySelectorAll('.tlw-room-curves .scatterlayer .trace').length >= 1",
                                  timeout=300_000)  # the per-seat curves once an epoch has ended
        teacher.screenshot(path=str(artifacts_dir / "board_training.png"), full_page=True)

        # A worker dies: its student's run fails with the reason, the board says so, the other two go on.
        os.kill(_busiest_worker(server.proc.pid), 9)
        teacher.wait_for_function(f"({CARDS_JS})('failed').length === 1", timeout=120_000)
        failed = teacher.evaluate(CARDS_JS, "failed")[0]
        assert "engine worker stopped" in failed, failed
        victim = next(i for i, name in enumerate(NAMES) if name in failed)
        students[victim].wait_text("status", contains="engine worker stopped", timeout=60_000)  # "failed: <why>"
        assert len(teacher.evaluate(CARDS_JS, "training")) == 2

        # The board stops the other two runs.
        for i, name in enumerate(NAMES):
            if i == victim:
                continue
            picker = teacher.locator(".tlw-room-seat select")
            label = next(o for o in picker.locator("option").all_inner_texts() if o.startswith(name))
            picker.select_option(label=label)
            teacher.locator(".tlw-room-stop").click()
            assert students[i].wait_status(("stopped", "finished"), timeout=120_000) == "stopped"
        teacher.wait_for_function(f"({CARDS_JS})('training').length === 0", timeout=60_000)

        # One line to every seat.
        teacher.locator(".tlw-room-message input").fill("Look at the projector, please")
        teacher.locator(".tlw-room-say").click()
        for studio in students:
            studio.page.wait_for_function("(document.querySelector('.tlw-broadcast') || {innerText: ''}).innerText"
                                          ".includes('Look at the projector, please')", timeout=60_000)
            assert "From your teacher:" in studio.page.locator(".tlw-broadcast").inner_text()

        # The instructor's Studio sets 7 epochs; the room gets them.
        teacher.locator(".jupyter-widget-Collapse-header:has-text('Your Studio')").first.click()
        own = StudioPage(teacher)
        own.wait_open(timeout=300_000)
        own.show("train")
        own.fill("epochs", 7)
        teacher.locator(".tlw-room-send").click()
        for studio in students:
            studio.page.wait_for_function(
                "[...document.querySelectorAll('.tlw-message')].some((e) => e.innerText.includes("
                "'The instructor sent a config'))", timeout=60_000)
            studio.wait_field_value("epochs", "7", timeout=60_000)

        # The results as CSV, saved by the browser: one row per student, the failed one with its reason.
        with teacher.expect_download(timeout=60_000) as got:
            teacher.locator(".tlw-room-csv").click()
        saved = tmp_path / "room.csv"
        got.value.save_as(saved)
        rows = list(csv.DictReader(saved.open(encoding="utf-8")))
        assert sorted(r["name"] for r in rows) == sorted(NAMES), rows
        assert sorted(r["status"] for r in rows) == ["failed", "stopped", "stopped"], rows
        assert "engine worker stopped" in next(r["error"] for r in rows if r["status"] == "failed"), rows
    finally:
        teacher.screenshot(path=str(artifacts_dir / "board_after.png"), full_page=True)
        for name, studio in zip(NAMES, students):
            studio.page.screenshot(path=str(artifacts_dir / f"board_seat_{name}.png"), full_page=True)
    assert not errors, errors
