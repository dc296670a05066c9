"""CapturePanel and the webcam widget, fed the messages the page sends (JSON content + one JPEG buffer)."""

from __future__ import annotations

import io
import types

import numpy as np
import pytest
from PIL import Image

from tl_widgets.panels.capture import CapturePanel, attach_camera
from tl_widgets.views.widgets.webcam import Webcam, camera_error_message


def _jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _from_page(widget: Webcam, content: object, buffers: list[bytes]) -> None:
    """Delivers a custom message as ipywidgets does for one that came over the comm."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                        "buffers": [memoryview(b) for b in buffers]})


def _page_sets(widget: Webcam, **state: object) -> None:
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def test_two_classes_recorded_then_used(tmp_path):
    used: list[str] = []
    panel = CapturePanel(tmp_path / "home", used.append)
    assert panel.use_button.disabled and not panel.webcam.enabled  # no class yet: the shutter is off
    assert panel.create_class("../up") is None and "'/'" in panel.notice.text
    assert panel.create_class("thumbs up") == "thumbs up"
    assert panel.webcam.enabled and panel.classes.value == "thumbs up"
    for seq in range(1, 4):
        _from_page(panel.webcam, {"type": "frame", "burst": 1, "seq": seq}, [_jpeg(seq)])
    panel.class_name.value = "open hand"
    panel.add_button.click()
    assert panel.classes.value == "open hand"
    _from_page(panel.webcam, {"type": "frame", "burst": 2, "seq": 1}, [_jpeg(7)])
    assert panel.use_samples() is None and "open hand (1)" in panel.notice.text and not used
    _from_page(panel.webcam, {"type": "frame", "burst": 2, "seq": 2}, [_jpeg(8)])
    assert panel.store.counts() == {"thumbs up": 3, "open hand": 2}
    assert "<td>open hand</td><td style='text-align:right'>2</td>" in panel.counts.value
    assert [bool(t.value) for t in panel.thumbs] == [True] * 2 + [False] * 4
    assert [t.layout.visibility for t in panel.thumbs[1:3]] == ["visible", "hidden"]
    assert panel.thumbs[1].value == (panel.store.root / "open hand" / "00002.jpg").read_bytes()
    assert not panel.use_button.disabled
    panel.camera.value = True
    panel.use_button.click()
    assert not panel.webcam.on and not panel.camera.value  # done capturing: the camera goes off
    assert used == [str(tmp_path / "home" / "captures" / "webcam")]
    assert sorted(p.name for p in (tmp_path / "home" / "captures" / "webcam").iterdir()) == ["open hand", "thumbs up"]
    # Delete asks first, then removes the folder.
    panel.classes.value = "thumbs up"
    panel.delete_button.click()
    assert "Really delete 'thumbs up' (3 frames)?" == panel.confirm_button.description
    panel.confirm_button.click()
    assert panel.store.counts() == {"open hand": 2} and panel.use_button.disabled


def test_hostile_messages_from_the_page(tmp_path):
    panel = CapturePanel(tmp_path, lambda folder: None)
    panel.create_class("a")
    cam = panel.webcam
    _from_page(cam, {"type": "frame", "burst": 1, "seq": 1}, [b"GIF89a not a jpeg"])
    assert "Expected a JPEG frame" in panel.notice.text
    for content, buffers in [({"type": "frame", "burst": 1, "seq": 1}, []),
                             ({"type": "frame", "burst": "x", "seq": 1}, [_jpeg()]),
                             ({"type": "frame", "burst": 1, "seq": 1}, [_jpeg(), _jpeg()]),
                             ({"type": "eval", "code": "1"}, [_jpeg()]), ("frame", [_jpeg()]),
                             ({"type": "frame", "burst": 1, "seq": 1}, [b"\xff\xd8\xff" + bytes(5 * 2**20)])]:
        _from_page(cam, content, buffers)
    assert cam.messages_rejected == 6 and panel.store.counts() == {"a": 0}
    # A hold sends at most max_frames frames, even if the page keeps sending.
    panel.frames.value = 2
    assert cam.max_frames == 2
    for seq in range(1, 6):
        _from_page(cam, {"type": "frame", "burst": 3, "seq": seq}, [_jpeg(seq)])
    assert panel.store.counts() == {"a": 2}
    _from_page(cam, {"type": "frame", "burst": 4, "seq": 1}, [_jpeg(9)])  # the next hold records again
    assert panel.store.counts() == {"a": 3}


@pytest.mark.parametrize("name, expected", [
    ("NotAllowedError", "not allowed to use the camera"), ("NotFoundError", "No camera was found"),
    ("NotReadableError", "in use by another program"), ("InsecureContextError", "https"),
    ("WeirdError", "could not be started (WeirdError)"), ("<script>alert(1)</script>", "(UnknownError)"),
])
def test_camera_errors_become_sentences(tmp_path, name, expected):
    panel = CapturePanel(tmp_path, lambda folder: None)
    panel.camera.value = True
    assert panel.webcam.on and panel.camera.description == "Camera off"
    _page_sets(panel.webcam, error=name)
    assert expected in panel.notice.text and "tlw-error" in panel.notice.value
    assert not panel.webcam.on and panel.camera.description == "Camera on"  # pressing it again retries
    panel.camera.value = True
    assert panel.webcam.error == "" and panel.notice.text == ""
    assert camera_error_message("") == ""


def test_webcam_checks_its_settings():
    with pytest.raises(Exception, match="1 <= fps <= 15"):
        Webcam(fps=0)
    with pytest.raises(Exception, match="1 <= max_frames <= 500"):
        Webcam(max_frames=10_000)


def test_snapshot_goes_to_the_try_panel(tmp_path):
    import ipywidgets as widgets

    calls: list[list[tuple[str, bytes]]] = []
    try_panel = types.SimpleNamespace(camera_box=widgets.VBox(), predict_images=calls.append)
    cam = attach_camera(try_panel)
    assert cam in try_panel.camera_box.children and not cam.hold
    assert cam.labels["shutter"] == "Snap and try"
    _from_page(cam, {"type": "frame", "burst": 1, "seq": 1}, [_jpeg(1)])
    _from_page(cam, {"type": "frame", "burst": 2, "seq": 1}, [_jpeg(2)])
    assert [[name for name, _ in c] for c in calls] == [["snapshot-1.jpg"], ["snapshot-2.jpg"]]
    assert calls[1][0][1] == _jpeg(2)


def test_snapshot_reaches_the_real_try_panel(tmp_path):
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.panels.try_it import TryItPanel

    panel = TryItPanel(store=RunStore(tmp_path / "home"))
    cam = panel.webcam  # every Try-it panel has "Snap and try" (attach_camera)
    assert cam in panel.camera_box.children and cam.labels["shutter"] == "Snap and try" and not cam.on
    assert any("tlw-camera-toggle" in w._dom_classes for b in panel.camera_box.children
               for w in getattr(b, "children", ()))
    _from_page(cam, {"type": "frame", "burst": 1, "seq": 1}, [_jpeg(1)])
    assert "Expected a trained model to try" in panel.notice.text  # no run yet: said, not a blank box


def test_disk_quota_counts_every_frame_whatever_the_burst_ids(tmp_path):
    """#25 M3: one hold wrote 71.8 MiB against a 5 MiB quota (checked once per hold, from the page's burst ids)."""
    from tl_widgets.core.fileio import folder_bytes

    frame = _jpeg()
    asked: list[int] = []
    quota = folder_bytes(tmp_path) + int(2.5 * len(frame))  # room for two more frames

    def left() -> int:  # what the Studio's disk_left does: the quota minus a walk of the seat
        asked.append(1)
        return quota - folder_bytes(tmp_path)

    panel = CapturePanel(tmp_path, lambda folder: None, space_left=left)
    panel.create_class("a")
    sent = _spy_sends(panel.webcam)
    for burst in range(1, 6):  # a page that starts a new "hold" for every frame
        _from_page(panel.webcam, {"type": "frame", "burst": burst, "seq": 1}, [frame])
    assert panel.store.counts() == {"a": 2}
    assert "disk quota" in panel.notice.text and {"type": "stop"} in sent
    assert len(asked) <= 3  # the seat is walked at most every QUOTA_RECHECK_S (and again after a refusal)


