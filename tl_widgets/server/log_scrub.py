"""Secrets out of the server's log: tokens and waiting-room tickets are never printed.

Tornado's access log and its ``HTTPError`` warnings print the whole URI of a
refused request (``...?token=...``); jupyter_server's ``log_request`` scrubs
only the access lines it writes. :func:`install_log_scrubber` makes every log
record of the server process pass through :func:`scrub_secrets`, whichever
logger wrote it. Called by ``python -m tl_widgets.server.voila_entry`` before
Voilà starts.
"""

from __future__ import annotations

import logging
import re

from tl_widgets.core.room.phone_link import PHONE_PATH

__all__ = ["scrub_secrets", "install_log_scrubber"]

_SECRET_ARG = re.compile(r"(?i)\b((?:token|ticket|seat_ticket|_xsrf)=)[^&\s'\"]+")
_SECRET_PATH = re.compile("(/" + re.escape(PHONE_PATH) + r"/)[^/?#\s'\"]+")


def scrub_secrets(text: str) -> str:
    """``text`` with the values of ``token=``, ``ticket=``, ``seat_ticket=`` and ``_xsrf=`` replaced by ``[secret]``,
    and so is the phone link's token in ``/tl-widgets-phone/<token>`` (a path segment, not an argument)."""
    return _SECRET_PATH.sub(r"\1[secret]", _SECRET_ARG.sub(r"\1[secret]", text))


def install_log_scrubber() -> None:
    """Makes every log record of this process pass through :func:`scrub_secrets`.

    Tornado's access log and its HTTPError warnings print the whole URI (``?token=...``) of a refused request;
    jupyter_server's ``log_request`` scrubs only its own access lines. A record factory covers every logger.
    """
    make = logging.getLogRecordFactory()
    if getattr(make, "tlw_scrubs", False):
        return

    def scrubbed(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to the handler to report
            return record
        clean = scrub_secrets(text)
        if clean != text:
            record.msg, record.args = clean, None
        return record

    scrubbed.tlw_scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed)
