"""Webcam capture in a real Voilà and a real JupyterLab, in Chromium with its fake camera, and the
non-coder's whole path through the packaged Studio (English and zh-CN).

Chromium flags: ``--use-fake-device-for-media-stream`` gives a fake camera (a moving test pattern, so frames
taken at different moments differ); ``--use-fake-ui-for-media-stream`` answers the permission prompt with
"Allow", ``--use-fake-ui-for-media-stream=deny`` with "Block" (the user who refuses).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.browser.studio_page import CapturePage, StudioPage

FAKE_CAMERA = ["--use-fake-device-for-media-stream"]
CAPTURE_CELL = """\
import ipywidgets as widgets
from IPython.display import display
from tl_widgets.core.settings import default_home
from tl_widgets.panels.capture import CapturePanel

used = widgets.Label()
used.add_class("tlw-test-used")
panel = CapturePanel(default_home(), lambda folder: setattr(used, "value", folder))
display(widgets.VBox([panel, used]))
"""


@pytest.fixture(scope="module")
def capture_server(start_voila, tmp_path_factory):
    """A Voilà serving a notebook that shows only the CapturePanel (its home in a temporary folder)."""
    root = tmp_path_factory.mktemp("capture")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CAPTURE_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "capture.ipynb")
    server = start_voila(root / "capture.ipynb", root, env={"TL_WIDGETS_HOME": str(root / "home")},
                         name="capture-voila")
    return server, root / "home"


def test_permission_denied_shows_a_message(launch, capture_server, artifacts_dir):
    server, _home = capture_server
    browser = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream=deny"])
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    capture = CapturePage(page)
    page.goto(server.ready_url, timeout=90_000)
    capture.wait_shown(timeout=90_000)
    capture.toggle_camera()
    capture.wait_notice("not allowed")
    page.screenshot(path=str(artifacts_dir / "webcam_denied.png"), full_page=True)
    assert "Allow the camera for this page" in capture.notice()
    assert capture.placeholder() == "No camera picture"
    assert capture.shutter().is_disabled()
    assert capture.camera_label() == "Camera on"  # press again to retry
    page.close()


def test_capture_in_jupyterlab(launch, start_lab, tmp_path, artifacts_dir):
    """The same widget in a JupyterLab notebook (anywidget's lab extension serves its ES module)."""
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CAPTURE_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "capture.ipynb")
    base, token = start_lab(root, tmp_path, env={**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home")},
                            name="capture-lab")
    page = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream"]).new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{base}/lab/tree/capture.ipynb?reset&token={token}", timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-editor", timeout=120_000)
    page.wait_for_timeout(1500)  # the kernel attaches
    page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    capture = CapturePage(page)
    capture.wait_shown(timeout=120_000)
    capture.camera_on()
    capture.add_class("a")
    capture.snap()
    capture.wait_count("a", equals=1, timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "webcam_lab.png"))
    assert [p.name for p in (tmp_path / "home" / "captures" / "webcam" / "a").iterdir()] == ["00001.jpg"]
    page.close()


# -- the non-coder's whole path in the packaged Studio ------------------------------------------------------

STUDIO = Path(__file__).resolve().parents[2] / "tl_widgets" / "app" / "studio.ipynb"


def tr(lang: str, msgid: str) -> str:
    """``msgid`` in ``lang`` from the shipped catalog (the test process itself runs in English)."""
    import gettext

    from tl_widgets.core.i18n import DOMAIN, LOCALE_DIR

    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True).gettext(msgid)


