"""Webcam capture in a real Voilà and a real JupyterLab, in Chromium with its fake camera, and the
non-coder's whole path through the packaged Studio (English and zh-CN).

Chromium flags: ``--use-fake-device-for-media-stream`` gives a fake camera (a moving test pattern, so frames
taken at different moments differ); ``--use-fake-ui-for-media-stream`` answers the permission prompt with
"Allow", ``--use-fake-ui-for-media-stream=deny`` with "Block" (the user who refuses).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat
import pytest

from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.browser

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
COUNTS_JS = """(() => { const out = {}; for (const tr of document.querySelectorAll('.tlw-capture-counts tr')) {
  const td = tr.querySelectorAll('td'); if (td.length === 2) out[td[0].innerText] = Number(td[1].innerText); }
  return out; })()"""


@pytest.fixture(scope="module")
def launch() -> Iterator[Callable[[list[str]], Any]]:
    """``launch(extra_args) -> Browser``: Chromium with the suite's flags plus ``extra_args``."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail("Browser tests need Chromium: `apt-get install chromium`. Received: no chromium on PATH")
    with sync_playwright() as pw:
        browsers: list[Any] = []

        def start(extra: list[str]) -> Any:
            browsers.append(pw.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *extra],
                                               headless=True))
            return browsers[-1]

        yield start
        for browser in browsers:
            browser.close()


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


def hold(page: Any, selector: str, seconds: float) -> None:
    """Presses and holds the mouse on ``selector`` for ``seconds``."""
    page.locator(selector).hover()
    page.mouse.down()
    page.wait_for_timeout(int(seconds * 1000))
    page.mouse.up()


def counts(page: Any) -> dict[str, int]:
    return page.evaluate(COUNTS_JS)


def add_class(page: Any, root: str, name: str) -> None:
    box = page.locator(f"{root} .tlw-capture-class-name input")
    box.fill(name)
    box.press("Tab")  # the Text widget syncs its value
    page.locator(f"{root} button.tlw-capture-add").click()
    page.wait_for_function(f"(() => {{ const c = {COUNTS_JS}; return {json.dumps(name)} in c; }})()",
                           timeout=20_000)


def record(page: Any, root: str, name: str, seconds: float) -> int:
    """Picks class ``name``, holds the record button for ``seconds``; returns the frames it then has."""
    page.locator(f"{root} .tlw-capture-classes button", has_text=name).click()
    page.wait_for_function(f"document.querySelector('{root} .tlw-capture-current td')?.innerText === "
                           f"{json.dumps(name)}", timeout=10_000)
    before = counts(page).get(name, 0)
    hold(page, f"{root} .tlw-webcam-shutter", seconds)
    page.wait_for_function(f"(({COUNTS_JS})[{json.dumps(name)}] || 0) > {before}", timeout=20_000)
    page.wait_for_timeout(700)  # frames still in flight when the button went up
    return counts(page)[name]


def camera_on(page: Any, root: str) -> None:
    page.locator(f"{root} .tlw-camera-toggle").click()
    page.wait_for_function(f"(() => {{ const v = document.querySelector('{root} video.tlw-webcam-video');"
                           " return v && v.readyState >= 2 && v.videoWidth > 0; })()", timeout=30_000)


def test_permission_denied_shows_a_message(launch, capture_server, artifacts_dir):
    server, _home = capture_server
    browser = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream=deny"])
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(server.ready_url, timeout=90_000)
    page.wait_for_selector(".tlw-capture", timeout=90_000)
    page.locator(".tlw-camera-toggle").click()
    page.wait_for_function("document.querySelector('.tlw-capture-notice').innerText.includes('not allowed')",
                           timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "webcam_denied.png"), full_page=True)
    text = page.locator(".tlw-capture-notice").inner_text()
    assert "Allow the camera for this page" in text
    assert page.locator(".tlw-webcam-placeholder").inner_text() == "No camera picture"
    assert page.locator(".tlw-webcam-shutter").is_disabled()
    assert page.locator(".tlw-camera-toggle").inner_text().strip() == "Camera on"  # press again to retry
    page.close()


