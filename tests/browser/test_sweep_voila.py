"""The Studio's sweep in a real Voilà, driven by Chromium: 8 trials of the demo, then "Use best" into the panels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.studio_page import StudioPage

pytest.importorskip("optuna")
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"


def test_sweep_of_eight_trials_in_voila_and_use_best(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "2",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="sweep-voila")
    page = chromium.new_page(viewport={"width": 1300, "height": 1100})
    studio = StudioPage(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        studio.open(server.ready_url)
        studio.wait_start_enabled()  # TF loaded
        studio.click_step("train")
        studio.open_section("Hyperparameter sweep (Optuna)")
        studio.wait_part("sweep_start", state="visible")
        studio.fill("sweep_trials", 8, settle_ms=0)
        page.screenshot(path=str(artifacts_dir / "sweep_ready.png"), full_page=True)
        studio.button("sweep_start").click()
        studio.wait_text("sweep_status", contains="done: 8 trials", timeout=420_000)
        studio.wait_points("sweep", first=True)
        page.screenshot(path=str(artifacts_dir / "sweep_done.png"), full_page=True)
        header, rows = studio.sweep_table()
        assert [int(r[0]) for r in rows] == list(range(8)), rows
        assert {r[1] for r in rows} <= {"complete", "pruned"}
        complete = [r for r in rows if r[1] == "complete"]
        best = max(complete, key=lambda r: float(r[2]))
        best_lr = float(best[header.index("phases[0].learning_rate")])

        studio.button("sweep_best").click()
        studio.wait_text("sweep", contains="best trial")
        shown = float(studio.field_value("learning_rate"))
        assert shown == pytest.approx(best_lr, rel=1e-3)
        page.screenshot(path=str(artifacts_dir / "sweep_use_best.png"), full_page=True)
        assert errors == []
    finally:
        page.close()
