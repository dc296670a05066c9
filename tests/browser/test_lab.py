"""The JupyterLab extension in a real JupyterLab, driven by Chromium.

One ``jupyter lab`` serves the whole module (random token, free port on
127.0.0.1, temporary root and ``TL_WIDGETS_HOME``). The tests check that the
extension is installed and enabled, that the Launcher card opens and runs a
Studio notebook, that "Open Studio in Voilà" opens the Voilà app, and that
the "Training runs" sidebar and the status bar follow runs live: a synthetic
run driven through ``RunRecorder`` and a real ``tl-widgets train --demo``.
Screenshots go to ``test-artifacts/lab-*.png``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.studio_page import LAB_STUDIO, StudioPage

LAB_TIMEOUT_MS = 60_000


class Lab:
    """A running JupyterLab: its URL with token, root dir and run-store home."""

    def __init__(self, base: str, token: str, root: Path, home: Path, env: dict[str, str]) -> None:
        self.base, self.token, self.root, self.home, self.env = base, token, root, home, env

    def url(self, workspace: str) -> str:
        """Lab in its own fresh workspace, so one test's open tabs never leak into the next."""
        return f"{self.base}/lab/workspaces/{workspace}?reset&token={self.token}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, start_lab: Callable[..., tuple[str, str]]) -> Iterator[Lab]:
    base_dir = tmp_path_factory.mktemp("lab")
    root, home = base_dir / "root", base_dir / "tlw_home"
    root.mkdir()
    env = {**os.environ, "TL_WIDGETS_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    url, token = start_lab(root, base_dir, env=env, name="lab")
    yield Lab(url, token, root, home, env)


@pytest.fixture
def page(chromium: Any, lab: Lab, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context on Lab, ready (Launcher shown); screenshot on teardown."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(LAB_TIMEOUT_MS)
    pg = context.new_page()
    shot = artifacts_dir / f"lab-{request.node.name}.png"
    try:
        pg.goto(lab.url(re.sub(r"\W", "-", request.node.name)))
        pg.wait_for_selector(".jp-Launcher", timeout=LAB_TIMEOUT_MS)
        yield pg
        pg.screenshot(path=str(shot))
    except BaseException:
        pg.screenshot(path=str(shot))
        raise
    finally:
        context.close()


def _jupyter(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # drop colour codes


def test_extensions_are_installed_and_enabled() -> None:
    labext = _jupyter("labextension", "list")
    assert re.search(r"tl-widgets-labextension v\S+ enabled\s+OK", labext), labext
    serverext = _jupyter("server", "extension", "list")
    assert re.search(r"tl_widgets\.server enabled", serverext), serverext


def test_launcher_card_opens_and_runs_a_studio_notebook(page: Any, lab: Lab) -> None:
    card = page.locator(".jp-LauncherCard", has_text="Transfer Learning Studio")
    card.first.wait_for()
    card.first.click()
    panel = page.locator(".jp-NotebookPanel").first
    panel.wait_for()
    cell = panel.locator(".jp-CodeCell").first
    expect(cell.locator(".jp-InputArea-editor")).to_contain_text("from tl_widgets import Studio")
    # The cell was run: its prompt gets an execution count once the kernel has answered.
    cell.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[\d+\]")).wait_for(timeout=120_000)
    created = sorted(p.name for p in lab.root.glob("*.ipynb"))
    assert created and any(name.startswith("Untitled") for name in created), created


def test_launcher_card_shows_the_studio(page: Any) -> None:
    page.locator(".jp-LauncherCard", has_text="Transfer Learning Studio").first.click()
    StudioPage(page, root=LAB_STUDIO).wait_open(timeout=180_000)


def test_palette_opens_studio_in_voila(page: Any, lab: Lab) -> None:
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette input, #command-palette input").first
    palette.fill("Open Studio in Voil")
    page.locator(".lm-CommandPalette-item", has_text="Open Studio in Voilà").first.wait_for()
    with page.context.expect_page() as popup_info:
        page.keyboard.press("Enter")
    popup = popup_info.value
    popup.wait_for_url(re.compile(r"/voila/render/tl_widgets_studio\.ipynb"), timeout=30_000)
    notebook = lab.root / "tl_widgets_studio.ipynb"
    assert notebook.exists()
    cells = json.loads(notebook.read_text())["cells"]
    source = cells[0]["source"]
    assert (source if isinstance(source, str) else "".join(source)) == "from tl_widgets import Studio\nStudio()"
    popup.close()


_SYNTHETIC_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tl_widgets.core.events import BatchEnd, EpochEnd, RunFinished, RunStarted
    from tl_widgets.core.runs.store import RunRecorder, RunStore

    run_id, release = sys.argv[1], Path(sys.argv[2])
    rec = RunRecorder(RunStore(), source="python")
    rec(RunStarted(run_id, config={"run_name": "synthetic"}, run_dir=None, total_epochs=2, steps_per_epoch=4))
    for step in range(1, 5):
        rec(BatchEnd(run_id, phase=0, epoch=0, step=step, global_step=step, metrics={"loss": 1.0 / step},
                     images_per_sec=100.0, learning_rate=1e-3, steps_per_epoch=4))
    rec(EpochEnd(run_id, phase=0, epoch=0, metrics={"accuracy": 0.5, "val_accuracy": 0.625}, duration=1.0))
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    rec(EpochEnd(run_id, phase=0, epoch=1, metrics={"accuracy": 0.75, "val_accuracy": 0.875}, duration=1.0))
    rec(RunFinished(run_id, metrics={"accuracy": 0.75, "val_accuracy": 0.875}, run_dir=None, duration=2.0))
    assert not rec.errors, rec.errors
    """
)


def _open_sidebar(page: Any) -> Any:
    page.locator('.jp-SideBar [data-id="tl-widgets-runs"]').first.click()
    sidebar = page.locator(".tlw-runs-sidebar")
    sidebar.wait_for()
    return sidebar


def test_sidebar_follows_a_recorded_run(page: Any, lab: Lab, tmp_path: Path, artifacts_dir: Path) -> None:
    run_id = f"20261128-120000-synthetic-{secrets.token_hex(2)}"
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, "-c", _SYNTHETIC_RUN, run_id, str(release)], env=lab.env)
    try:
        sidebar = _open_sidebar(page)
        item = sidebar.locator(f'.tlw-run-item[data-run-id="{run_id}"]')
        item.locator(".tlw-run-status", has_text="running").wait_for(timeout=30_000)
        item.locator(".tlw-run-best", has_text="val_accuracy 0.625").wait_for()
        assert "epoch 1/2" in item.inner_text()
        page.locator(".tlw-status-item", has_text="1 training").wait_for()
        page.screenshot(path=str(artifacts_dir / "lab-sidebar-running.png"))
        release.touch()
        item.locator(".tlw-run-status", has_text="finished").wait_for(timeout=30_000)
        item.locator(".tlw-run-best", has_text="val_accuracy 0.875").wait_for()
        page.locator(".tlw-status-item").wait_for(state="hidden")
        item.click()
        summary = page.locator(".tlw-run-summary")
        summary.locator(".tlw-summary-epochs").wait_for()
        text = summary.inner_text()
        assert run_id in text and "synthetic" in text and "val_accuracy" in text and "0.875" in text
        assert proc.wait(30) == 0
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_sidebar_shows_a_cli_demo_run(page: Any, lab: Lab, tmp_path: Path) -> None:
    sidebar = _open_sidebar(page)
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "tl_widgets", "train", "--demo", "--epochs", "1", "--quiet", "--out", str(tmp_path)],
        env=lab.env, capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    run_id = Path(re.search(r"finished: (\S+)", out.stdout).group(1)).name  # type: ignore[union-attr]
    item = sidebar.locator(f'.tlw-run-item[data-run-id="{run_id}"]')
    item.locator(".tlw-run-status", has_text="finished").wait_for(timeout=30_000)
    assert re.search(r"val_accuracy \d", item.inner_text()), item.inner_text()
    assert time.monotonic() - t0 < 240
