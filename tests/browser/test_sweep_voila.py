"""The Studio's sweep in a real Voilà, driven by Chromium: 8 trials of the demo, then "Use best" into the panels."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
SWEEP_STATUS_JS = "((document.querySelector('.tlw-sweep-status') || {}).innerText || '')"
SWEEP_NOTICE_JS = "((document.querySelector('.tlw-sweep .tlw-message') || {}).innerText || '')"
ROWS_JS = ("Array.from(document.querySelectorAll('.tlw-sweep-table tr.tlw-sweep-trial'))"
           ".map(tr => Array.from(tr.cells).map(td => td.innerText))")
HEADER_JS = "Array.from(document.querySelectorAll('.tlw-sweep-table tr:first-child th')).map(th => th.innerText)"
HISTORY_POINTS_JS = ("(() => { const gd = document.querySelector('.tlw-sweep .js-plotly-plot');"
                     " return gd && gd.data ? gd.data.reduce((n, t) => n + ((t.x || []).length), 0) : 0; })()")


def test_sweep_of_eight_trials_in_voila_and_use_best(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "2",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="sweep-voila")
    page = chromium.new_page(viewport={"width": 1300, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=120_000)
        page.wait_for_function("!document.querySelector('button.tlw-start').disabled", timeout=180_000)  # TF loaded
        page.locator("button.tlw-step-train").click()
        page.locator(".tlw-studio").get_by_text("Hyperparameter sweep (Optuna)").first.click()
        page.wait_for_selector(".tlw-sweep-start", state="visible", timeout=30_000)
        trials = page.locator(".tlw-sweep-trials input").first
        trials.fill("8")
        trials.press("Enter")
        page.screenshot(path=str(artifacts_dir / "sweep_ready.png"), full_page=True)
        page.locator("button.tlw-sweep-start").click()
        page.wait_for_function(f"{SWEEP_STATUS_JS}.includes('done: 8 trials')", timeout=420_000)
        page.wait_for_function(f"{HISTORY_POINTS_JS} > 0", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "sweep_done.png"), full_page=True)
        rows = page.evaluate(ROWS_JS)
        header = page.evaluate(HEADER_JS)
        assert [int(r[0]) for r in rows] == list(range(8)), rows
        assert {r[1] for r in rows} <= {"complete", "pruned"}
        complete = [r for r in rows if r[1] == "complete"]
        best = max(complete, key=lambda r: float(r[2]))
        best_lr = float(best[header.index("phases[0].learning_rate")])

        page.locator("button.tlw-sweep-best").click()
        page.wait_for_function(f"{SWEEP_NOTICE_JS}.includes('best trial')", timeout=30_000)
        shown = float(page.locator(".tlw-lr input").first.input_value())
        assert shown == pytest.approx(best_lr, rel=1e-3)
        page.screenshot(path=str(artifacts_dir / "sweep_use_best.png"), full_page=True)
        assert errors == []
    finally:
        page.close()
