"""Cameras over the room's network: a laptop that opens the room by name (``classroom.test``, which Chromium
resolves to 127.0.0.1) gets no camera over plain http — the capture panel says why — and a working camera over
``serve --https`` once the self-signed certificate is accepted; the fingerprint ``serve`` prints is the
certificate's the server really presents."""

from __future__ import annotations

import os
import re
import ssl
import sys
from pathlib import Path

from tests.browser.studio_page import CapturePage, StudioPage
from tests.browser.room_server import SERVE

TOKEN = "https-camera-test-token-42"
NAME = "classroom.test"
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
               f"--host-resolver-rules=MAP {NAME} 127.0.0.1"]


def _serve(start_server, free_port, tmp_path, *extra: str):
    (tmp_path / "data").mkdir(exist_ok=True)
    port = free_port()
    env = {**os.environ, "TL_WIDGETS_HOME": str(tmp_path / "home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    scheme = "https" if "--https" in extra else "http"
    # 0.0.0.0: the page is opened by name, as from a laptop on the room's network (the test only ever connects
    # to 127.0.0.1). The engine is left out: the camera needs none.
    server = start_server([*SERVE, "--data-root", str(tmp_path / "data"),
                           "--ip", "0.0.0.0", "--port", str(port), "--token", TOKEN, "--no-browser",
                           "--engine", "in-process", *extra],
                          ready_url=f"{scheme}://127.0.0.1:{port}/tl-widgets-ready", env=env, cwd=tmp_path,
                          name=f"serve-{scheme}", insecure=True)
    return server, port


def test_http_on_the_network_says_why_there_is_no_camera(launch, start_server, free_port, tmp_path, artifacts_dir):
    server, port = _serve(start_server, free_port, tmp_path)
    page = launch(FAKE_CAMERA).new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"http://{NAME}:{port}/?token={TOKEN}", timeout=120_000)
    studio = StudioPage(page)
    studio.wait_open(timeout=180_000)
    assert page.evaluate("window.isSecureContext") is False
    studio.open_capture()
    capture = CapturePage(page)
    capture.wait_shown()
    capture.toggle_camera()
    capture.wait_notice("https")
    assert "served over https" in capture.notice()
    page.screenshot(path=str(artifacts_dir / "camera_http_network.png"), full_page=True)


def test_https_on_the_network_gives_the_camera(launch, start_server, free_port, tmp_path, artifacts_dir):
    server, port = _serve(start_server, free_port, tmp_path, "--https")
    printed = re.search(r"SHA-256 fingerprint is ([0-9A-F:]{95})", server.log_tail(20_000))
    assert printed, server.log_tail(3000)
    from tl_widgets.server.tls import fingerprint

    presented = Path(tmp_path / "presented.pem")
    presented.write_text(ssl.get_server_certificate(("127.0.0.1", port)), encoding="ascii")
    assert fingerprint(presented) == printed.group(1)  # what students compare is what the server shows
    key = next((tmp_path / "home" / "tls").glob("*key*.pem"))
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    page = launch([*FAKE_CAMERA, "--ignore-certificate-errors"]).new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"https://{NAME}:{port}/?token={TOKEN}", timeout=120_000)
    studio = StudioPage(page)
    studio.wait_open(timeout=180_000)
    assert page.evaluate("window.isSecureContext") is True and page.url.startswith(f"https://{NAME}:")
    studio.open_capture()
    capture = CapturePage(page)
    capture.wait_shown()
    capture.camera_on()  # the picture arrives: the browser gave the camera to the page
    capture.add_class("over-https")
    capture.snap()
    capture.wait_count("over-https", equals=1, timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "camera_https_network.png"), full_page=True)
    seats = list((tmp_path / "home" / "seats").glob("seat-*/captures/webcam/over-https/*.jpg"))
    assert len(seats) == 1  # the frame landed in this seat's own folder
