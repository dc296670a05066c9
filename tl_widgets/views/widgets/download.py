"""A file from the kernel saved by the browser (an anywidget): "Download my work" and the like.

:meth:`Download.send` hands the page the file's bytes in a message buffer; the
page turns them into a ``Blob`` and clicks a download link for it, so the file
never has to exist under a URL the server serves. Works wherever the widget
is shown (Voilà, JupyterLab).
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import anywidget
import traitlets

__all__ = ["Download", "MAX_DOWNLOAD_BYTES"]

MAX_DOWNLOAD_BYTES = 1024 * 2**20
"""Largest file sent to the page at once (1 GiB; a seat's disk quota is smaller)."""


class Download(anywidget.AnyWidget):
    """An invisible widget that makes the browser save files the kernel sends it.

    Attributes:
        sent: Files handed to the page so far (tests and the caller read it).
    """

    _esm = pathlib.Path(__file__).with_name("download.js")
    sent = traitlets.Int(0, help="Files handed to the page so far.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout.display = "none"
        self.add_class("tlw-download")

    def send(self, data: bytes, filename: str, mime: str = "application/zip") -> None:
        """Makes the browser save ``data`` as ``filename`` (any path part and odd character removed).

        Raises:
            ValueError: ``data`` is over :data:`MAX_DOWNLOAD_BYTES`.
        """
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise ValueError(f"Expected at most {MAX_DOWNLOAD_BYTES} bytes to download. Received: {len(data)}")
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", pathlib.PurePath(str(filename)).name).strip("-.") or "download"
        super().send({"kind": "download", "filename": name, "mime": mime}, buffers=[bytes(data)])
        self.sent += 1
