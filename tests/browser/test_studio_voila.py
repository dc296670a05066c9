"""The packaged Studio in a real Voilà, driven by Chromium: the guided steps, the loading state, Start, live loss,
Stop, finish, evaluate on entry, re-freeze, upload; a screenshot of every step."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from tests.browser.studio_page import StudioPage

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"


def _small_zip(tmp_path: Path) -> Path:
    from tl_widgets.core.data.demo_datasets import write_demo_data

    root = write_demo_data(tmp_path / "zipsrc", "shapes", "target")
    path = tmp_path / "shapes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for class_dir in sorted(root.iterdir()):
            for image in sorted(class_dir.iterdir())[:12]:
                zf.write(image, f"shapes/{class_dir.name}/{image.name}")
    return path


def test_studio_in_voila(chromium, start_voila, artifacts_dir, tmp_path):
    env = {"TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "2",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "40"}
    server = start_voila(NOTEBOOK, tmp_path, env=env, name="studio-voila")
    zip_path = _small_zip(tmp_path)
    page = chromium.new_page(viewport={"width": 1300, "height": 2000})  # tall: Voilà's body scrolls, not the page
    studio = StudioPage(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        studio.open(server.ready_url, part="data_summary")
        # First paint: the Data step with the demo, Start waiting for TensorFlow; then Start is enabled.
        loading = studio.start_state()
        page.screenshot(path=str(artifacts_dir / "studio_step1_data_loading.png"), full_page=True)
        assert loading == [True, "Loading TensorFlow…"], loading
        summary = studio.text("data_summary")
        assert re.search(r"\d+ images in 5 classes", summary), summary  # the demo, before TensorFlow
        studio.wait_start_enabled(label="Start")
        assert "Step 1 of 5" in studio.text("hint")
        page.screenshot(path=str(artifacts_dir / "studio_step1_data.png"), full_page=True)
        studio.show("model")
        studio.wait_part("freeze")
        page.screenshot(path=str(artifacts_dir / "studio_step2_model.png"), full_page=True)
        studio.show("evaluate")
        assert "Train a model first" in studio.text("hint")
        page.screenshot(path=str(artifacts_dir / "studio_step4_evaluate_empty.png"), full_page=True)

        # 1. A long run: the loss trace gains points in the page, then Stop -> "stopped".
        studio.show("train")
        studio.fill("epochs", 60)
        studio.start_run()
        studio.wait_status("running")
        studio.wait_points("loss", first=True, more_than=2, timeout=90_000)
        page.screenshot(path=str(artifacts_dir / "studio_step3_train_running.png"), full_page=True)
        studio.stop()
        studio.wait_status("stopped")

        # 2. Start again, run to "finished", with a validation curve.
        studio.fill("epochs", 2)
        studio.start_run()
        studio.wait_status("finished", timeout=120_000)
        studio.wait_points("live", trace="val")
        page.screenshot(path=str(artifacts_dir / "studio_step3_train_finished.png"), full_page=True)

        # 3. Entering Evaluate evaluates the last run: the confusion matrix is drawn without another click.
        studio.show("evaluate")
        studio.wait_charts("confusion", timeout=120_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / "studio_step4_evaluate.png"), full_page=True)
        studio.show("try")
        studio.wait_part("try")
        studio.wait_part("export")
        page.screenshot(path=str(artifacts_dir / "studio_step5_try.png"), full_page=True)

        # 4. Change the frozen blocks on the Model step and start from there (the run bar is on every step).
        studio.show("model")
        studio.toggle_block("block4")
        studio.wait_text("freeze_totals", regex=r"^\s*[^0\s]")  # some parameters frozen now
        studio.start_run()
        studio.wait_status("finished", timeout=120_000)

        # 5. Upload a zip of images on the Data step and start from there.
        studio.show("data")
        studio.upload_zip(str(zip_path))
        studio.wait_text("data", contains="Uploaded", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "studio_upload.png"), full_page=True)
        studio.start_run()
        studio.wait_status("finished", timeout=120_000)
        studio.show("runs")
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