def test_capture_two_classes_with_the_fake_camera(launch, capture_server, artifacts_dir):
    server, home = capture_server
    browser = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream"])
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.ready_url, timeout=90_000)
    page.wait_for_selector(".tlw-capture", timeout=90_000)
    camera_on(page, ".tlw-capture")
    add_class(page, ".tlw-capture", "left")
    n_left = record(page, ".tlw-capture", "left", 2.0)
    add_class(page, ".tlw-capture", "right")
    page.locator(".tlw-capture .tlw-webcam-shutter").click()  # a click is one frame
    page.wait_for_function(f"(({COUNTS_JS})['right'] || 0) === 1", timeout=20_000)
    n_right = record(page, ".tlw-capture", "right", 1.5)
    page.screenshot(path=str(artifacts_dir / "webcam_capture.png"), full_page=True)
    assert 4 <= n_left <= 20, n_left  # about 5 frames/s for 2 s (the frame cap per hold is 20)
    assert n_right >= 3
    page.locator(".tlw-capture-use").click()
    page.wait_for_function("document.querySelector('.tlw-test-used').innerText.length > 0", timeout=20_000)
    folder = Path(page.locator(".tlw-test-used").inner_text().strip())
    assert folder == home / "captures" / "webcam"
    files = {p.parent.name: sorted(p.parent.iterdir()) for p in folder.glob("*/*.jpg")}
    assert {k: len(v) for k, v in files.items()} == {"left": n_left, "right": n_right}
    assert len({f.read_bytes() for f in files["left"] + files["right"]}) == n_left + n_right  # frames differ
    assert not errors, errors
    stamps = sorted(f.stat().st_mtime for f in files["left"])
    print(f"captured {n_left} frames in one 2 s hold: {(n_left - 1) / (stamps[-1] - stamps[0]):.1f} frames/s written")
    page.close()


def test_capture_in_jupyterlab(launch, start_lab, tmp_path, artifacts_dir):
    """The same widget in a JupyterLab notebook (anywidget's lab extension serves its ES module)."""
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CAPTURE_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "capture.ipynb")
    import os

    base, token = start_lab(root, tmp_path, env={**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home")},
                            name="capture-lab")
    page = launch([*FAKE_CAMERA, "--use-fake-ui-for-media-stream"]).new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{base}/lab/tree/capture.ipynb?reset&token={token}", timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-editor", timeout=120_000)
    page.wait_for_timeout(1500)  # the kernel attaches
    page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".tlw-capture", timeout=120_000)
    camera_on(page, ".tlw-capture")
    add_class(page, ".tlw-capture", "a")
    page.locator(".tlw-capture .tlw-webcam-shutter").click()
    page.wait_for_function(f"(({COUNTS_JS})['a'] || 0) === 1", timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "webcam_lab.png"))
    assert [p.name for p in (tmp_path / "home" / "captures" / "webcam" / "a").iterdir()] == ["00001.jpg"]
    page.close()


# -- the non-coder's whole path in the packaged Studio ------------------------------------------------------

STUDIO = Path(__file__).resolve().parents[2] / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"
HEATMAP_JS = ("[...document.querySelectorAll('.tlw-evaluate .js-plotly-plot')]"
              ".some(gd => (gd.data || []).some(t => t.type === 'heatmap' && t.z))")
CARDS_JS = "document.querySelectorAll('.tlw-try-results .tlw-try-card').length"


def tr(lang: str, msgid: str) -> str:
    """``msgid`` in ``lang`` from the shipped catalog (the test process itself runs in English)."""
    import gettext

    from tl_widgets.core.i18n import DOMAIN, LOCALE_DIR

    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True).gettext(msgid)


def step(page: Any, key: str) -> None:
    page.locator(f".tlw-steps button.tlw-step-{key}").click()