def test_a_page_cannot_lengthen_a_hold_or_speed_it_up(tmp_path):
    from tl_widgets.core.data import capture_intake as capture_module

    panel = CapturePanel(tmp_path, lambda folder: None)
    panel.create_class("a")
    panel.frames.value = 3
    _page_sets(panel.webcam, max_frames=500, fps=15)  # the slider stops at 100; the page claims 500
    assert panel.webcam.max_frames == 3 and panel.webcam.fps == 5
    for seq in range(1, 6):
        _from_page(panel.webcam, {"type": "frame", "burst": 1, "seq": seq}, [_jpeg(seq)])
    assert panel.store.counts() == {"a": 3}
    panel.frames.value = 100
    for burst in range(2, 40):  # a flood of one-frame "holds" within a second: rate-limited
        _from_page(panel.webcam, {"type": "frame", "burst": burst, "seq": 1}, [_jpeg(burst)])
    assert panel.store.counts()["a"] <= 3 + capture_module.MAX_FRAMES_PER_S


def test_a_full_disk_during_a_hold_is_a_notice_and_stops_it(tmp_path, monkeypatch):
    """#25 L10: OSError escaped the frame handler; no notice, the page kept recording."""
    import errno

    from tl_widgets.core.data import capture as capture_core

    panel = CapturePanel(tmp_path, lambda folder: None)
    panel.create_class("a")
    sent = _spy_sends(panel.webcam)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(capture_core, "open", full, raising=False)
    _from_page(panel.webcam, {"type": "frame", "burst": 1, "seq": 1}, [_jpeg()])
    assert "No space left on device" in panel.notice.text and {"type": "stop"} in sent
    assert panel.store.counts() == {"a": 0} and not list((panel.store.root / "a").iterdir())


def _spy_sends(widget: Webcam) -> list:
    sent: list = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    return sent