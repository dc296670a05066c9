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

pytestmark = pytest.mark.browser

CELL = "from tl_widgets import Studio; Studio()"
STUDIO = ".jp-NotebookPanel .jp-OutputArea-output .tlw-studio"
STATUS_JS = f"((document.querySelector('{STUDIO} .tlw-status') || {{}}).innerText || '').trim()"
TRAIN_NOTICE_JS = f"((document.querySelector('{STUDIO} .tlw-run-notice') || {{}}).innerText || '')"
LOSS_POINTS_JS = (f"(() => {{ const gd = document.querySelector("
                  f"'{STUDIO} .tlw-live-charts .tlw-plotly-chart.js-plotly-plot');"
                  " return gd && gd.data ? gd.data.reduce((n, t) => n + Array.from(t.x || []).length, 0) : 0; })()")
VAL_POINTS_JS = (f"(() => {{ let n = 0;"
                 f" for (const gd of document.querySelectorAll('{STUDIO} .tlw-live-charts .js-plotly-plot'))"
                 " for (const t of gd.data || []) if (/val/.test(t.name || '')) n += Array.from(t.x || []).length;"
                 " return n; })()")

LR_NOTICE_JS = f"((document.querySelector('{STUDIO} .tlw-lr-finder .tlw-message') || {{}}).innerText || '')"
LR_POINTS_JS = (f"(() => {{ const gd = document.querySelector('{STUDIO} .tlw-lr-chart .js-plotly-plot');"
                " return gd && gd.data && gd.data.length ? Array.from(gd.data[0].x || []).length : 0; })()")


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


def _tab(page: Any, key: str) -> None:
    """Shows the Studio's step ``key`` (data, model, train, evaluate, try, runs)."""
    page.locator(f"{STUDIO} button.tlw-step-{key}").click()


def _fill(page: Any, selector: str, value: int) -> None:
    box = page.locator(f"{STUDIO} {selector} input").first
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)


def _start(page: Any) -> None:
    """Presses Start and waits for the new run's notice (so "running" is the new run's status)."""
    before = page.evaluate(TRAIN_NOTICE_JS)
    # In a notebook, Keras loads in the background: Start says "Loading TensorFlow…" until it has.
    page.wait_for_function(f"!document.querySelector('{STUDIO} button.tlw-start').disabled", timeout=180_000)
    page.locator(f"{STUDIO} button.tlw-start").click()
    new_run = f"(() => {{ const t = {TRAIN_NOTICE_JS}; return t !== {before!r} && t.startsWith('Run '); }})()"
    page.wait_for_function(new_run, timeout=60_000)


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
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        cell = page.locator(".jp-NotebookPanel .jp-CodeCell").first
        expect(cell.locator(".jp-InputArea-editor")).to_contain_text(CELL, timeout=90_000)
        _run_cell(page, cell)
        page.locator(STUDIO).wait_for(timeout=180_000)

        # Keep the run tiny through the page's widgets: 30 images per class, one head phase.
        _fill(page, ".tlw-max-per-class", 30)
        _tab(page, "train")
        fine_tune = page.locator(f"{STUDIO} .tlw-fine-tune input").first
        if fine_tune.is_checked():
            fine_tune.uncheck()
        _fill(page, ".tlw-epochs", 60)
        page.locator(STUDIO).get_by_text("Learning-rate finder").first.click()  # in the Train tab's accordion
        page.locator(f"{STUDIO} button.tlw-lr-find").wait_for()
        _fill(page, ".tlw-lr-steps", 20)
        page.screenshot(path=str(artifacts_dir / "lab-studio-train-tab.png"))

        # 1. A long run: the loss trace gains points in the page; Stop -> "stopped".
        _start(page)
        page.wait_for_function(f"{LOSS_POINTS_JS} > 2", timeout=120_000)
        assert page.evaluate(STATUS_JS) == "running"
        page.locator(f"{STUDIO} button.tlw-lr-find").click()  # refused while training
        page.wait_for_function(f"{LR_NOTICE_JS}.includes('Refused: a training run is active')", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "lab-studio-running.png"))
        page.locator(f"{STUDIO} button.tlw-stop").click()
        page.wait_for_function(f"{STATUS_JS} === 'stopped'", timeout=60_000)

        # 2. Start again and run to "finished", with a validation curve.
        _fill(page, ".tlw-epochs", 2)
        _start(page)
        page.wait_for_function(f"{STATUS_JS} === 'finished'", timeout=120_000)
        page.wait_for_function(f"{VAL_POINTS_JS} > 0", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "lab-studio-finished.png"))

        # 3. The learning-rate finder: the curve in the page, then "Use suggested" sets the head's lr.
        page.locator(f"{STUDIO} button.tlw-lr-find").click()
        page.wait_for_function(f"{LR_POINTS_JS} >= 5", timeout=120_000)
        text = page.locator(f"{STUDIO} .tlw-lr-suggested").inner_text()
        suggested = float(re.search(r"suggested: ([0-9.e+-]+)", text).group(1))  # type: ignore[union-attr]
        assert 1e-6 <= suggested <= 1.0, text
        page.locator(f"{STUDIO} button.tlw-lr-use").click()
        page.wait_for_function(f"{LR_NOTICE_JS}.includes('learning rate is now')", timeout=30_000)
        shown = float(page.locator(f"{STUDIO} .tlw-lr input").first.input_value())
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