def shot(page: Any, artifacts_dir: Path, lang: str, n: int, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"path-{lang}-{n}-{name}.png"), full_page=True)


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
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # 1. Open: the step header says where we are; the engine loads in the background.
        page.goto(server.ready_url, timeout=120_000)
        page.wait_for_selector(".tlw-studio .tlw-steps", timeout=120_000)
        titles = [page.locator(f".tlw-steps button.tlw-step-{k}").inner_text().strip()
                  for k in ("data", "model", "train", "evaluate", "try")]
        wanted = [tr(lang, t) for t in ("Data", "Model", "Train", "Evaluate", "Try it & export")]
        assert all(title.endswith(w) for title, w in zip(titles, wanted)), (titles, wanted)  # "1. Data"
        if lang == "zh_CN":
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles), titles
        shot(page, artifacts_dir, lang, 1, "open")

        # 2. Capture two classes with the fake webcam (its picture moves: two moments, two classes).
        page.locator(".jupyter-widget-Collapse:has(.tlw-capture) .jupyter-widget-Collapse-header").first.click()
        camera_on(page, ".tlw-capture")
        total = 0
        for name in ("left", "right"):
            add_class(page, ".tlw-capture", name)
            total += record(page, ".tlw-capture", name, 2.0)
        shot(page, artifacts_dir, lang, 2, "capture")
        page.locator(".tlw-capture-use").click()
        used = tr(lang, "The Data step now uses your captured samples.")
        page.wait_for_function(f"document.querySelector('.tlw-studio > .tlw-message').innerText.includes("
                               f"{json.dumps(used)})", timeout=150_000)  # the kernel may still be loading Keras
        page.wait_for_function("document.querySelector('.tlw-data-summary').innerText.includes("
                               f"{json.dumps(str(total))})", timeout=60_000)
        page.wait_for_function("!document.querySelector('.tlw-capture video.tlw-webcam-video').srcObject",
                               timeout=10_000)  # done capturing: the camera is off
        shot(page, artifacts_dir, lang, 3, "data")

        # 3. Train (the run bar is on every step).
        page.wait_for_selector("button.tlw-start:not(.tlw-start-loading):not([disabled])", timeout=120_000)
        page.locator("button.tlw-start").click()
        finished = tr(lang, "finished")
        page.wait_for_function(f"{STATUS_JS} === {json.dumps(finished)}", timeout=180_000)
        step(page, "train")
        shot(page, artifacts_dir, lang, 4, "trained")

        # 4. Evaluate: the confusion matrix of the two captured classes.
        step(page, "evaluate")
        page.wait_for_function(HEATMAP_JS, timeout=120_000)
        page.wait_for_timeout(500)
        shot(page, artifacts_dir, lang, 5, "evaluate")

        # 5. Try it on a new snapshot and on an uploaded image.
        step(page, "try")
        page.wait_for_selector(".tlw-try-camera .tlw-camera-toggle", timeout=60_000)
        camera_on(page, ".tlw-try-camera")
        page.locator(".tlw-try-camera .tlw-webcam-shutter").click()
        page.wait_for_function(f"{CARDS_JS} === 1", timeout=120_000)
        card = page.locator(".tlw-try-results .tlw-try-card").first.inner_text()
        assert "left" in card and "right" in card, card
        upload = tmp_path / "my photo.jpg"
        upload.write_bytes(sorted((home / "captures" / "webcam" / "right").glob("*.jpg"))[-1].read_bytes())
        page.locator(".tlw-try-upload input[type=file]").set_input_files(str(upload))
        page.wait_for_function("document.querySelector('.tlw-try-results')?.innerText.includes('my photo.jpg')",
                               timeout=120_000)
        page.locator(".tlw-try-camera .tlw-camera-toggle").click()
        shot(page, artifacts_dir, lang, 6, "try")

        # 6. Export (the default format) and see it verified.
        page.locator("button.tlw-export-run").click()
        page.wait_for_function("/: /.test(document.querySelector('.tlw-export .tlw-message')?.innerText || '')",
                               timeout=180_000)
        shot(page, artifacts_dir, lang, 7, "export")
        exported = page.locator(".tlw-export .tlw-message").inner_text()
        assert "tflite" in exported, exported
    except Exception:
        shot(page, artifacts_dir, lang, 0, "failure")
        print(page.evaluate("[...document.querySelectorAll('.tlw-message')].map(e => e.innerText).join(' | ')"))
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
