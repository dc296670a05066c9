"""The packaged Studio in a real Voilà, driven by Chromium: the guided steps, the loading state, Start, live loss,
Stop, finish, evaluate on entry, re-freeze, upload; a screenshot of every step."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '')"
TRAIN_NOTICE_JS = "((document.querySelector('.tlw-run-notice') || {}).innerText || '')"
START_JS = "(document.querySelector('button.tlw-start') || {})"

LOSS_POINTS_JS = ("(() => { const gd = document.querySelector('.tlw-live-charts .tlw-plotly-chart.js-plotly-plot');"
                  " return gd && gd.data ? gd.data.reduce((n, t) => n + ((t.x || []).length), 0) : 0; })()")
VAL_POINTS_JS = ("(() => { let n = 0; for (const gd of document.querySelectorAll('.tlw-live-charts .js-plotly-plot'))"
                 " for (const t of gd.data || []) if (/val/.test(t.name || '')) n += (t.x || []).length; return n; })()")


def _small_zip(tmp_path: Path) -> Path:
    from tl_widgets.core.data.demo_datasets import write_demo_data

    root = write_demo_data(tmp_path / "zipsrc", "shapes", "target")
    path = tmp_path / "shapes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for class_dir in sorted(root.iterdir()):
            for image in sorted(class_dir.iterdir())[:12]:
                zf.write(image, f"shapes/{class_dir.name}/{image.name}")
    return path


def _step(page, key: str) -> None:
    """Clicks the step header's button ``key`` and waits until that step's hint is shown."""
    page.locator(f"button.tlw-step-{key}").click()
    page.wait_for_function(f"document.querySelector('button.tlw-step-{key}').classList.contains('mod-primary')",
                           timeout=30_000)
    page.wait_for_timeout(300)


def _start_and_wait(page, status: str, timeout_ms: int = 120_000) -> None:
    """Presses Start, waits for the new run's notice, then for ``status``."""
    before = page.evaluate(TRAIN_NOTICE_JS)
    page.locator("button.tlw-start").click()
    page.wait_for_function(f"(() => {{ const t = {TRAIN_NOTICE_JS}; return t !== {before!r} && t.startsWith('Run '); }})()",
                           timeout=60_000)
    page.wait_for_function(f"{STATUS_JS}.trim() === {status!r}", timeout=timeout_ms)


def _set_epochs(page, value: int) -> None:
    box = page.locator(".tlw-epochs input").first
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def test_studio_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "2",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "40"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="studio-voila")
    zip_path = _small_zip(tmp_path)
    page = chromium.new_page(viewport={"width": 1300, "height": 2000})  # tall: Voilà's body scrolls, not the page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio .tlw-data-summary", timeout=120_000)
        # First paint: the Data step with the demo, Start waiting for TensorFlow; then Start is enabled.
        loading = page.evaluate(f"[{START_JS}.disabled, ({START_JS}.innerText || '').trim()]")
        page.screenshot(path=str(artifacts_dir / "studio_step1_data_loading.png"), full_page=True)
        assert loading == [True, "Loading TensorFlow…"], loading
        assert re.search(r"\d+ images in 5 classes", page.locator(".tlw-data-summary").inner_text()), \
            page.locator(".tlw-data-summary").inner_text()  # the demo, before TensorFlow
        page.wait_for_function(f"!{START_JS}.disabled && {START_JS}.innerText.trim() === 'Start'", timeout=180_000)
        assert "Step 1 of 5" in page.locator(".tlw-step-hint").inner_text()
        page.screenshot(path=str(artifacts_dir / "studio_step1_data.png"), full_page=True)
        _step(page, "model")
        page.wait_for_selector(".tlw-freeze-panel", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "studio_step2_model.png"), full_page=True)
        _step(page, "evaluate")
        assert "Train a model first" in page.locator(".tlw-step-hint").inner_text()
        page.screenshot(path=str(artifacts_dir / "studio_step4_evaluate_empty.png"), full_page=True)

        # 1. A long run: the loss trace gains points in the page, then Stop -> "stopped".
        _step(page, "train")
        _set_epochs(page, 60)
        _start_and_wait(page, "running", 60_000)
        page.wait_for_function(f"{LOSS_POINTS_JS} > 2", timeout=90_000)
        page.screenshot(path=str(artifacts_dir / "studio_step3_train_running.png"), full_page=True)
        page.locator("button.tlw-stop").click()
        page.wait_for_function(f"{STATUS_JS}.trim() === 'stopped'", timeout=60_000)

        # 2. Start again, run to "finished", with a validation curve.
        _set_epochs(page, 2)
        _start_and_wait(page, "finished")
        page.wait_for_function(f"{VAL_POINTS_JS} > 0", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "studio_step3_train_finished.png"), full_page=True)

        # 3. Entering Evaluate evaluates the last run: the confusion matrix is drawn without another click.
        _step(page, "evaluate")
        page.wait_for_function("(() => { const gd = document.querySelector('.tlw-confusion.js-plotly-plot, .tlw-confusion .js-plotly-plot');"
                               " return gd && gd.data && gd.data.length > 0; })()", timeout=120_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / "studio_step4_evaluate.png"), full_page=True)
        _step(page, "try")
        page.wait_for_selector(".tlw-try-it", timeout=30_000)
        page.wait_for_selector(".tlw-export", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "studio_step5_try.png"), full_page=True)

        # 4. Change the frozen blocks on the Model step and start from there (the run bar is on every step).
        _step(page, "model")
        page.locator(".tlw-block-block4 input").click()
        page.wait_for_function("document.querySelector('.tlw-freeze-totals').innerText.trim().charAt(0) !== '0'",
                               timeout=30_000)
        _start_and_wait(page, "finished")

        # 5. Upload a zip of images on the Data step and start from there.
        _step(page, "data")
        page.locator(".tlw-source button", has_text="Upload zip").click()
        with page.expect_file_chooser() as chooser:
            page.locator("button.tlw-upload").click()
        chooser.value.set_files(str(zip_path))
        page.wait_for_function("document.querySelector('.tlw-data-panel .tlw-message').innerText.includes('Uploaded')",
                               timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "studio_upload.png"), full_page=True)
        _start_and_wait(page, "finished")
        _step(page, "runs")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts_dir / "studio_runs.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "studio_failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()

    from tl_widgets.core.runs.store import RunStore

    runs = RunStore(tmp_path / "home").list_runs()
    statuses = sorted(r["status"] for r in runs)
    assert statuses == ["finished", "finished", "finished", "stopped"], statuses
    assert not errors, errors
