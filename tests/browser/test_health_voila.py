"""Issue #27 in a real Voilà, driven by Chromium: the health check's blurry finding, fixed in the grid, retrained.

Upload a zip of a dirty folder -> check its health (the decode pass is cached) -> train a run (it records the
data's health in health.json) -> open the blurry finding in the fix-the-data grid -> page through it -> exclude
images on both pages -> Retrain with fixes from the grid -> the Runs step shows the child run with fewer blurry
images than its parent. Screenshots go to ``test-artifacts/health-*.png``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

from tests.browser.studio_page import StudioPage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from health_data import add_blurred, make_dirty_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"


def test_blurry_finding_fixed_and_retrained_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    root = tmp_path / "dirty" / "shapes"
    make_dirty_folder(root, per_class=30, each=4)
    extra = add_blurred(root, 14)  # 18 blurred images: more than one page of the grid
    zip_path = shutil.make_archive(str(tmp_path / "shapes"), "zip", root.parent, "shapes")
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="health-voila", args=["--show_tracebacks=True"])
    page = chromium.new_page(viewport={"width": 1300, "height": 1100})
    studio = StudioPage(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        studio.open(server.ready_url)
        studio.wait_start_enabled()
        studio.upload_zip(zip_path)
        studio.wait_text("data", contains="Uploaded", timeout=60_000)

        # Check: the findings list blurry images; the decode pass is cached for the runs to come.
        studio.open_section("Data health check")
        studio.button("health_check").click()
        studio.wait_text("health", regex=r"Checked \d+ images: \d+ findings", timeout=180_000)
        assert "blurry" in studio.text("health_findings")

        # A run on the checked data records their health.
        studio.start_run()
        studio.wait_status("finished", timeout=180_000)
        studio.show("data")

        # The blurry finding opens the grid on all its images, worst first, page by page.
        studio.review_finding("blurry")
        studio.wait_curate_cards()
        studio.wait_text("curate_page", regex=r"page 1 of [2-9]", timeout=60_000)
        first_page = [studio.card_key(c) for c in studio.curate_cards()]
        assert len(first_page) == 12 and "worst sharpness first" in studio.text("curate_status")
        page.screenshot(path=str(artifacts_dir / "health-grid.png"), full_page=True)
        first = studio.curate_cards()[0]
        first.locator("select").select_option(label="exclude")
        studio.wait_text("curate", regex="saved; 1 decisions")
        studio.button("curate_next").click()
        studio.wait_text("curate_page", regex=r"page 2 of", timeout=30_000)
        second_page = [studio.card_key(c) for c in studio.curate_cards()]
        assert second_page and not set(second_page) & set(first_page), (first_page, second_page)
        studio.curate_cards()[0].locator("select").select_option(label="exclude")
        studio.wait_text("curate", regex="saved; 2 decisions")
        excluded = [first_page[0], second_page[0]]
        lines = [json.loads(x) for x in next((tmp_path / "home" / "curation").glob("*.jsonl")).read_text().splitlines()]
        assert [(d["key"], d["action"]) for d in lines] == [(k, "exclude") for k in excluded]
        assert set(excluded) & set(extra) or all("blur" in k for k in excluded), excluded

        # Retrain with fixes from the grid: a child run of the last run, with the decisions applied.
        before = studio.text("run")
        studio.retrain_from_health()
        studio.wait_text("run", differs=before, regex="started", timeout=60_000)
        studio.wait_status("finished", timeout=180_000)

        # The Runs step: the child, picked, shows its data health beside its parent's: two blurry images fewer.
        studio.click_step("runs")
        studio.wait_run_option("retrained from")
        child = next(t for t in studio.run_options() if "retrained from" in t)
        parent_id = re.search(r"retrained from (\S+)", child).group(1)
        studio.wait_part("runs_health", timeout=60_000)  # the newest runs are picked: parent and child
        studio.wait_text("runs_health", contains=parent_id, timeout=30_000)
        counts = studio.health_counts()
        parent_blurry, child_blurry = (int(v) for v in counts["blurry"])  # oldest first
        assert parent_blurry - child_blurry == 2, counts
        page.screenshot(path=str(artifacts_dir / "health-runs.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "health-failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
