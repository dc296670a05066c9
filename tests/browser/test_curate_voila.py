"""The fix-the-data loop in a real Voilà, driven by Chromium.

Train the demo -> evaluate -> click an off-diagonal confusion cell (a real Plotly click on the heatmap)
-> relabel one image and exclude another in the grid -> Retrain with fixes -> the Runs tab lists the
child run ("retrained from <parent>") and, picked, its per-class before/after. Screenshots go to
``test-artifacts/curate-*.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.browser.studio_page import StudioPage

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"


def test_fix_the_data_loop_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "30"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="curate-voila", args=["--show_tracebacks=True"])
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    studio = StudioPage(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        studio.open(server.ready_url)
        studio.wait_start_enabled()
        studio.button("start").click()  # the run bar, from the first step
        studio.wait_status("finished", timeout=180_000)

        studio.click_step("evaluate")  # entering Evaluate evaluates the last run
        studio.wait_text("evaluate", regex=r"Evaluated \d+ validation images", timeout=120_000)
        cell = studio.click_confusion_cell()  # the one-epoch demo run makes mistakes: the fullest off-diagonal cell

        # The grid opens on that cell: labelled <true>, predicted <predicted>.
        studio.wait_curate_cards()
        studio.wait_text("curate_status", startswith=f"{int(cell['n'])} images", timeout=60_000)
        chosen = studio.selected_text("curate_filter")
        assert chosen.startswith(f"labelled {cell['true']}, predicted {cell['predicted']}"), chosen
        visible = studio.curate_cards()
        assert len(visible) >= 1
        page.screenshot(path=str(artifacts_dir / "curate-grid.png"), full_page=True)

        # Relabel the first image to the predicted class; exclude a second one (from "all wrong" if the
        # cell holds a single image).
        first = visible[0]
        first_key = studio.card_key(first)
        first.locator("select").select_option(label=f"relabel → {cell['predicted']}")
        studio.wait_text("curate", regex="saved; 1 decisions")
        if len(visible) < 2:
            studio.select("curate_filter").select_option(value="wrong")
            page.wait_for_timeout(500)
            visible = studio.curate_cards()
        second = next(c for c in visible if studio.card_key(c) != first_key)
        second_key = studio.card_key(second)
        second.locator("select").select_option(label="exclude")
        studio.wait_text("curate", regex="saved; 2 decisions")
        lines = [json.loads(x) for x in
                 (tmp_path / "home" / "curation" / "demo-digits.jsonl").read_text().splitlines()]
        assert [(d["key"], d["action"], d.get("label")) for d in lines] == [
            (first_key, "relabel", cell["predicted"]), (second_key, "exclude", None)]

        # Grad-CAM on demand for the relabelled image.
        studio.card_gradcam(first)
        studio.wait_text("curate", regex="Grad-CAM of", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "curate-decided.png"), full_page=True)

        # Retrain with fixes: a child run on the Train step, then listed under Runs with its parent.
        before = studio.text("run")
        studio.button("retrain").click()
        studio.wait_text("run", differs=before, regex="started", timeout=60_000)
        studio.wait_status("finished", timeout=180_000)
        studio.click_step("runs")
        studio.wait_run_option("retrained from")
        texts = studio.run_options()
        child = [t for t in texts if "retrained from" in t]
        assert len(child) == 1 and "[finished]" in child[0], texts
        parent_id = re.search(r"retrained from (\S+)", child[0]).group(1)
        assert any(t.startswith(parent_id) for t in texts), texts
        # Picking the child in the Runs list shows per-class numbers before (parent) and after (child).
        studio.pick_run("retrained from")
        studio.wait_part("runs_before_after", timeout=120_000)
        runs_table = studio.part("runs_before_after").inner_text()
        assert parent_id in runs_table and "F1 before" in runs_table, runs_table
        page.screenshot(path=str(artifacts_dir / "curate-runs.png"), full_page=True)

        # Evaluating the child shows per-class numbers before (parent) and after (child).
        studio.click_step("evaluate")  # the child is the last run: evaluated on entry
        studio.wait_part("before_after", timeout=120_000)
        table = studio.part("before_after").inner_text()
        assert parent_id in table and "F1 before" in table, table
        page.screenshot(path=str(artifacts_dir / "curate-before-after.png"), full_page=False)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "curate-failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
