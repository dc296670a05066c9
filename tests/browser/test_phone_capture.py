"""Phone capture into a served seat: ``serve --https`` on a room name (``classroom.test``, which Chromium resolves to
127.0.0.1), a student's Studio shows a QR code of the phone page at the address the student used, a phone-sized
browser opens it (back camera: Chromium's fake one), takes three photos, and they land in the student's seat, in the
picked class, and in the Studio's counts. A made-up link gets the 403 page; a link turned off stops working."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.browser.studio_page import CapturePage, PhonePage, StudioPage
from tests.browser.test_https_camera import FAKE_CAMERA, NAME, TOKEN, _serve

pytestmark = pytest.mark.slow

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2,
         "ignore_https_errors": True}


def test_a_phone_sends_photos_into_the_students_seat(launch, start_server, free_port, tmp_path, artifacts_dir):
    server, port = _serve(start_server, free_port, tmp_path, "--https")
    browser = launch([*FAKE_CAMERA, "--ignore-certificate-errors"])
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(f"https://{NAME}:{port}/?token={TOKEN}", timeout=120_000)
    studio = StudioPage(page)
    studio.wait_open(timeout=180_000)
    studio.open_capture()
    capture = CapturePage(page)
    capture.wait_shown()
    capture.add_class("mugs")
    url = capture.phone_on()
    assert url.startswith(f"https://{NAME}:{port}/tl-widgets-phone/"), url  # the address the student's browser used
    assert "Phone link on" in capture.phone_status()
    capture.phone_qr().scroll_into_view_if_needed()
    capture.phone_qr().screenshot(path=str(artifacts_dir / "phone_capture_panel_qr.png"))

    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    phone.goto(url, timeout=60_000)
    camera = PhonePage(phone)
    assert camera.class_name() == "mugs"
    camera.wait_camera()
    for _i in range(3):
        camera.snap()
    assert camera.sent() == 3 and "Sent" in camera.message()
    phone.screenshot(path=str(artifacts_dir / "phone_capture_phone.png"))
    capture.wait_count("mugs", equals=3, timeout=30_000)  # the Studio saw the phone's photos arrive
    frames = list((tmp_path / "home" / "seats").glob("seat-*/captures/webcam/mugs/*.jpg"))
    assert len(frames) == 3  # in this student's own seat folder
    page.screenshot(path=str(artifacts_dir / "phone_capture_studio.png"), full_page=True)

    capture.add_class("plates")  # picked in the Studio: the phone's next photos go there, same link
    sent = camera.hold(1.5)  # hold to record: a few photos a second
    assert sent > 4 and camera.class_name() == "plates", camera.message()
    capture.wait_count("plates", equals=sent - 3, timeout=30_000)
    assert capture.counts()["mugs"] == 3

    made_up = urllib.parse.urljoin(url, "A" * 43)
    answer = phone.goto(made_up)
    assert answer.status == 403 and "not valid" in camera.refused()
    phone.screenshot(path=str(artifacts_dir / "phone_capture_refused.png"))
    log = server.log_tail(200_000)
    assert url.rsplit("/", 1)[1] not in log and "tl-widgets-phone/[secret]" in log  # tokens stay out of the log

    capture.locator("button.tlw-phone-off").click()  # "Turn phone link off": the phone's page opens nothing now
    page.wait_for_selector(".tlw-phone-link button.tlw-phone-on", state="visible", timeout=20_000)
    answer = phone.goto(url)
    assert answer.status == 403 and "turned off or replaced" in camera.refused()
    phone_context.close()


def test_over_plain_http_the_phone_uses_its_camera_app(launch, start_server, free_port, tmp_path, artifacts_dir):
    """No https: the browser gives the phone page no camera; it says so, and a photo from the camera app (a file
    input) is scaled down and sent the same way."""
    from PIL import Image

    server, port = _serve(start_server, free_port, tmp_path)
    browser = launch(FAKE_CAMERA)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(f"http://{NAME}:{port}/?token={TOKEN}", timeout=120_000)
    studio = StudioPage(page)
    studio.wait_open(timeout=180_000)
    studio.open_capture()
    capture = CapturePage(page)
    capture.wait_shown()
    capture.add_class("keys")
    url = capture.phone_on()
    assert url.startswith(f"http://{NAME}:{port}/tl-widgets-phone/") and "plain http" in capture.phone_status()
    photo = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (3000, 2000), (200, 120, 40)).save(photo, "JPEG")  # a phone camera's size: sent scaled down
    phone = browser.new_context(**{k: v for k, v in PHONE.items() if k != "ignore_https_errors"}).new_page()
    phone.goto(url, timeout=60_000)
    camera = PhonePage(phone)
    assert "--https" in camera.wait_hint("https") and not camera.live_shown()
    camera.send_files(str(photo))
    assert "--https" in camera.wait_hint("https") and "Sent" in camera.message()  # the reason stays
    phone.screenshot(path=str(artifacts_dir / "phone_capture_http.png"))
    capture.wait_count("keys", equals=1, timeout=30_000)
    (frame,) = (tmp_path / "home" / "seats").glob("seat-*/captures/webcam/keys/*.jpg")
    with Image.open(frame) as im:
        assert max(im.size) == 1024  # scaled down on the phone, under the room's frame limit
