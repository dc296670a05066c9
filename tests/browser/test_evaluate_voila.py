"""The Studio's Evaluate and "Try it & export" steps in a real Voilà, driven by Chromium.

Trains a tiny run to ``finished`` while the Evaluate step is open, evaluates it
(confusion matrix and per-class figures drawn by Plotly in the page), then on
the "Try it & export" step exports it to TFLite (its verification
row reads ``ok``), then to tflite-int8 and onnx-web (run by onnxruntime-web in a
second Chromium the kernel starts) and compares each with Keras in the
deployment preview. Screenshots go to ``test-artifacts/evaluate-*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"
EVAL_NOTICE_JS = "((document.querySelector('.tlw-evaluate .tlw-message') || {}).innerText || '')"
EXPORT_NOTICE_JS = "((document.querySelector('.tlw-export .tlw-message') || {}).innerText || '')"
PREVIEW_NOTICE_JS = "((document.querySelector('.tlw-preview .tlw-message') || {}).innerText || '')"
# The charts of the Evaluate panel as plain data: trace types and the heatmap's z summed (rows may be
# arrays or typed arrays), read from the Plotly graph divs.
CHARTS_JS = """(() => {
  const out = [];
  for (const gd of document.querySelectorAll('.tlw-evaluate .tlw-plotly-chart.js-plotly-plot')) {
    const traces = (gd.data || []).map(t => {
      let zsum = null, zcells = 0;
      if (t.z) {
        zsum = 0;
        for (const row of Array.from(t.z)) for (const v of Array.from(row)) { zsum += v; zcells++; }
      }
      const n = t.x ? Array.from(t.x).length : (t.y ? Array.from(t.y).length : 0);
      return {type: t.type || 'scatter', zsum, zcells, n, name: t.name || ''};
    });
    out.push({title: ((gd.layout || {}).title || {}).text || '', traces});
  }
  return out;
})()"""


def test_evaluate_and_export_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "30"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="evaluate-voila", args=["--show_tracebacks=True"])
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=120_000)

        # Before any run, Evaluate says what is missing (no button to press).
        page.locator("button.tlw-step-evaluate").click()
        page.wait_for_function("document.querySelector('.tlw-step-hint').innerText.includes('Train a model first')",
                               timeout=30_000)
        assert "No trained model yet" in page.locator(".tlw-evaluate-hint").inner_text()
        assert not page.locator("button.tlw-evaluate-last").is_visible()

        # A tiny run to "finished", started from the run bar while Evaluate stays open.
        page.wait_for_function("!document.querySelector('button.tlw-start').disabled", timeout=180_000)
        page.locator("button.tlw-start").click()
        page.wait_for_function(f"{STATUS_JS} === 'finished'", timeout=180_000)

        # The run finished while this step was open: "Evaluate the last run" appears; it evaluates at once.
        page.locator("button.tlw-evaluate-last").click()
        page.wait_for_function(f"/Evaluated \\d+ validation images/.test({EVAL_NOTICE_JS})", timeout=120_000)
        count = int(re.search(r"Evaluated (\d+) validation images", page.evaluate(EVAL_NOTICE_JS)).group(1))
        assert count > 0
        page.wait_for_function(f"{CHARTS_JS}.length >= 2 && {CHARTS_JS}.every(c => c.traces.length > 0)",
                               timeout=60_000)
        charts = page.evaluate(CHARTS_JS)
        heat = [t for t in charts[0]["traces"] if t["type"] == "heatmap"]
        assert heat, charts[0]
        assert heat[0]["zcells"] > 0 and heat[0]["zsum"] == count, (heat[0], count)
        assert charts[1]["traces"][0]["type"] == "bar" and charts[1]["traces"][0]["n"] > 0, charts[1]
        assert "accuracy" in page.locator(".tlw-evaluate").inner_text()
        page.screenshot(path=str(artifacts_dir / "evaluate-figures.png"), full_page=True)

        # Export to TFLite on the "Try it & export" step and see the verification row.
        page.locator("button.tlw-step-try").click()
        page.wait_for_selector(".tlw-export", timeout=60_000)
        assert page.locator(".tlw-export-format select").input_value() == "tflite"
        page.locator("button.tlw-export-run").click()
        page.wait_for_function(f"/tflite: /.test({EXPORT_NOTICE_JS})", timeout=180_000)
        assert "verified against Keras" in page.evaluate(EXPORT_NOTICE_JS), page.evaluate(EXPORT_NOTICE_JS)
        row = page.locator(".tlw-export-table tr", has_text="tflite").first
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[0] == "tflite" and cells[6] == "ok", cells
        assert cells[7].endswith(".tflite") and Path(cells[7]).is_file(), cells
        page.screenshot(path=str(artifacts_dir / "evaluate-export.png"), full_page=True)

        # Deploy with trust: export tflite-int8 and onnx-web, and see each beside Keras in the preview.
        for fmt in ("tflite-int8", "onnx-web"):
            page.locator(".tlw-export-format select").select_option(fmt)
            page.locator("button.tlw-export-run").click()
            page.wait_for_function(f"{EXPORT_NOTICE_JS}.startsWith({fmt!r} + ': ')", timeout=180_000)
            assert "verified against Keras" in page.evaluate(EXPORT_NOTICE_JS), page.evaluate(EXPORT_NOTICE_JS)
            page.wait_for_function(
                f"document.querySelector('.tlw-preview-format select').value === {fmt!r}", timeout=30_000)
            page.locator("button.tlw-preview-run").click()
            page.wait_for_function(f"{PREVIEW_NOTICE_JS}.startsWith({fmt!r} + ': ')", timeout=180_000)
            summary = page.locator(".tlw-preview-summary").inner_text()
            assert summary.startswith(fmt) and "latency per image" in summary and "MB" in summary, summary
            agreement = float(page.locator(".tlw-preview-agreement").inner_text().rstrip("%"))
            assert agreement >= 95.0, summary
            if fmt == "onnx-web":
                assert "onnxruntime-web" in summary, summary
            assert page.locator(".tlw-preview-table tr").count() > 1
            page.locator(".tlw-preview").screenshot(path=str(artifacts_dir / f"evaluate-preview-{fmt}.png"))
    except Exception:
        page.screenshot(path=str(artifacts_dir / "evaluate-failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
