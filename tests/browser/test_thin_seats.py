"""Thin seats on a warm engine: ``tl-widgets serve --workshop`` with its engine workers, two seats in Chromium at
once, each through the whole path a student takes — upload (or the demo), the health check, train, evaluate, Try
it, export — and then ``/proc/<pid>/maps`` of every seat's kernel: no TensorFlow, JAX, scikit-learn or Keras'
compiled helpers mapped, while the workers' maps show TensorFlow (so the check can see it when it is there)."""

from __future__ import annotations

import io
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.browser.studio_page import StudioPage
from tests.browser.room_server import SERVE


TOKEN = "thin-seats-test-token-42"
# Shared objects a kernel that imported them would have mapped (Keras itself is pure Python: its compiled
# dependencies optree and ml_dtypes, and its backends, give it away).
HEAVY = re.compile(r"tensorflow|/jaxlib/|/jax/|sklearn|scikit_learn|/ml_dtypes/|/optree/")


def _zip(path: Path, seed: int) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, name in enumerate(("dark", "light")):
            for i in range(10):
                img = (rng.random((32, 32, 3)) * 60 + (30 if k == 0 else 170)).astype("uint8")
                out = io.BytesIO()
                Image.fromarray(img).save(out, "PNG")
                zf.writestr(f"shades/{name}/{i}.png", out.getvalue())
    path.write_bytes(buf.getvalue())
    return path


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 200, 200)).save(path)
    return path


def _processes(root_pid: int) -> tuple[list[int], list[int]]:
    """The serve process tree's kernels and engine workers (found through the parent chain, as FACTS.md says)."""
    import psutil

    kernels, workers = [], []
    for proc in psutil.Process(root_pid).children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "ipykernel" in cmd:
            kernels.append(proc.pid)
        elif "tl_widgets.core.engine.worker" in cmd:
            workers.append(proc.pid)
    return kernels, workers


def _heavy_maps(pid: int) -> set[str]:
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and HEAVY.search(parts[5]):
            found.add(parts[5])
    return found


