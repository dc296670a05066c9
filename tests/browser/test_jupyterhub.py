"""The JupyterHub recipe of docs/WORKSHOP.md, for real: two users log in, each gets the Studio as their own
Voilà page and trains the demo; their runs land in their own homes."""

from __future__ import annotations

import os
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from tests.browser.studio_page import StudioPage

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "docs" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent


def test_two_users_each_train_in_their_own_studio(chromium, free_port, start_server, artifacts_dir, tmp_path):
    # `make test` installs the hub extra: a missing JupyterHub or proxy is a set-up failure, not a skip.
    if importlib.util.find_spec("jupyterhub") is None or not (
            shutil.which("configurable-http-proxy") or (BIN / "configurable-http-proxy").exists()):
        pytest.fail("Expected jupyterhub and configurable-http-proxy (pip install 'tl-widgets[hub]', as `make test` "
                    "does). Received: at least one is missing")
    port, api, hub = free_port(), free_port(), free_port()
    (tmp_path / "hub").mkdir()
    config = tmp_path / "test_config.py"
    config.write_text(
        f"load_subconfig({str(RECIPE)!r})\n"
        f"c.JupyterHub.ip = '127.0.0.1'\nc.JupyterHub.port = {port}\nc.JupyterHub.hub_port = {hub}\n"
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{api}'\n"
        "import os\n"
        "if os.geteuid() == 0:  # test machines run as root; the single-user server refuses that unless told\n"
        "    c.Spawner.args = [*c.Spawner.args, '--allow-root']\n"
        "c.Spawner.environment = {**c.Spawner.environment, 'TL_WIDGETS_STUDIO_EPOCHS': '1',\n"
        "                         'TL_WIDGETS_STUDIO_MAX_PER_CLASS': '20'}\n"
        "c.Spawner.start_timeout = 180\nc.Spawner.http_timeout = 180\n", encoding="utf-8")
    env = {**os.environ, "TLW_HUB_ROOT": str(tmp_path), "TLW_HUB_PASSWORD": "class-password",
           "TLW_HUB_USERS": "ada bob", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("TL_WIDGETS_HOME", None)  # each user's home decides where their runs go
    base = f"http://127.0.0.1:{port}"
    server = start_server([str(BIN / "jupyterhub"), "-f", str(config)], ready_url=f"{base}/hub/login", env=env,
                          cwd=tmp_path, timeout=120, name="jupyterhub")
    import time
    import urllib.error
    import urllib.request

    last = None
    for _ in range(240):  # the proxy answers (404) before the hub's route is added
        try:
            with urllib.request.urlopen(f"{base}/hub/login", timeout=5) as reply:
                last = reply.status
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if last == 200:
            break
        time.sleep(0.5)
    assert last == 200, f"Expected the hub's login page. Received: {last}"
    pages = {}
    try:
        for user in ("ada", "bob"):
            page = chromium.new_context(viewport={"width": 1300, "height": 1000}).new_page()
            page.goto(f"{base}/hub/login", timeout=60_000)
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", "class-password")
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/user/**", timeout=240_000)
            pages[user] = page
        for user, page in pages.items():
            studio = StudioPage(page)
            studio.open(f"{base}/user/{user}/voila/render/studio.ipynb", timeout=240_000)
            studio.click_step("train")
            studio.wait_start_enabled(timeout=240_000)  # TensorFlow loaded
            studio.button("start").click()
        for user, page in pages.items():
            StudioPage(page).wait_status("finished", timeout=300_000)
            page.screenshot(path=str(artifacts_dir / f"jupyterhub_{user}.png"), full_page=True)
    except Exception:
        for user, page in pages.items():
            page.screenshot(path=str(artifacts_dir / f"jupyterhub_{user}_failure.png"), full_page=True)
        print(server.log_tail(6000))
        raise
    finally:
        for page in pages.values():
            page.context.close()
    for user in ("ada", "bob"):  # each user's run is in their own home
        runs = list((tmp_path / "homes" / user / ".tl_widgets" / "runs").glob("*/config.json"))
        assert len(runs) == 1, (user, runs)
