"""The capture panel's phone link (panels/phone_link.py): a QR code of the address the browser used, a link that
follows the picked class, revoked by "Turn phone link off", and the counts updated when the phone's photos arrive."""

from __future__ import annotations

import time

import pytest

from tests.core.test_phone_link import _image, _seat
from tl_widgets.core.data.capture import CaptureStore
from tl_widgets.core.room.phone_link import PhoneLinkError, read_link, verify_link
from tl_widgets.panels.capture import CapturePanel
from tl_widgets.views.widgets.page_address import checked_base_url


def _page_says(widget, **state) -> None:
    """A state update as it comes from the page over the comm."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


@pytest.fixture
def panel(tmp_path):
    seat = _seat(tmp_path / "seats", "seat-aaaa")
    made = CapturePanel(seat, lambda folder: None, phone_home=seat)
    yield made
    made.phone.turn_off()


def test_no_phone_link_outside_a_served_seat(tmp_path):
    assert CapturePanel(tmp_path, lambda folder: None).phone is None


def test_the_qr_code_opens_this_seat_and_follows_the_picked_class(panel, tmp_path):
    phone = panel.phone
    assert phone.turn_on() is None and "Add a class" in phone.status.value  # nothing to send photos to yet
    panel.create_class("cups")
    assert phone.turn_on() is None and "address" in phone.status.value  # the page has not said where it is
    _page_says(phone.address, base_url="https://192.168.1.20:8866/", secure=True)
    url = phone.turn_on()
    assert url.startswith("https://192.168.1.20:8866/tl-widgets-phone/")
    assert "<svg" in phone.qr.value and url in phone.qr.value and "&#x27;cups&#x27;" in phone.qr.value
    link = verify_link(tmp_path / "seats", url.rsplit("/", 1)[1])
    assert link.class_name == "cups" and link.seat_home == panel.store.root.parents[1]
    panel.create_class("plates")  # picked: the phone's next photos go there
    assert verify_link(tmp_path / "seats", url.rsplit("/", 1)[1]).class_name == "plates"
    phone.new_button.click()
    assert phone.url != url  # "New phone link": the old QR code opens nothing
    with pytest.raises(PhoneLinkError):
        verify_link(tmp_path / "seats", url.rsplit("/", 1)[1])
    phone.off_button.click()
    assert phone.qr.value == "" and read_link(panel.store.root.parents[1]) is None


@pytest.mark.parametrize("base, why", [("http://127.0.0.1:8866/", "cannot reach"),
                                       ("http://classroom.test:8866/", "plain http")])
def test_the_panel_says_when_a_phone_cannot_use_the_link(panel, base, why):
    panel.create_class("cups")
    _page_says(panel.phone.address, base_url=base, secure=base.startswith("http://127"))
    assert panel.phone.turn_on()
    assert why in panel.phone.status.value


@pytest.mark.parametrize("base", ["javascript:alert(1)//", "https://user:pw@h/", "https://h/?x=1", "https://h/path",
                                  "https://h/<b>/", "", 5, "https://h:port/"])
def test_addresses_from_the_page_are_checked(base):
    assert checked_base_url(base) is None


def test_photos_from_the_phone_show_in_the_panel(panel):
    panel.create_class("cups")
    _page_says(panel.phone.address, base_url="https://10.0.0.2:8866/", secure=True)
    panel.phone.turn_on()
    server = CaptureStore(panel.store.root)  # the room's server writes into the same folder
    for seed in range(3):
        server.add_frame("cups", _image(seed=seed))
    deadline = time.monotonic() + 10
    while panel.store.counts().get("cups") != 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert panel.store.counts() == {"cups": 3}
    assert ">3</td>" in panel.counts.value


def test_a_link_replaced_in_another_tab_is_shown_as_off(panel, tmp_path):
    from tl_widgets.core.room.phone_link import issue_link

    panel.create_class("cups")
    _page_says(panel.phone.address, base_url="https://10.0.0.2:8866/", secure=True)
    panel.phone.turn_on()
    other = issue_link(panel.store.root.parents[1], "cups")  # another tab of the same student
    panel.create_class("plates")  # picking a class here must not re-point the other tab's link
    assert verify_link(tmp_path / "seats", other).class_name == "cups"
    assert panel.phone.token is None and panel.phone.qr.value == "" and "replaced" in panel.phone.status.value
