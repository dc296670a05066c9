"""The Studio's room limits at unit level: one evaluation at a time, and the seat's disk quota
(``max_seat_disk_mb``) refusing an upload that would exceed it, with a message naming the limit."""

from __future__ import annotations

import io
import tempfile
import threading
import types
import zipfile

import pytest

from tl_widgets.core.settings import HOME_ENV, SEATS_ENV


def _png_zip() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, colour in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
            for i in range(6):
                img = io.BytesIO()
                Image.new("RGB", (16, 16), tuple(c + 5 * i for c in colour)).save(img, "PNG")
                zf.writestr(f"{label}/{i}.png", img.getvalue())
    return buf.getvalue()


@pytest.fixture
def quiet_env(tmp_path, monkeypatch):
    from tl_widgets.core.room import seat as seat_module

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(seat_module, "_CURRENT", None)
    return monkeypatch


def test_a_second_evaluate_click_while_one_runs_is_refused(quiet_env, trained_demo_result):
    from tl_widgets.core.evaluation import evaluate as evaluate_module
    from tl_widgets.panels.evaluate import EvaluatePanel
    from tl_widgets.studio import Studio

    quiet_env.delenv(SEATS_ENV, raising=False)
    real, hold, started = evaluate_module.evaluate_run, threading.Event(), threading.Event()

    def held(run_dir):  # the real evaluation, held until the test lets it go
        started.set()
        hold.wait(60)
        return real(run_dir)

    quiet_env.setattr(evaluate_module, "evaluate_run", held)
    studio = Studio()
    studio.train.session = types.SimpleNamespace(result=trained_demo_result, running=False)  # a finished run
    assert studio.evaluate_last_run()
    first = next(c for c in studio.evaluation.children if isinstance(c, EvaluatePanel))
    assert started.wait(30) and first.busy
    assert not studio.evaluate_last_run()
    assert "Busy: an evaluation is already running" in studio.notice.text
    assert first in studio.evaluation.children  # the running one is kept, no second one started
    hold.set()
    first.wait(120)
    assert first.report is not None and first.report.count > 0
    assert studio.evaluate_last_run()  # once it ended, a new click evaluates again
    second = next(c for c in studio.evaluation.children if isinstance(c, EvaluatePanel))
    assert second is not first
    second.wait(120)


def test_the_seat_disk_quota_refuses_an_upload_and_names_the_limit(quiet_env, tmp_path):
    from tl_widgets.core.room.workshop import workshop_from_dict
    from tl_widgets.studio import Studio

    (tmp_path / "data").mkdir()
    ws = workshop_from_dict({"data_roots": [str(tmp_path / "data")], "allowed_backbones": ["demo_cnn"],
                             "max_epochs": 3, "max_batch_size": 16, "max_upload_mb": 0.1,
                             "max_seat_disk_mb": 1})
    quiet_env.setenv(SEATS_ENV, str(tmp_path / "seats"))
    studio = Studio(workshop=ws)
    try:
        seat = studio.seat
        assert seat is not None
        content = _png_zip()
        assert studio.data.take_zip_bytes(content, "first.zip") is not None, studio.data.notice.text
        (seat.home / "big.bin").write_bytes(b"x" * (900 * 1024))  # the seat now holds ~0.9 MiB
        assert studio.data.take_zip_bytes(content, "second.zip") is None
        text = studio.data.notice.text
        assert "Refused 'second.zip'" in text and "at most 1 MiB of disk (workshop limit)" in text, text
        assert not list(seat.tmp.rglob("second.zip"))  # nothing saved
        # The webcam capture writes into the same seat: every frame counts, and the one that would pass is refused.
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG")
        capture = studio.capture
        assert capture.create_class("red") == "red"
        room = 2**20 - seat.disk_bytes() - 2 * len(buf.getvalue()) - 100  # room for two frames, not three
        (seat.home / "more.bin").write_bytes(b"x" * room)
        for burst in range(1, 5):  # each frame its own "hold": the burst ids come from the page
            capture.webcam._handle_msg({"content": {"data": {"method": "custom", "content": {
                "type": "frame", "burst": burst, "seq": 1}}}, "buffers": [memoryview(buf.getvalue())]})
        assert capture.store.counts() == {"red": 2}, capture.notice.text
        assert "disk quota (workshop limit)" in capture.notice.text, capture.notice.text
        assert seat.disk_bytes() <= 2**20
        assert capture.store.root.is_relative_to(seat.home)
    finally:
        studio.room_watcher.halt()
        from tl_widgets.core.training.session import set_start_gate

        set_start_gate(None)