def test_two_seats_take_the_whole_path_with_tensorflow_only_in_the_workers(chromium, free_port, start_server,
                                                                            artifacts_dir, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "workshop.yaml").write_text(
        "name: Thin seats\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\nmax_epochs: 5\nmax_batch_size: 32\n"
        "max_upload_mb: 1\nmax_trainings: 2\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = start_server([*SERVE, "--workshop", str(tmp_path / "workshop.yaml"),
                           "--port", str(port), "--token", TOKEN, "--no-browser", "--max-starting", "2"],
                          ready_url=f"http://127.0.0.1:{port}/", env=env, cwd=tmp_path, name="thin-serve", timeout=600)
    zipped = _zip(tmp_path / "shades.zip", 0)
    photo = _png(tmp_path / "grey.png")
    pages = [chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page() for _ in range(2)]
    errors: list[str] = []
    for page in pages:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000, wait_until="commit")
    a, b = (StudioPage(p) for p in pages)
    try:
        for studio in (a, b):
            studio.wait_open(timeout=300_000)
            studio.wait_start_enabled(timeout=300_000)  # the engine answered the backbone's facts: no TensorFlow here

        # Seat A uploads its own zip and checks its health; seat B keeps the demo.
        a.upload_zip(str(zipped))
        a.wait_text("data_summary", contains="20 images", timeout=120_000)
        a.open_section("Data health check")
        a.locator("button.tlw-health-run").first.click()
        a.page.wait_for_function("(document.querySelector('.tlw-health .tlw-message') || {innerText: ''})"
                                 ".innerText.includes('Checked 20 images')", timeout=300_000)

        # Both train at once (two training slots, two warm workers).
        for studio in (a, b):
            studio.show("train")
            studio.start_run()
        for studio in (a, b):
            assert studio.wait_status(("finished", "failed"), timeout=600_000) == "finished", studio.notices()
            studio.wait_points("loss", more_than=0)

        # Evaluate, Try it and export, in each seat.
        for studio in (a, b):
            studio.show("evaluate")
            studio.wait_heatmap("confusion", timeout=300_000)
            studio.show("try")
            studio.try_upload(str(photo))
            studio.wait_try_cards(1, timeout=300_000)
        a.select("export_format").select_option("tflite")
        a.button("export").click()
        notice = a.wait_text("export", regex="tflite: ", timeout=300_000)
        assert "verified against Keras" in notice, notice
        cells = a.export_row("tflite")
        assert cells[6] == "ok" and Path(cells[7]).is_file(), cells  # written by a worker, in seat A's folder
    finally:
        for name, page in zip("ab", pages):
            page.screenshot(path=str(artifacts_dir / f"thin_seat_{name}.png"), full_page=True)
            (artifacts_dir / f"thin_seat_{name}.txt").write_text(StudioPage(page).notices())

    kernels, workers = _processes(server.proc.pid)
    assert len(kernels) >= 2 and workers, (kernels, workers)
    for pid in kernels:
        assert _heavy_maps(pid) == set(), f"a seat's kernel (pid {pid}) mapped {sorted(_heavy_maps(pid))[:5]}"
    assert any("tensorflow" in path for pid in workers for path in _heavy_maps(pid))  # the check sees TF where it is
    # each seat sees only its own run
    for studio in (a, b):
        studio.show("runs")
        studio.wait_run_option(timeout=60_000)
        assert len(studio.run_options()) == 1
    # Take it home: seat A's work as one zip, saved by the browser, opened by a one-person Studio in another home
    # (`tl-widgets studio --open WORK.zip`), where the run is listed and Try it uses its model.
    a.show("runs")
    saved = tmp_path / "work.zip"
    assert a.download_work(str(saved)) == "tl-widgets-work.zip"
    _take_it_home(saved, chromium, start_server, free_port, tmp_path, photo)

    # A reload is the same student: the seat is rejoined (its run is still listed, no new seat); a new browser
    # gets a seat of its own.
    seats_before = sorted(p.name for p in (tmp_path / "home" / "seats").glob("seat-*"))
    pages[0].reload(timeout=120_000)
    a.wait_open(timeout=300_000)
    a.wait_text("studio", contains="Welcome back", timeout=120_000)
    a.show("runs")
    a.wait_run_option(timeout=60_000)
    assert len(a.run_options()) == 1
    assert sorted(p.name for p in (tmp_path / "home" / "seats").glob("seat-*")) == seats_before
    fresh = chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    fresh.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000)
    c = StudioPage(fresh)
    c.wait_open(timeout=300_000)
    assert "Welcome back" not in c.notices()
    assert len(list((tmp_path / "home" / "seats").glob("seat-*"))) == len(seats_before) + 1
    assert not errors, errors


def _take_it_home(saved: Path, chromium, start_server, free_port, tmp_path: Path, photo: Path) -> None:
    import zipfile

    with zipfile.ZipFile(saved) as zf:
        names = zf.namelist()
    run_files = [n for n in names if n.startswith("runs/") and n.endswith("/model.keras")]
    assert "tl_widgets_work.json" in names and len(run_files) == 1
    run_id = run_files[0].split("/")[1]
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "at-home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("TL_WIDGETS_SEATS", None)
    server = start_server([sys.executable, "-m", "tl_widgets", "studio", "--open", str(saved), "--port", str(port),
                           "--no-browser", "--no-token"], ready_url=f"http://127.0.0.1:{port}/tl-widgets-ready",
                          env=env, cwd=tmp_path, name="studio-open", timeout=300)
    assert "Opened 1 run(s)" in server.log_tail(20_000)
    page = chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
    home = StudioPage(page)
    home.wait_open(timeout=300_000)
    home.wait_start_enabled(timeout=300_000)
    home.show("runs")
    home.wait_run_option(contains=run_id, timeout=60_000)
    home.show("try")
    home.try_upload(str(photo))
    home.wait_try_cards(1, timeout=300_000)
    assert run_id in home.text("try_results") or home.try_cards() == 1
    page.close()
