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

from tests.browser.studio_page import StudioPage

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"


def test_evaluate_and_export_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "30"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="evaluate-voila", args=["--show_tracebacks=True"])
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    studio = StudioPage(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        studio.open(server.ready_url)

        # Before any run, Evaluate says what is missing (no button to press).
        studio.click_step("evaluate")
        studio.wait_text("hint", contains="Train a model first")
        assert "No trained model yet" in studio.text("evaluate_hint")
        assert not studio.button("evaluate_last").is_visible()

        # A tiny run to "finished", started from the run bar while Evaluate stays open.
        studio.wait_start_enabled()
        studio.button("start").click()
        studio.wait_status("finished", timeout=180_000)

        # The run finished while this step was open: "Evaluate the last run" appears; it evaluates at once.
        studio.button("evaluate_last").click()
        notice = studio.wait_text("evaluate", regex=r"Evaluated \d+ validation images", timeout=120_000)
        count = int(re.search(r"Evaluated (\d+) validation images", notice).group(1))
        assert count > 0
        charts = studio.wait_charts("evaluate", at_least=2, timeout=60_000)
        heat = [t for t in charts[0]["traces"] if t["type"] == "heatmap"]
        assert heat, charts[0]
        assert heat[0]["zcells"] > 0 and heat[0]["zsum"] == count, (heat[0], count)
        assert charts[1]["traces"][0]["type"] == "bar" and charts[1]["traces"][0]["n"] > 0, charts[1]
        assert "accuracy" in studio.text("evaluate_panel")
        page.screenshot(path=str(artifacts_dir / "evaluate-figures.png"), full_page=True)

        # Export to TFLite on the "Try it & export" step and see the verification row.
        studio.click_step("try")
        studio.wait_part("export", timeout=60_000)
        assert studio.select("export_format").input_value() == "tflite"
        studio.button("export").click()
        notice = studio.wait_text("export", regex="tflite: ", timeout=180_000)
        assert "verified against Keras" in notice, notice
        cells = studio.export_row("tflite")
        assert cells[0] == "tflite" and cells[6] == "ok", cells
        assert cells[7].endswith(".tflite") and Path(cells[7]).is_file(), cells
        page.screenshot(path=str(artifacts_dir / "evaluate-export.png"), full_page=True)

        # Deploy with trust: export tflite-int8 and onnx-web, and see each beside Keras in the preview.
        for fmt in ("tflite-int8", "onnx-web"):
            studio.select("export_format").select_option(fmt)
            studio.button("export").click()
            notice = studio.wait_text("export", startswith=f"{fmt}: ", timeout=180_000)
            assert "verified against Keras" in notice, notice
            studio.wait_select_value("preview_format", fmt)
            studio.button("preview").click()
            studio.wait_text("preview", startswith=f"{fmt}: ", timeout=180_000)
            summary = studio.text("preview_summary")
            assert summary.startswith(fmt) and "latency per image" in summary and "MB" in summary, summary
            agreement = float(studio.text("preview_agreement").rstrip("%"))
            assert agreement >= 95.0, summary
            if fmt == "onnx-web":
                assert "onnxruntime-web" in summary, summary
            assert studio.preview_rows() > 1
            studio.part("preview").screenshot(path=str(artifacts_dir / f"evaluate-preview-{fmt}.png"))
    except Exception:
        page.screenshot(path=str(artifacts_dir / "evaluate-failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
