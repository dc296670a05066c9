"""The address the student's browser opened the page at (an anywidget, invisible): for links a phone can follow.

The kernel cannot know how a student reached the room (``https://192.168.1.20:8866/``, a name, a tunnel): the page
can. :class:`PageAddress` asks it once it is shown and keeps the answer in :attr:`base_url`, which came from a
browser, so :meth:`base` checks it before anyone builds a link on it.
"""

from __future__ import annotations

import ipaddress
import pathlib
from typing import Any
from urllib.parse import urlsplit

import anywidget
import traitlets

__all__ = ["PageAddress", "checked_base_url", "is_loopback_url"]


def checked_base_url(value: object) -> str | None:
    """``value`` when it is an http(s) URL of a host with a path ending in '/', no user, query or fragment; else None."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password
            or parts.query or parts.fragment or not parts.path.endswith("/")
            or any(ch.isspace() or ch in "<>\"'\\" for ch in value)):
        return None
    return value


def is_loopback_url(url: str) -> bool:
    """True when ``url`` names this machine only (localhost, 127.x, ::1): a phone cannot reach it."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PageAddress(anywidget.AnyWidget):
    """Reports the page's base address (the server's base URL as the browser reached it) and whether it is secure."""

    _esm = pathlib.Path(__file__).with_name("page_address.js")
    base_url = traitlets.Unicode("", help="The page's base URL as the browser reported it (unchecked).").tag(sync=True)
    secure = traitlets.Bool(False, help="The page is a secure context (https or localhost): it may use a camera.").tag(
        sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout.display = "none"
        self.add_class("tlw-page-address")

    def base(self) -> str | None:
        """The checked base URL, None until the page has told it (or when what it told is not a URL)."""
        return checked_base_url(self.base_url)
