"""The packaged Studio in a real Voilà, driven by Chromium: Start, live loss, Stop, finish, re-freeze, upload."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '')"
TRAIN_NOTICE_JS = "((document.querySelector('.tlw-train-panel .tlw-message') || {}).innerText || '')"
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


def _tab(page, title: str) -> None:
    page.locator(".tlw-tabs .lm-TabBar-tab", has_text=title).first.click()


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
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=120_000)
        page.screenshot(path=str(artifacts_dir / "studio_data.png"), full_page=True)

        # 1. A long run: the loss trace gains points in the page, then Stop -> "stopped".
        _tab(page, "Train")
        _set_epochs(page, 60)
        _start_and_wait(page, "running", 60_000)
        page.wait_for_function(f"{LOSS_POINTS_JS} > 2", timeout=90_000)
        page.screenshot(path=str(artifacts_dir / "studio_running.png"), full_page=True)
        page.locator("button.tlw-stop").click()
        page.wait_for_function(f"{STATUS_JS}.trim() === 'stopped'", timeout=60_000)

        # 2. Start again, run to "finished", with a validation curve.
        _set_epochs(page, 2)
        _start_and_wait(page, "finished")
        page.wait_for_function(f"{VAL_POINTS_JS} > 0", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "studio_finished.png"), full_page=True)

        # 3. Change the frozen blocks, train again.
        _tab(page, "Freeze")
        page.locator(".tlw-block-block4 input").click()
        page.wait_for_function("document.querySelector('.tlw-freeze-totals').innerText.trim().charAt(0) !== '0'",
                               timeout=30_000)
        _tab(page, "Train")
        _start_and_wait(page, "finished")

        # 4. Upload a zip of images and train on it.
        _tab(page, "Data")
        page.locator(".tlw-source button", has_text="Upload zip").click()
        with page.expect_file_chooser() as chooser:
            page.locator("button.tlw-upload").click()
        chooser.value.set_files(str(zip_path))
        page.wait_for_function("document.querySelector('.tlw-data-panel .tlw-message').innerText.includes('Uploaded')",
                               timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "studio_upload.png"), full_page=True)
        _tab(page, "Train")
        _start_and_wait(page, "finished")
        page.screenshot(path=str(artifacts_dir / "studio_zip_finished.png"), full_page=True)
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