def shot(studio: StudioPage, artifacts_dir: Path, lang: str, n: int | str, name: str, at: str | None = None) -> None:
    """Screenshot ``path-<lang>-<n>-<name>.png``, scrolled to the part ``at`` (Voilà scrolls inside the page)."""
    if at is not None:
        studio.scroll_to(at)
    studio.page.screenshot(path=str(artifacts_dir / f"path-{lang}-{n}-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_non_coders_whole_path(lang, launch, start_voila, artifacts_dir, tmp_path):
    """Open the Studio, capture two classes, train, see the confusion matrix, try a snapshot and an upload, export.

    Nothing is typed but two class names; every step is a click, as a newcomer would do it.
    """
    home = tmp_path / "home"
    env = {"TL_WIDGETS_HOME": str(home), "TL_WIDGETS_STUDIO_EPOCHS": "2", "TL_WIDGETS_LANG": lang}
    server = start_voila(STUDIO, tmp_path, env=env, name=f"path-{lang}")
    browser = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream"])
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    studio = StudioPage(page)
    capture = studio.capture
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # 1. Open: the step header says where we are; the engine loads in the background.
        studio.open(server.ready_url, part="steps")
        titles = [studio.step_button(k).inner_text().strip() for k in ("data", "model", "train", "evaluate", "try")]
        wanted = [tr(lang, t) for t in ("Data", "Model", "Train", "Evaluate", "Try it & export")]
        assert all(title.endswith(w) for title, w in zip(titles, wanted)), (titles, wanted)  # "1. Data"
        if lang == "zh_CN":
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles), titles
        shot(studio, artifacts_dir, lang, 1, "open")

        # 2. Capture two classes with the fake webcam (its picture moves: two moments, two classes).
        studio.open_capture()
        capture.camera_on()
        capture.add_class("left")
        n_left = capture.record("left", 2.0)  # ~5 frames/s while held
        capture.add_class("right")
        capture.snap()  # a click is one frame
        capture.wait_count("right", equals=1, timeout=60_000)
        n_right = capture.record("right", 2.0)
        assert 4 <= n_left <= 20 and 5 <= n_right <= 21, (n_left, n_right)  # 20 frames per hold at most
        shot(studio, artifacts_dir, lang, 2, "capture", at="capture")
        capture.use_samples()
        used = tr(lang, "The Data step now uses your captured samples.")
        studio.wait_text("studio", contains=used, timeout=150_000)  # the kernel may still be loading Keras
        files = {c: sorted((home / "captures" / "webcam" / c).glob("*.jpg")) for c in ("left", "right")}
        total = len(files["left"]) + len(files["right"])  # frames in flight at the last count have landed now
        assert len({f.read_bytes() for f in files["left"] + files["right"]}) == total  # the frames differ
        stamps = [f.stat().st_mtime for f in files["left"]]
        print(f"{lang}: {len(stamps)} frames in a 2 s hold, {(len(stamps) - 1) / (stamps[-1] - stamps[0]):.1f}/s")
        studio.wait_text("data_summary", contains=str(total), timeout=60_000)
        capture.wait_camera_off()  # done capturing: the camera is off
        shot(studio, artifacts_dir, lang, 3, "data", at="studio")

        # 3. Train (the run bar is on every step).
        studio.wait_start_enabled(timeout=120_000)
        studio.button("start").click()
        studio.wait_status({"finished", tr(lang, "finished")}, timeout=180_000)  # the status word, translated or not
        studio.click_step("train")
        shot(studio, artifacts_dir, lang, 4, "trained")

        # 4. Evaluate: the confusion matrix of the two captured classes.
        studio.click_step("evaluate")
        studio.wait_heatmap("evaluate_any", timeout=120_000)
        page.wait_for_timeout(500)
        shot(studio, artifacts_dir, lang, 5, "evaluate")

        # 5. Try it on a new snapshot and on an uploaded image.
        studio.click_step("try")
        studio.wait_part("try_camera", timeout=60_000)
        studio.try_camera.camera_on()
        studio.try_camera.snap()
        studio.wait_try_cards(1)
        card = studio.try_card_text(0)
        assert "left" in card and "right" in card, card
        shot(studio, artifacts_dir, lang, "6a", "snapshot", at="try_camera_panel")
        upload = tmp_path / "my photo.jpg"
        upload.write_bytes(sorted((home / "captures" / "webcam" / "right").glob("*.jpg"))[-1].read_bytes())
        studio.try_upload(str(upload))
        studio.wait_text("try_results", contains="my photo.jpg", timeout=120_000)
        studio.try_camera.toggle_camera()
        shot(studio, artifacts_dir, lang, "6b", "upload", at="try_summary")

        # 6. Export (the default format) and see it verified.
        studio.button("export").click()
        verified = tr(lang, "{format}: verified against Keras.").format(format="tflite")
        studio.wait_text("export", startswith=verified, timeout=180_000)
        shot(studio, artifacts_dir, lang, 7, "export", at="export")
    except Exception:
        shot(studio, artifacts_dir, lang, 0, "failure")
        print(studio.notices())
        print(studio.census())
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
