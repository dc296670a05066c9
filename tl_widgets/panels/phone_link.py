"""The capture panel's phone link (a served seat only): a QR code that opens a capture page on the student's phone.

:class:`PhoneLinkBox` issues the seat's phone link
(:func:`~tl_widgets.core.room.phone_link.issue_link`; the token lives in this
kernel's memory and in the QR code, the seat keeps only its hash), shows it as
a QR code with the address under it, points it at the class picked in the
panel, replaces it ("New phone link") or turns it off. The address is the one
the student's browser used to open the room (:class:`PageAddress`), so a room
opened by IP over https gives a link the phone can open. While the link is on,
a small thread looks at the capture folder once a second (its modification
times only) and calls ``on_change`` when the phone added photos.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.i18n import _
from tl_widgets.core.room.phone_link import (
    PHONE_PATH, issue_link, read_link, revoke_link, set_link_class, token_hash,
)
from tl_widgets.views.figures.qr import qr_html
from tl_widgets.views.widgets.page_address import PageAddress, is_loopback_url

__all__ = ["PhoneLinkBox", "POLL_S"]

#: Seconds between two looks at the capture folder while a phone link is on.
POLL_S = 1.0


class PhoneLinkBox(widgets.VBox):
    """"Use your phone": a seat's phone link as a QR code, its class following the panel's pick.

    Args:
        seat_home: The served seat's folder (where the link's hash is kept).
        picked: Returns the class picked in the capture panel ("" or None when none).
        signature: Returns a cheap fingerprint of the capture folder (it changes when photos arrive).
        on_change: Called (from the watching thread) when the folder changed while the link is on.
    """

    def __init__(self, seat_home: str | Path, picked: Callable[[], Any], signature: Callable[[], Any],
                 on_change: Callable[[], None]) -> None:
        self.seat_home, self.picked, self.signature, self.on_change = Path(seat_home), picked, signature, on_change
        self.token: str | None = None
        self.address = PageAddress()
        self.on_button = widgets.Button(description=_("Use my phone"), icon="mobile", layout={"width": "auto"},
                                        tooltip=_("Show a QR code that opens a camera page on your phone"))
        self.on_button.add_class("tlw-phone-on")
        self.new_button = widgets.Button(description=_("New phone link"), icon="refresh", layout={"width": "auto"},
                                         tooltip=_("Replace the link: the old QR code stops working"))
        self.new_button.add_class("tlw-phone-new")
        self.off_button = widgets.Button(description=_("Turn phone link off"), icon="times", layout={"width": "auto"})
        self.off_button.add_class("tlw-phone-off")
        self.qr = widgets.HTML()
        self.qr.add_class("tlw-phone-qr")
        self.status = widgets.HTML()
        self.status.add_class("tlw-phone-status")
        self.on_button.on_click(lambda _b: self.turn_on())
        self.new_button.on_click(lambda _b: self.turn_on())
        self.off_button.on_click(lambda _b: self.turn_off())
        self.address.observe(lambda _c: self._show(), names=["base_url", "secure"])
        self._halt = threading.Event()
        self._watcher: threading.Thread | None = None
        super().__init__([widgets.HBox([self.on_button, self.new_button, self.off_button]), self.status, self.qr,
                          self.address])
        self.add_class("tlw-phone-link")
        self._show()

    @property
    def url(self) -> str | None:
        """The phone page's address (None while the link is off or the page's address is not known yet)."""
        base = self.address.base()
        return f"{base}{PHONE_PATH}/{self.token}" if self.token and base else None

    def turn_on(self) -> str | None:
        """Issues a new link (any earlier one stops working) for the picked class; returns its URL or None (why is
        in the status line)."""
        name = self.picked()
        if not name:
            self._say(_("Add a class and pick it first: the phone's photos go into the picked class."), error=True)
            return None
        if self.address.base() is None:
            self._say(_("The page has not told its address yet; wait a second and press again."), error=True)
            return None
        self.token = issue_link(self.seat_home, str(name))
        self._show()
        self._watch()
        return self.url

    def turn_off(self) -> None:
        """Revokes the link: its page and photos are refused from now on."""
        self.token = None
        revoke_link(self.seat_home)
        self._halt.set()
        self._show()

    def class_changed(self, name: Any) -> None:
        """The panel picked another class: the phone's next photos go there (same link)."""
        if self.token and name and self._still_mine() and set_link_class(self.seat_home, str(name)):
            self._show()

    def _still_mine(self) -> bool:
        """True while the seat's link is the one this box issued (another tab of the seat may have replaced it)."""
        record = read_link(self.seat_home)
        if self.token and record is not None and record.get("hash") == token_hash(self.token):
            return True
        if self.token:
            self.token = None
            self._halt.set()
            self._show()
            self._say(_("This phone link was replaced or turned off (in another tab of yours, or when your seat "
                        "ended). Press 'Use my phone' for a new one."), error=True)
        return False

    def close(self) -> None:
        self._halt.set()
        super().close()

    # -- inside ------------------------------------------------------------------------------

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#a00" if error else "#555"
        self.status.value = f"<small style='color:{colour}'>{html.escape(text)}</small>"

    def _show(self) -> None:
        on = self.token is not None
        self.on_button.layout.display = "none" if on else None
        self.new_button.layout.display = None if on else "none"
        self.off_button.layout.display = None if on else "none"
        url = self.url
        if url is None:
            self.qr.value = ""
            self._say(_("Take photos with your phone: press 'Use my phone' and scan the QR code."))
            return
        record = read_link(self.seat_home) or {}
        until = time.strftime("%H:%M", time.localtime(float(record.get("expires", 0))))
        caption = _("Scan with the phone's camera. Photos go into {name}; the link works until {time}.").format(
            name=repr(str(record.get("class", ""))), time=until)
        self.qr.value = qr_html(url, caption)
        if is_loopback_url(url):
            self._say(_("This page was opened at this computer's own address, which a phone cannot reach: open the "
                        "room at the address the teacher gave (its network name or IP)."), error=True)
        elif not self.address.secure or url.startswith("http:"):
            self._say(_("The room is served over plain http: the phone page can only use the phone's camera app. "
                        "With --https it can show the camera live."))
        else:
            self._say(_("Phone link on."))

    def _watch(self) -> None:
        self._halt.set()
        self._halt = halt = threading.Event()
        seen = self.signature()

        def loop() -> None:
            nonlocal seen
            while not halt.wait(POLL_S):
                if not self._still_mine():
                    return
                now = self.signature()
                if now != seen:
                    seen = now
                    try:
                        self.on_change()
                    except Exception as exc:  # a refresh that failed must not end the watching; say why
                        self._say(_("Could not show the phone's photos: {reason}").format(reason=exc), error=True)

        self._watcher = threading.Thread(target=loop, name="tlw-phone-watch", daemon=True)
        self._watcher.start()
