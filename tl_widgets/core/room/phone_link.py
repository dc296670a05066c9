"""Phone links: a capability that lets a phone add photos to one seat's picked capture class, and nothing else.

A served seat's capture panel issues a link (:func:`issue_link`): a random
token (``secrets.token_urlsafe``) that goes into the QR code the student
scans, and is never stored. The seat keeps only its SHA-256, in
``<seat>/control/phone_link.json`` (0600) with the class the frames go to,
the kernel that issued it and when it expires. The room's server checks a
phone's token with :func:`verify_link`: the hash compared in constant time
with each seat's, then

* the time limit (:data:`LINK_TTL_S`, from issue);
* the kernel that issued it still runs (a seat whose kernels are gone has no
  live link; a reload issues a new one);
* one link per seat: "New phone link" replaces it, "Turn phone link off"
  removes it (:func:`revoke_link`).

A token is a URL path segment (``<base>/tl-widgets-phone/<token>``), kept out
of the server's log by :mod:`tl_widgets.server.log_scrub`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from tl_widgets.core.fileio import atomic_write_json
from tl_widgets.core.i18n import _
from tl_widgets.core.room.seat import list_seats, seat_pids
from tl_widgets.core.settings import home_path

__all__ = ["PhoneLink", "PhoneLinkError", "issue_link", "revoke_link", "set_link_class", "read_link", "verify_link",
           "token_hash", "valid_token", "LINK_TTL_S", "PHONE_PATH"]

#: How long a phone link works after it was issued (a workshop's afternoon), whatever else happens.
LINK_TTL_S = 3 * 3600.0
#: The URL path (under the server's base URL) of the phone page; the frames go to ``<PHONE_PATH>/<token>/frame``.
PHONE_PATH = "tl-widgets-phone"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


class PhoneLinkError(PermissionError):
    """A token that opens nothing (unknown, replaced, expired, or its seat's kernel is gone); the message says which."""


@dataclass(frozen=True)
class PhoneLink:
    """A verified link: where its frames go.

    Attributes:
        seat_home: The seat's folder.
        class_name: The capture class the frames go into (the one picked in the seat's panel).
        expires: When the link stops working (``time.time()`` seconds).
        key: The token's hash (names the link in the server's rate limits; never the token itself).
    """

    seat_home: Path
    class_name: str
    expires: float
    key: str


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a token: what a seat stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def valid_token(token: object) -> str | None:
    """``token`` when it has a token's shape (it comes from a phone), else None."""
    return token if isinstance(token, str) and _TOKEN.fullmatch(token) else None


def _path(seat_home: str | os.PathLike[str]) -> Path:
    return home_path("phone_link", seat_home)


def read_link(seat_home: str | os.PathLike[str]) -> dict | None:
    """The seat's link record (hash, class, kernel, issued, expires), None when it has none or it is unreadable."""
    try:
        data = json.loads(_path(seat_home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def issue_link(seat_home: str | os.PathLike[str], class_name: str, ttl_s: float = LINK_TTL_S,
               pid: int | None = None) -> str:
    """Makes a new link for the seat (replacing any earlier one); returns the token (shown once, never stored).

    Args:
        seat_home: The seat's folder.
        class_name: The capture class its frames go into.
        ttl_s: Seconds it works for.
        pid: The kernel it lives with (default: this process).

    Raises:
        ValueError: No class, or a time limit that is not positive.
    """
    if not isinstance(class_name, str) or not class_name:
        raise ValueError(_("Expected a class to send phone photos to. Received: none; add a class first"))
    if not ttl_s > 0:
        raise ValueError(f"Expected ttl_s > 0. Received: ttl_s={ttl_s!r}")
    token = secrets.token_urlsafe(32)
    now = time.time()
    path = _path(seat_home)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write_json(path, {"hash": token_hash(token), "class": class_name, "pid": os.getpid() if pid is None else pid,
                             "issued": now, "expires": now + float(ttl_s)})
    os.chmod(path, 0o600)
    return token


def set_link_class(seat_home: str | os.PathLike[str], class_name: str) -> bool:
    """Points the seat's link at another class (the student picked it); False when there is no link."""
    data = read_link(seat_home)
    if data is None:
        return False
    data["class"] = class_name
    atomic_write_json(_path(seat_home), data)
    os.chmod(_path(seat_home), 0o600)
    return True


def revoke_link(seat_home: str | os.PathLike[str]) -> bool:
    """Turns the seat's phone link off; True when there was one."""
    path = _path(seat_home)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def verify_link(seats_root: str | os.PathLike[str], token: object, now: float | None = None) -> PhoneLink:
    """The link ``token`` opens in the room at ``seats_root``.

    Raises:
        PhoneLinkError: Not a token, no seat's current link, expired, or the kernel that issued it is gone.
    """
    token = valid_token(token)
    if token is None:
        raise PhoneLinkError(_("This phone link is not valid. Scan the QR code in the Studio again."))
    wanted = token_hash(token)
    now = time.time() if now is None else now
    for home, info in list_seats(seats_root):
        data = read_link(home)
        stored = data.get("hash") if data else None
        if not isinstance(stored, str) or not hmac.compare_digest(stored.encode("ascii", "replace"),
                                                                  wanted.encode("ascii")):
            continue
        if now > float(data.get("expires", 0)):
            raise PhoneLinkError(_("This phone link has expired. Press 'New phone link' in the Studio and scan again."))
        if data.get("pid") not in seat_pids(info):
            raise PhoneLinkError(_("This phone link ended with its Studio page. Open the Studio and make a new "
                                   "phone link."))
        return PhoneLink(seat_home=home, class_name=str(data.get("class") or ""), expires=float(data["expires"]),
                         key=wanted)
    raise PhoneLinkError(_("This phone link is not valid (it was turned off or replaced). Scan the QR code in the "
                           "Studio again."))
