"""Webcam capture in a real Voilà and a real JupyterLab, in Chromium with its fake camera, and the
non-coder's whole path through the packaged Studio (English and zh-CN).

Chromium flags: ``--use-fake-device-for-media-stream`` gives a fake camera (a moving test pattern, so frames
taken at different moments differ); ``--use-fake-ui-for-media-stream`` answers the permission prompt with
"Allow", ``--use-fake-ui-for-media-stream=deny`` with "Block" (the user who refuses).
"""

from __future__ import annotations

import json
import os
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
    page.wait_for_function(f"(({COUNTS_JS})[{json.dumps(name)}] || 0) > {before}", timeout=60_000)
    # Frames sent while the button was down may still be queued in a busy kernel: wait until the count settles.
    last, same = -1, 0
    for _ in range(120):
        now = counts(page)[name]
        same = same + 1 if now == last else 0
        if same >= 3:
            break
        last = now
        page.wait_for_timeout(500)
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


def shot(page: Any, artifacts_dir: Path, lang: str, n: int | str, name: str, at: str | None = None) -> None:
    """Screenshot ``path-<lang>-<n>-<name>.png``, scrolled to ``at`` (Voilà scrolls inside the page)."""
    if at is not None:
        page.evaluate(f"document.querySelector({json.dumps(at)})?.scrollIntoView({{block: 'start'}})")
        page.wait_for_timeout(300)
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
        add_class(page, ".tlw-capture", "left")
        n_left = record(page, ".tlw-capture", "left", 2.0)  # ~5 frames/s while held
        add_class(page, ".tlw-capture", "right")
        page.locator(".tlw-capture .tlw-webcam-shutter").click()  # a click is one frame
        page.wait_for_function(f"(({COUNTS_JS})['right'] || 0) === 1", timeout=60_000)
        n_right = record(page, ".tlw-capture", "right", 2.0)
        assert 4 <= n_left <= 20 and 5 <= n_right <= 21, (n_left, n_right)  # 20 frames per hold at most
        shot(page, artifacts_dir, lang, 2, "capture", at=".tlw-capture")
        page.locator(".tlw-capture-use").click()
        used = tr(lang, "The Data step now uses your captured samples.")
        page.wait_for_function(f"document.querySelector('.tlw-studio > .tlw-message').innerText.includes("
                               f"{json.dumps(used)})", timeout=150_000)  # the kernel may still be loading Keras
        files = {c: sorted((home / "captures" / "webcam" / c).glob("*.jpg")) for c in ("left", "right")}
        total = len(files["left"]) + len(files["right"])  # frames in flight at the last count have landed now
        assert len({f.read_bytes() for f in files["left"] + files["right"]}) == total  # the frames differ
        stamps = [f.stat().st_mtime for f in files["left"]]
        print(f"{lang}: {len(stamps)} frames in a 2 s hold, {(len(stamps) - 1) / (stamps[-1] - stamps[0]):.1f}/s")
        page.wait_for_function("document.querySelector('.tlw-data-summary').innerText.includes("
                               f"{json.dumps(str(total))})", timeout=60_000)
        page.wait_for_function("!document.querySelector('.tlw-capture video.tlw-webcam-video').srcObject",
                               timeout=10_000)  # done capturing: the camera is off
        shot(page, artifacts_dir, lang, 3, "data", at=".tlw-studio")

        # 3. Train (the run bar is on every step).
        page.wait_for_selector("button.tlw-start:not(.tlw-start-loading):not([disabled])", timeout=120_000)
        page.locator("button.tlw-start").click()
        finished = sorted({"finished", tr(lang, "finished")})  # the status word, translated or not
        page.wait_for_function(f"{json.dumps(finished)}.includes({STATUS_JS})", timeout=180_000)
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
        shot(page, artifacts_dir, lang, "6a", "snapshot", at=".tlw-try-camera")
        upload = tmp_path / "my photo.jpg"
        upload.write_bytes(sorted((home / "captures" / "webcam" / "right").glob("*.jpg"))[-1].read_bytes())
        with page.expect_file_chooser() as chooser:
            page.locator(".tlw-try-upload").click()
        chooser.value.set_files(str(upload))
        page.wait_for_function("document.querySelector('.tlw-try-results')?.innerText.includes('my photo.jpg')",
                               timeout=120_000)
        page.locator(".tlw-try-camera .tlw-camera-toggle").click()
        shot(page, artifacts_dir, lang, "6b", "upload", at=".tlw-try-summary")

        # 6. Export (the default format) and see it verified.
        page.locator("button.tlw-export-run").click()
        verified = tr(lang, "{format}: verified against Keras.").format(format="tflite")
        page.wait_for_function("(document.querySelector('.tlw-export .tlw-message')?.innerText || '')"
                               f".startsWith({json.dumps(verified)})", timeout=180_000)
        shot(page, artifacts_dir, lang, 7, "export", at=".tlw-export")
    except Exception:
        shot(page, artifacts_dir, lang, 0, "failure")
        print(page.evaluate("[...document.querySelectorAll('.tlw-message')].map(e => e.innerText).join(' | ')"))
        print(page.evaluate("['.tlw-try-it','.tlw-try-camera','.tlw-webcam','.tlw-camera-toggle','.tlw-capture',"
                            "'.tlw-try-step','.tlw-evaluate-step'].map(s => s + '=' + "
                            "document.querySelectorAll(s).length).join(' ')"))
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
