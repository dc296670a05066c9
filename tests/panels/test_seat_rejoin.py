"""#26: a seat per student, not per tab: a reload (another kernel of the same browser) rejoins the seat — its
uploads are offered again and usable, it is welcomed back — and the student's name reaches the instructor."""

from __future__ import annotations

import io
import json
import zipfile

from PIL import Image

from served_seat import close_studio as _close, open_studio as _studio
from tl_widgets.core.settings import STUDENT_ENV


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, shade in enumerate((20, 230)):
            for i in range(4):
                out = io.BytesIO()
                Image.new("RGB", (16, 16), (shade, shade, i * 9)).save(out, "PNG")
                zf.writestr(f"set/c{k}/{i}.png", out.getvalue())
    return buf.getvalue()


def test_a_reload_rejoins_the_seat_with_its_uploads_and_name(seat_env, tmp_path):  # noqa: F811
    import dataclasses

    from tl_widgets.core.room import seat as seat_module
    from tl_widgets.core.room.census import room_census

    seat_env.setenv(STUDENT_ENV, "c" * 32)  # what the room's server gives this browser
    first = _studio(background=False)
    zipped = first.data.take_zip_bytes(_zip_bytes(), "mine.zip")
    assert zipped is not None and zipped.parent == first.seat.home / "uploads"
    first.name_box.text.value = "Ada <script>alert(1)</script>"  # typed by the student (or sent by a page)
    first.name_box.save()
    assert first.name_box.text.value == "Ada scriptalert(1)/script"  # no markup kept
    assert json.loads((first.seat.home / "seat.json").read_text())["name"] == "Ada scriptalert(1)/script"
    first.close()  # the tab is reloaded: its kernel goes (the seat's close runs at the kernel's exit)
    seat_module._CURRENT = None
    second = _studio(background=False)
    try:
        assert second.seat.home == first.seat.home and second.seat.rejoined
        assert "Welcome back" in second.notice.text
        assert second.data.uploads == [str(zipped)]  # the earlier upload is this seat's: offered and accepted
        cfg = second.config
        second.set_config(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="zip",
                                                                             path=str(zipped))))
        assert second.config.data.path == str(zipped)
        assert second.name_box.text.value == "Ada scriptalert(1)/script"
        seats = room_census(second.seat.home.parent)
        assert [(s["name"], s["tabs"]) for s in seats] == [("Ada scriptalert(1)/script", 1)]  # one live kernel
    finally:
        _close(second)
    seat_env.setenv(STUDENT_ENV, "d" * 32)  # another browser: a seat of its own, none of the first one's uploads
    seat_module._CURRENT = None
    other = _studio(background=False)
    try:
        assert other.seat.home != first.seat.home and not other.seat.rejoined and other.data.uploads == []
    finally:
        _close(other)
