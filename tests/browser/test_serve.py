"""``tl-widgets serve --workshop FILE`` in Chromium: the token is required, sources are stripped, and values
above the workshop's limits typed into the page are refused in Python with a message."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

RUNNER = """
import argparse, sys
from tl_widgets.cli import serve
parser = argparse.ArgumentParser(); sub = parser.add_subparsers()
serve.register(sub)
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""
TRAIN_NOTICE_JS = "((document.querySelector('.tlw-train-panel .tlw-message') || {}).innerText || '')"
DATA_NOTICE_JS = "((document.querySelector('.tlw-data-panel .tlw-message') || {}).innerText || '')"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '')"
TOKEN = "workshop-test-token-42"


def _type(page, selector: str, value: int) -> None:
    box = page.locator(f"{selector} input").first
    box.fill(str(value))
    box.press("Enter")


def test_serve_with_workshop(chromium, free_port, start_server, artifacts_dir, tmp_path):
    (tmp_path / "data").mkdir()
    workshop = tmp_path / "workshop.yaml"
    workshop.write_text("name: Browser class\ndata_roots: [data]\nallowed_backbones: [demo_cnn]\n"
                        "max_epochs: 3\nmax_batch_size: 16\nmax_upload_mb: 1\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20", "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                              f"{os.environ.get('PATH', '')}"}
    server = start_server([sys.executable, "-c", RUNNER, "serve", "--workshop", str(workshop), "--port", str(port),
                           "--token", TOKEN, "--no-browser"],
                          ready_url=f"http://127.0.0.1:{port}/", env=env, cwd=tmp_path, name="serve")
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # 1. No token: the login page, never the Studio.
        page.goto(server.ready_url, timeout=60_000)
        assert "/login" in page.url and page.locator(".tlw-studio").count() == 0

        # 2. With the token: the Studio with the workshop banner; the notebook's code is not in the page.
        page.goto(f"{server.ready_url}?token={TOKEN}", timeout=120_000)
        page.wait_for_selector(".tlw-studio", timeout=120_000)
        assert "Browser class" in page.locator(".tlw-workshop").inner_text()
        assert "Studio(config" not in page.content()

        # 3. Typed values above the workshop's limits: refused in Python, with the reason, and reset.
        page.locator(".tlw-tabs .lm-TabBar-tab", has_text="Train").first.click()
        _type(page, ".tlw-epochs", 50)
        page.wait_for_function(f"{TRAIN_NOTICE_JS}.includes('Received: epochs=50')", timeout=30_000)
        assert "Expected epochs between 0 and 3" in page.evaluate(TRAIN_NOTICE_JS)
        page.wait_for_function("document.querySelector('.tlw-epochs input').value === '1'", timeout=30_000)
        page.locator(".tlw-tabs .lm-TabBar-tab", has_text="Data").first.click()
        _type(page, ".tlw-batch-size", 64)
        page.wait_for_function(f"{DATA_NOTICE_JS}.includes('Received: batch_size=64')", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "serve_refused.png"), full_page=True)

        # 4. Within the limits, training runs to the end.
        page.locator(".tlw-tabs .lm-TabBar-tab", has_text="Train").first.click()
        page.locator("button.tlw-start").click()
        page.wait_for_function(f"{STATUS_JS}.trim() === 'finished'", timeout=180_000)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "serve_failure.png"), full_page=True)
        print(server.log_tail(4000))
        raise
    finally:
        page.close()
    assert not errors, errors
