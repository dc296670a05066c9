"""The Studio inside a real JupyterLab notebook, driven by Chromium.

A notebook whose only cell is ``from tl_widgets import Studio; Studio()`` is
opened and run in JupyterLab (random token, free port on 127.0.0.1, temporary
root and ``TL_WIDGETS_HOME``). The run is kept tiny through the page's own
widgets (max/class on the Data tab; one head phase, epochs on the Train tab),
then: Start, the loss trace gains points in the page (the learning-rate
finder refuses to run meanwhile), Stop -> ``stopped``; Start again ->
``finished`` with a validation curve; the learning-rate finder draws its curve
and "Use suggested" sets the head phase's learning rate. Screenshots go to
``test-artifacts/lab-studio-*.png``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.browser.studio_page import LAB_STUDIO, StudioPage

CELL = "from tl_widgets import Studio; Studio()"


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory,
            start_lab: Callable[..., tuple[str, str]]) -> Iterator[tuple[str, Path]]:
    """A JupyterLab serving a temporary root holding ``studio.ipynb``: (URL of the notebook, home)."""
    base_dir = tmp_path_factory.mktemp("lab-studio")
    root, home = base_dir / "root", base_dir / "tlw_home"
    root.mkdir()
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "studio", "metadata": {}, "outputs": [],
                   "source": [CELL]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    (root / "studio.ipynb").write_text(json.dumps(notebook))
    env = {"TL_WIDGETS_HOME": str(home),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    url, token = start_lab(root, base_dir, env=env, name="lab-studio")
    yield f"{url}/lab/workspaces/studio/tree/studio.ipynb?reset&token={token}", home


def _run_cell(page: Any, cell: Any, attempts: int = 4) -> None:
    """Runs ``cell`` with Ctrl+Enter, retrying: a key press sent while the editor is still
    initialising is lost (seen once in CI: the prompt stayed ``[ ]:`` for minutes)."""
    prompt = cell.locator(".jp-InputPrompt").first
    for _ in range(attempts):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # run the cell, stay on it
        try:
            page.wait_for_function(
                "el => !/\\[\\s*\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=20_000)
            return
        except PlaywrightTimeoutError:
            continue
    raise AssertionError(f"Expected the cell to start running after Ctrl+Enter. Received: prompt "
                         f"{prompt.text_content()!r} after {attempts} tries")


def test_studio_trains_in_a_lab_notebook(chromium: Any, lab_url: tuple[str, Path], artifacts_dir: Path) -> None:
    url, home = lab_url
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(60_000)
    page = context.new_page()
    studio = StudioPage(page, root=LAB_STUDIO)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        cell = page.locator(".jp-NotebookPanel .jp-CodeCell").first
        expect(cell.locator(".jp-InputArea-editor")).to_contain_text(CELL, timeout=90_000)
        _run_cell(page, cell)
        studio.wait_open(timeout=180_000)

        # Keep the run tiny through the page's widgets: 30 images per class, one head phase.
        studio.fill("max_per_class", 30)
        studio.click_step("train")
        studio.set_fine_tune(False)
        studio.fill("epochs", 60)
        studio.open_section("Learning-rate finder")  # in the Train tab's accordion
        studio.wait_part("lr_find", timeout=60_000, state="visible")
        studio.fill("lr_steps", 20)
        page.screenshot(path=str(artifacts_dir / "lab-studio-train-tab.png"))

        # 1. A long run: the loss trace gains points in the page; Stop -> "stopped".
        studio.wait_start_enabled()  # in a notebook, Keras loads in the background: "Loading TensorFlow…"
        studio.start_run()
        studio.wait_points("loss", first=True, more_than=2, timeout=300_000)
        assert studio.status() == "running"
        studio.button("lr_find").click()  # refused while training
        studio.wait_text("lr_finder", contains="Refused: a training run is active")
        page.screenshot(path=str(artifacts_dir / "lab-studio-running.png"))
        studio.stop()
        studio.wait_status("stopped")

        # 2. Start again and run to "finished", with a validation curve.
        studio.fill("epochs", 2)
        studio.wait_start_enabled()
        studio.start_run()
        studio.wait_status("finished", timeout=300_000)
        studio.wait_points("live", trace="val")
        page.screenshot(path=str(artifacts_dir / "lab-studio-finished.png"))

        # 3. The learning-rate finder: the curve in the page, then "Use suggested" sets the head's lr.
        studio.button("lr_find").click()
        studio.wait_points("lr", first=True, index=0, more_than=4, timeout=300_000)
        text = studio.text("lr_suggested")
        suggested = float(re.search(r"suggested: ([0-9.e+-]+)", text).group(1))  # type: ignore[union-attr]
        assert 1e-6 <= suggested <= 1.0, text
        studio.button("lr_use").click()
        studio.wait_text("lr_finder", contains="learning rate is now")
        shown = float(studio.field_value("learning_rate"))
        assert shown == pytest.approx(suggested, rel=1e-2), (shown, text)
        page.screenshot(path=str(artifacts_dir / "lab-studio-lr-finder.png"))
    except Exception:
        page.screenshot(path=str(artifacts_dir / "lab-studio-failure.png"))
        raise
    finally:
        context.close()

    from tl_widgets.core.runs.store import RunStore

    runs = RunStore(home).list_runs()
    assert sorted(r["status"] for r in runs) == ["finished", "stopped"], runs
    assert not errors, errors
