"""Phone links (core/room/phone_link.py) and the one intake every captured frame takes (core/data/capture_intake.py).

A phone link is a capability: only its token opens it, only for its seat and the class picked there, until it is
revoked, replaced, expired, or the kernel that issued it is gone. Frames from a phone are hostile: the same checks
as the webcam's, through the same code.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tl_widgets.core.data.capture import CaptureError, CaptureStore, FrameTooLarge, NotAFrame
from tl_widgets.core.data.capture_intake import MAX_FRAMES_PER_S, CaptureIntake, FrameTooFast, OverQuota
from tl_widgets.core.room.phone_link import (
    PhoneLinkError, issue_link, read_link, revoke_link, set_link_class, token_hash, verify_link,
)
from tl_widgets.core.settings import home_path


def _image(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    buf = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


def _seat(root: Path, name: str, pid: int | None = None) -> Path:
    """A seat folder as ``open_seat`` leaves it, with one kernel (this process unless ``pid``)."""
    home = root / name
    home.mkdir(parents=True, mode=0o700)
    kernel = {"pid": os.getpid() if pid is None else pid, "started": time.time()}
    (home / "seat.json").write_text(json.dumps({"started": time.time(), "student": name, "kernels": [kernel]}))
    return home


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_link_opens_its_own_seat_and_class_only(tmp_path):
    a, b = _seat(tmp_path, "seat-aaaa"), _seat(tmp_path, "seat-bbbb")
    token_a, token_b = issue_link(a, "thumbs up"), issue_link(b, "cats")
    link = verify_link(tmp_path, token_a)
    assert (link.seat_home, link.class_name) == (a, "thumbs up")
    assert verify_link(tmp_path, token_b).seat_home == b  # another seat's token opens that seat, never this one
    stored = home_path("phone_link", a).read_text()
    assert token_a not in stored and token_hash(token_a) in stored  # only the hash is kept
    assert oct(home_path("phone_link", a).stat().st_mode & 0o777) == "0o600"
    assert set_link_class(a, "thumbs down") and verify_link(tmp_path, token_a).class_name == "thumbs down"


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "/..", "../../etc/passwd", None, 42, "A" * 43])
def test_made_up_tokens_open_nothing(tmp_path, token):
    issue_link(_seat(tmp_path, "seat-aaaa"), "a")
    with pytest.raises(PhoneLinkError, match="not valid"):
        verify_link(tmp_path, token)


def test_replaced_revoked_expired_and_dead_links_are_refused(tmp_path):
    home = _seat(tmp_path, "seat-aaaa")
    old = issue_link(home, "a")
    new = issue_link(home, "a")  # "New phone link"
    with pytest.raises(PhoneLinkError, match="turned off or replaced"):
        verify_link(tmp_path, old)
    assert verify_link(tmp_path, new).class_name == "a"
    with pytest.raises(PhoneLinkError, match="expired"):
        verify_link(tmp_path, new, now=time.time() + 4 * 3600)
    assert revoke_link(home) and read_link(home) is None and not revoke_link(home)
    with pytest.raises(PhoneLinkError, match="turned off or replaced"):
        verify_link(tmp_path, new)
    gone = _seat(tmp_path, "seat-gone", pid=_dead_pid())  # the seat's kernels are gone: so is its link
    token = issue_link(gone, "a", pid=json.loads((gone / "seat.json").read_text())["kernels"][0]["pid"])
    with pytest.raises(PhoneLinkError, match="ended with its Studio page"):
        verify_link(tmp_path, token)


def test_issue_checks_its_arguments(tmp_path):
    home = _seat(tmp_path, "seat-aaaa")
    with pytest.raises(ValueError, match="add a class first"):
        issue_link(home, "")
    with pytest.raises(ValueError, match="ttl_s > 0"):
        issue_link(home, "a", ttl_s=0)


def test_the_intake_checks_every_frame_as_the_webcam_does(tmp_path):
    store = CaptureStore(tmp_path / "webcam", max_frame_bytes=20_000)
    store.add_class("a")
    intake = CaptureIntake(store)
    assert intake.add("a", _image()).name == "00001.jpg"
    with pytest.raises(FrameTooLarge, match="at most 20,000 bytes"):
        intake.add("a", b"\xff\xd8\xff" + b"\0" * 20_000)
    with pytest.raises(NotAFrame, match="Expected a JPEG frame. Received: a PNG image|Expected a JPEG frame"):
        intake.add("a", _image("PNG"))
    with pytest.raises(NotAFrame):
        intake.add("a", b"<html>not an image</html>")
    with pytest.raises(NotAFrame, match="complete JPEG"):
        intake.add("a", _image()[:-200])  # a truncated JPEG
    with pytest.raises(CaptureError, match="Expected one of the classes"):
        intake.add("b", _image())
    assert store.counts() == {"a": 1} and not [p for p in (tmp_path / "webcam" / "a").iterdir() if p.name[0] == "."]


def test_the_intake_limits_rate_and_quota(tmp_path):
    now = [100.0]
    store = CaptureStore(tmp_path / "webcam")
    store.add_class("a")
    frame = _image()
    asked = []

    def left() -> int:
        asked.append(1)
        return int(2.5 * len(frame)) - sum(p.stat().st_size for p in (tmp_path / "webcam" / "a").iterdir())

    intake = CaptureIntake(store, left, clock=lambda: now[0])
    intake.add("a", frame)
    intake.add("a", frame)
    with pytest.raises(OverQuota, match="disk quota"):
        intake.add("a", frame)
    assert len(asked) == 1  # the second frame was counted, not walked
    fast = CaptureIntake(store, clock=lambda: now[0])
    store.max_per_class = 10_000
    for _i in range(MAX_FRAMES_PER_S):
        fast.add("a", frame)
    with pytest.raises(FrameTooFast, match="frames a second"):
        fast.add("a", frame)
    now[0] += 1.01
    fast.add("a", frame)


def test_two_writers_never_replace_each_others_frames(tmp_path):
    kernel, server = CaptureStore(tmp_path / "w"), CaptureStore(tmp_path / "w")
    kernel.add_class("a")
    server.rescan()
    paths = [kernel.add_frame("a", _image(seed=1)), server.add_frame("a", _image(seed=2)),
             kernel.add_frame("a", _image(seed=3))]  # the kernel's list is stale: it must not reuse 00002
    assert [p.name for p in paths] == ["00001.jpg", "00002.jpg", "00003.jpg"]
    assert len({p.read_bytes() for p in paths}) == 3
    before = kernel.signature()
    server.add_frame("a", _image(seed=4))
    assert kernel.signature() != before
    kernel.rescan()
    assert kernel.counts() == {"a": 4}


def test_the_last_kernel_leaving_its_seat_removes_the_link(tmp_path):
    from tl_widgets.core.room.seat import Seat

    home = _seat(tmp_path, "seat-aaaa")  # this process is its one kernel
    token = issue_link(home, "a")
    Seat(home=home, tmp=home_path("tmp", home)).close()
    assert read_link(home) is None
    with pytest.raises(PhoneLinkError):
        verify_link(tmp_path, token)
