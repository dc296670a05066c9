"""Webcam capture store: hostile frames and class names are refused with clear errors; good frames land on disk."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tl_widgets.core.data import capture
from tl_widgets.core.data.capture import CaptureError, CaptureStore, check_class_name
from tl_widgets.core.data.loading import scan_folder


def _jpeg(width: int = 64, height: int = 48, seed: int = 0, fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def test_frames_are_written_into_class_folders_and_counted(tmp_path):
    store = CaptureStore(tmp_path / "ds")
    assert store.add_class("  thumbs   up ") == "thumbs up"
    store.add_class("open hand")
    paths = [store.add_frame("thumbs up", _jpeg(seed=i)) for i in range(3)]
    store.add_frame("open hand", memoryview(_jpeg(seed=9)))
    assert [p.name for p in paths] == ["00001.jpg", "00002.jpg", "00003.jpg"]
    assert paths[0].read_bytes() == _jpeg(seed=0)
    assert store.counts() == {"thumbs up": 3, "open hand": 1}
    assert store.last_frames("thumbs up", 2) == paths[1:]
    assert not list((tmp_path / "ds").rglob(".*"))  # no temporary files left behind
    # A new store on the same folder finds the classes and continues the numbering.
    again = CaptureStore(tmp_path / "ds")
    assert again.counts() == {"open hand": 1, "thumbs up": 3}
    assert again.add_frame("thumbs up", _jpeg()).name == "00004.jpg"
    assert again.ready() is not None and "open hand (1)" in again.ready()
    again.add_frame("open hand", _jpeg(seed=3))
    assert again.ready() is None
    assert again.remove_class("open hand") == 2
    assert not (tmp_path / "ds" / "open hand").exists()


def test_the_data_step_reads_the_captured_folder(tmp_path):
    store = CaptureStore(tmp_path / "ds")
    for name in ("a", "b"):
        store.add_class(name)
        for i in range(3):
            store.add_frame(name, _jpeg(seed=i))
    report = scan_folder(str(tmp_path / "ds"))
    assert report.class_names == ["a", "b"] and sum(report.counts.values()) == 6


@pytest.mark.parametrize("name, expected", [
    ("../etc", "'/'"), ("a..b", "'..'"), ("a/b", "'/'"), ("a\\b", "'/'"), (".hidden", "'.'"), ("", "empty"), ("   ", "empty"),
    ("x" * 41, "at most 40 characters"), ("tab\tname\x07", "control characters"), (7, "as text"),
    ("CAT", "already a class"),
])
def test_hostile_class_names_are_refused(tmp_path, name, expected):
    store = CaptureStore(tmp_path / "ds")
    store.add_class("cat")
    with pytest.raises(CaptureError, match="Expected") as err:
        store.add_class(name)
    assert expected in str(err.value)
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["cat"]
    assert not (tmp_path / "etc").exists()


def test_hostile_frames_are_refused_and_nothing_is_written(tmp_path):
    store = CaptureStore(tmp_path / "ds")
    store.add_class("cat")
    bad = {
        "not bytes": ("not an image", "as JPEG bytes"),
        "png": (_jpeg(fmt="PNG"), "Expected a JPEG frame"),
        "random": (b"\xff\xd8\xff" + bytes(200), "complete JPEG"),
        "truncated": (_jpeg(320, 240)[:900], "complete JPEG"),
        "huge bytes": (b"\xff\xd8\xff" + bytes(capture.MAX_FRAME_BYTES), "at most 2,097,152 bytes"),
    }
    for label, (data, expected) in bad.items():
        with pytest.raises(CaptureError, match="Expected") as err:
            store.add_frame("cat", data)
        assert expected in str(err.value), label
    small = CaptureStore(tmp_path / "ds", max_pixels=64 * 48 - 1)  # a room's lower pixel limit
    with pytest.raises(CaptureError, match="too large"):
        small.add_frame("cat", _jpeg(64, 48))
    with pytest.raises(CaptureError, match="Expected one of the classes cat. Received: 'dog'"):
        store.add_frame("dog", _jpeg())
    assert store.counts() == {"cat": 0}
    assert list((tmp_path / "ds" / "cat").iterdir()) == []


def test_caps_on_frames_per_class_total_and_classes(tmp_path):
    store = CaptureStore(tmp_path / "ds", max_per_class=2, max_total=3, max_classes=2)
    store.add_class("a")
    store.add_class("b")
    with pytest.raises(CaptureError, match="at most 2 classes"):
        store.add_class("c")
    frame = _jpeg()
    store.add_frame("a", frame)
    store.add_frame("a", frame)
    with pytest.raises(CaptureError, match="at most 2 frames per class"):
        store.add_frame("a", frame)
    store.add_frame("b", frame)
    with pytest.raises(CaptureError, match="at most 3 frames in all"):
        store.add_frame("b", frame)
    assert store.counts() == {"a": 2, "b": 1}
    with pytest.raises(ValueError, match="max_total to be a positive integer"):
        CaptureStore(tmp_path / "x", max_total=0)


def test_check_class_name_keeps_unicode():
    assert check_class_name("猫 咪") == "猫 咪"
