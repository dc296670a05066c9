"""The room server's phone door (server/phone_capture.py) over real HTTP: a Tornado app with only its handlers.

Everything a phone sends is hostile: each refusal has its status (403 bad, replaced or expired link; 413 too large;
415 not an image; 429 too fast; 409 a full class) and a message the phone page shows; tokens stay out of the log.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.core.test_phone_link import _image, _seat
from tl_widgets.core.data.capture import CaptureStore
from tl_widgets.core.room.phone_link import issue_link, revoke_link
from tl_widgets.core.room.workshop import Workshop
from tl_widgets.core.settings import captures_home
from tl_widgets.server.phone_capture import PhoneRoom, phone_handlers


@pytest.fixture
def room(tmp_path):
    """A Tornado app serving the phone handlers for the seats under ``tmp_path/seats`` on a free port."""
    import tornado.httpserver
    import tornado.web

    seats = tmp_path / "seats"
    ws = Workshop(data_roots=[tmp_path], allowed_backbones=["demo_cnn"], max_epochs=2, max_batch_size=8,
                  max_upload_mb=0.05, max_seat_disk_mb=1)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        app = tornado.web.Application(phone_handlers("/", PhoneRoom(seats, ws)))
        server = tornado.httpserver.HTTPServer(app)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        box["port"] = sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()

    import tornado.netutil

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield seats, f"http://127.0.0.1:{box['port']}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _request(url: str, data: bytes | None = None, content_type: str = "image/jpeg") -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _class(seat: Path, name: str) -> CaptureStore:
    store = CaptureStore(captures_home(seat) / "webcam")
    store.add_class(name)
    return store


def test_a_phone_sends_photos_into_its_seats_class(room, caplog):
    seats, base = room
    seat, other = _seat(seats, "seat-aaaa"), _seat(seats, "seat-bbbb")
    store = _class(seat, "cups")
    _class(other, "cups")
    token = issue_link(seat, "cups")
    status, page = _request(f"{base}/tl-widgets-phone/{token}")
    assert status == 200 and "cups" in page and "getUserMedia" in page and "environment" in page
    assert token not in page  # the page posts to its own address: the token is not written into it
    for seed in range(3):
        status, body = _request(f"{base}/tl-widgets-phone/{token}/frame", _image(seed=seed))
        assert status == 200, body
    assert json.loads(body) == {"ok": True, "class": "cups", "count": 3}
    # the label does not decide: a JPEG sent as "image/png" is a JPEG
    assert _request(f"{base}/tl-widgets-phone/{token}/frame", _image(seed=9), "image/png")[0] == 200
    store.rescan()
    assert store.counts() == {"cups": 4}
    assert not list((captures_home(other) / "webcam" / "cups").iterdir())  # the other seat got nothing


def test_hostile_requests_get_their_status_and_a_message(room):
    seats, base = room
    seat = _seat(seats, "seat-aaaa")
    _class(seat, "cups")
    token = issue_link(seat, "cups")
    frame = f"{base}/tl-widgets-phone/{token}/frame"
    status, page = _request(f"{base}/tl-widgets-phone/{'A' * 43}")
    assert status == 403 and "not valid" in page and "<script" not in page
    status, body = _request(f"{base}/tl-widgets-phone/{'A' * 43}/frame", _image())
    assert status == 403 and "not valid" in json.loads(body)["message"]
    status, body = _request(frame, b"\xff\xd8\xff" + b"\0" * 60_000)  # over the room's 0.05 MiB upload limit
    assert status == 413 and "at most 52,428 bytes" in json.loads(body)["message"]
    status, body = _request(frame, b"\xff\xd8\xff" + b"\0" * 400_000)  # not even read
    assert status == 413
    status, body = _request(frame, _image("PNG"), "image/jpeg")
    assert status == 415 and "JPEG" in json.loads(body)["message"]
    status, body = _request(frame, b"GIF89a not really")
    assert status == 415
    status, body = _request(f"{base}/tl-widgets-phone/{token}/frame", _image())
    assert status == 200
    codes = [_request(frame, _image(seed=s))[0] for s in range(12)]  # faster than 10 a second
    assert 429 in codes
    revoke_link(seat)  # "Turn phone link off"
    status, body = _request(frame, _image())
    assert status == 403 and "turned off or replaced" in json.loads(body)["message"]


def test_a_deleted_class_and_the_seat_quota_are_409(room):
    seats, base = room
    seat = _seat(seats, "seat-aaaa")
    (seat / "big.bin").write_bytes(b"\0" * (2**20 - 12_000))  # the 1 MiB seat quota almost full
    store = _class(seat, "cups")
    token = issue_link(seat, "cups")
    store.remove_class("cups")  # deleted in the Studio meanwhile
    small = _image()
    assert len(small) < 10_000
    status, body = _request(f"{base}/tl-widgets-phone/{token}/frame", small)
    assert status == 409 and "Expected one of the classes" in json.loads(body)["message"]
    _class(seat, "cups")
    big = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (140, 140, 3), dtype=np.uint8)).save(big, "JPEG",
                                                                                                  quality=95)
    assert 12_000 < len(big.getvalue()) < 50_000
    status, body = _request(f"{base}/tl-widgets-phone/{token}/frame", big.getvalue())
    assert status == 409 and "disk quota" in json.loads(body)["message"]


def test_the_log_never_shows_a_phone_token():
    from tl_widgets.server.log_scrub import scrub_secrets

    token = "Zq3" * 15
    line = f"403 GET /base/tl-widgets-phone/{token} (10.0.0.5) 2.1ms; POST /tl-widgets-phone/{token}/frame"
    clean = scrub_secrets(line)
    assert token not in clean and clean.count("/tl-widgets-phone/[secret]") == 2 and "/frame" in clean


def test_the_phone_door_imports_no_tensorflow(tmp_path):
    """The room's server process stays thin: serving phone links imports no Keras, TensorFlow, JAX or widgets."""
    import os
    import subprocess
    import sys

    from tl_widgets.core.settings import SEATS_ENV

    code = ("import sys, tl_widgets.server.log_scrub\n"
            "from tl_widgets.server.room_server import _phone_handlers\n"
            "assert len(_phone_handlers('/')) == 2\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'sklearn', 'ipywidgets') if m in sys.modules))")
    env = {**os.environ, SEATS_ENV: str(tmp_path / "seats")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]


def test_the_phone_page_speaks_the_rooms_language():
    import re

    from tl_widgets.core import i18n
    from tl_widgets.server.phone_page import page_texts, phone_error_page, phone_page

    english = phone_page("mugs", "n0nce")
    try:
        i18n.set_language("zh_CN")
        chinese, texts = phone_page("mugs", "n0nce"), page_texts()
        refused = phone_error_page(_refusal())
    finally:
        i18n.set_language("en")
    assert '<html lang="zh-CN">' in chinese and "拍照" in chinese and "Take photo" in english
    words = [v for v in texts.values() if isinstance(v, str)]
    assert words and all(re.search(r"[\u4e00-\u9fff]", v) for v in words), words
    assert re.search(r"[\u4e00-\u9fff]", refused)


def _refusal() -> str:
    from tl_widgets.core.room.phone_link import PhoneLinkError, verify_link

    try:
        verify_link("/nonexistent-seats", "bad")
    except PhoneLinkError as exc:
        return str(exc)
    raise AssertionError("Expected a made-up token to be refused")
