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

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"
EVAL_NOTICE_JS = "((document.querySelector('.tlw-evaluate .tlw-message') || {}).innerText || '')"
# Page coordinates of the fullest off-diagonal cell of the confusion heatmap, from Plotly's own axes.
CELL_JS = """(() => {
  const gd = document.querySelector('.tlw-confusion .tlw-plotly-chart.js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd.data || !gd.data[0]) return null;
  const t = gd.data[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const z = Array.from(t.customdata || t.z).map(r => Array.from(r));
  let best = null;
  z.forEach((row, i) => row.forEach((v, j) => {
    if (i !== j && v > 0 && (!best || v > best.n)) best = {i, j, n: v};
  }));
  if (!best) return {none: true};
  const box = gd.getBoundingClientRect();
  return {n: best.n, true: t.y[best.i], predicted: t.x[best.j],
          px: box.left + xa._offset + xa.d2p(t.x[best.j]), py: box.top + ya._offset + ya.d2p(t.y[best.i])};
})()"""


def test_fix_the_data_loop_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "30"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="curate-voila", args=["--show_tracebacks=True"])
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=120_000)
        page.wait_for_function("!document.querySelector('button.tlw-start').disabled", timeout=180_000)
        page.locator("button.tlw-start").click()  # the run bar, from the first step
        page.wait_for_function(f"{STATUS_JS} === 'finished'", timeout=180_000)

        page.locator("button.tlw-step-evaluate").click()  # entering Evaluate evaluates the last run
        page.wait_for_function(f"/Evaluated \\d+ validation images/.test({EVAL_NOTICE_JS})", timeout=120_000)
        page.wait_for_function(f"{CELL_JS} !== null", timeout=60_000)
        cell = page.evaluate(CELL_JS)
        assert not cell.get("none"), "the one-epoch demo run should make mistakes"
        page.locator(".tlw-confusion").scroll_into_view_if_needed()
        cell = page.evaluate(CELL_JS)  # coordinates after scrolling
        page.mouse.click(cell["px"], cell["py"])

        # The grid opens on that cell: labelled <true>, predicted <predicted>.
        page.wait_for_function("document.querySelectorAll('.tlw-curate-card:not([style*=\"display: none\"])')"
                               ".length > 0", timeout=120_000)
        page.wait_for_function(
            f"(document.querySelector('.tlw-curate-status') || {{}}).innerText?.startsWith('{int(cell['n'])} images')",
            timeout=60_000)
        chosen = page.locator(".tlw-curate-filter select").evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")
        assert chosen.startswith(f"labelled {cell['true']}, predicted {cell['predicted']}"), chosen
        cards = page.locator(".tlw-curate-card").filter(has=page.locator("img"))
        visible = [c for c in cards.all() if c.is_visible()]
        assert len(visible) >= 1
        page.screenshot(path=str(artifacts_dir / "curate-grid.png"), full_page=True)

        # Relabel the first image to the predicted class; exclude a second one (from "all wrong" if the
        # cell holds a single image).
        first = visible[0]
        first_key = first.locator(".tlw-curate-caption").get_attribute("title")
        first.locator("select").select_option(label=f"relabel → {cell['predicted']}")
        page.wait_for_function("/saved; 1 decisions/.test(document.querySelector('.tlw-curate').innerText)",
                               timeout=30_000)
        if len(visible) < 2:
            page.locator(".tlw-curate-filter select").select_option(value="wrong")
            page.wait_for_timeout(500)
            visible = [c for c in cards.all() if c.is_visible()]
        second = next(c for c in visible if c.locator(".tlw-curate-caption").get_attribute("title") != first_key)
        second_key = second.locator(".tlw-curate-caption").get_attribute("title")
        second.locator("select").select_option(label="exclude")
        page.wait_for_function("/saved; 2 decisions/.test(document.querySelector('.tlw-curate').innerText)",
                               timeout=30_000)
        lines = [json.loads(x) for x in
                 (tmp_path / "home" / "curation" / "demo-digits.jsonl").read_text().splitlines()]
        assert [(d["key"], d["action"], d.get("label")) for d in lines] == [
            (first_key, "relabel", cell["predicted"]), (second_key, "exclude", None)]

        # Grad-CAM on demand for the relabelled image.
        first.locator("button.tlw-curate-gradcam").click()
        page.wait_for_function("/Grad-CAM of/.test(document.querySelector('.tlw-curate').innerText)",
                               timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "curate-decided.png"), full_page=True)

        # Retrain with fixes: a child run on the Train step, then listed under Runs with its parent.
        train_notice = "((document.querySelector('.tlw-run-notice') || {}).innerText || '')"
        before = page.evaluate(train_notice)
        page.locator("button.tlw-retrain").click()
        page.wait_for_function(f"{train_notice} !== {json.dumps(before)} && /started/.test({train_notice})",
                               timeout=60_000)
        page.wait_for_function(f"{STATUS_JS} === 'finished'", timeout=180_000)
        page.locator("button.tlw-step-runs").click()
        page.wait_for_function("Array.from(document.querySelectorAll('.tlw-runs option'))"
                               ".some(o => o.text.replace(/\\u00a0/g, ' ').includes('retrained from'))", timeout=30_000)
        texts = [t.replace("\xa0", " ") for t in page.locator(".tlw-runs option").all_inner_texts()]
        child = [t for t in texts if "retrained from" in t]
        assert len(child) == 1 and "[finished]" in child[0], texts
        parent_id = re.search(r"retrained from (\S+)", child[0]).group(1)
        assert any(t.startswith(parent_id) for t in texts), texts
        # Picking the child in the Runs list shows per-class numbers before (parent) and after (child).
        page.locator(".tlw-runs option", has_text="retrained from").first.click()
        page.wait_for_selector(".tlw-runs-lineage .tlw-before-after", timeout=120_000)
        runs_table = page.locator(".tlw-runs-lineage .tlw-before-after").inner_text()
        assert parent_id in runs_table and "F1 before" in runs_table, runs_table
        page.screenshot(path=str(artifacts_dir / "curate-runs.png"), full_page=True)

        # Evaluating the child shows per-class numbers before (parent) and after (child).
        page.locator("button.tlw-step-evaluate").click()  # the child is the last run: evaluated on entry
        page.wait_for_selector(".tlw-evaluate .tlw-before-after", timeout=120_000)
        table = page.locator(".tlw-evaluate .tlw-before-after").inner_text()
        assert parent_id in table and "F1 before" in table, table
        page.screenshot(path=str(artifacts_dir / "curate-before-after.png"), full_page=False)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "curate-failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
