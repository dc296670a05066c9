"""Take your work home: "Download my work" (one zip of runs, captures, curation) and "Open work" from such a zip.

:class:`WorkPanel` has two parts the Studio places apart: :attr:`WorkPanel.download_box` (the Runs step: every
seat may take its work home) and :attr:`WorkPanel.open_box` (the Data step of a one-person Studio: bring work
back; a served seat does not get it). The zip is made and read by :mod:`tl_widgets.core.runs.work`, in a worker
thread; the browser saves it through :class:`~tl_widgets.views.widgets.download.Download`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import Notice
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["WorkPanel", "WORK_ZIP_NAME"]

WORK_ZIP_NAME = "tl-widgets-work.zip"


class WorkPanel(BackgroundWork, widgets.VBox):
    """Downloads this home's work as one zip, and opens such a zip into it.

    Args:
        home: The tl_widgets home (a served seat's own).
        store: Its run store (the runs an opened zip adds are recorded there).
        max_open_bytes: Largest work zip accepted from the browser.
        on_opened: Called after a zip was opened (the Studio refreshes its Runs and capture panels).
    """

    def __init__(self, home: str | Path, store: Any = None, *, max_open_bytes: int = 512 * 2**20,
                 on_opened: Callable[[], None] | None = None) -> None:
        from tl_widgets.views.widgets.download import Download

        self.home, self.store, self.on_opened = Path(home), store, on_opened
        self.max_open_bytes = int(max_open_bytes)
        self.notice = Notice()
        self.download = Download()
        self.download_button = widgets.Button(description=_("Download my work"), icon="download",
                                              layout={"width": "auto"},
                                              tooltip=_("One zip of your runs (models, charts, cards, exports), "
                                                        "your captured images and your data fixes"))
        self.download_button.add_class("tlw-work-download")
        self.download_button.on_click(lambda _b: self.start_download())
        self.download_box = widgets.VBox([widgets.HBox([self.download_button]), self.download, self.notice])
        self.upload = widgets.FileUpload(accept=".zip", multiple=False, description=_("Open work (.zip)"))
        self.upload.add_class("tlw-work-open")
        self.upload.observe(self._on_upload, names="value")
        self.open_box = widgets.VBox([widgets.HTML(_("Bring back work you downloaded (a zip from "
                                                     "\"Download my work\"): its runs appear in Runs and Try it.")),
                                      self.upload, self.notice])
        super().__init__([])  # its parts are placed by the Studio (the same notice shows in both)
        self.add_class("tlw-work")

    def start_download(self) -> None:
        """Packs the work and hands it to the browser (in a worker thread)."""
        if self.busy:
            self.notice.show(_("Busy: wait for the current download to end."), "warning")
            return
        self.notice.show(_("Packing your work…"), "info")

        def work() -> None:
            from tl_widgets.core.runs.work import pack_work

            with tempfile.TemporaryDirectory(prefix="tlw-work-") as tmp:
                zip_path = Path(tmp) / WORK_ZIP_NAME
                summary = pack_work(self.home, zip_path)
                self.download.send(zip_path.read_bytes(), WORK_ZIP_NAME)
                size = zip_path.stat().st_size
            self.notice.show(_("Downloaded {what} ({size:.1f} MiB).").format(what=summary.describe(),
                                                                            size=size / 2**20), "info")

        self._run_in_background(work, name="tlw-work-download", buttons=[self.download_button],
                                failure=_("Cannot pack your work: "))

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        self.upload.value = ()  # keep nothing in memory (and allow the same file again)
        item = files[0]
        content = item.get("content") if isinstance(item, dict) else None
        name = str(item.get("name", "work.zip"))[:120] if isinstance(item, dict) else "?"
        if content is None or len(content) > self.max_open_bytes:
            self.notice.show(_("Refused: expected a work zip of at most {limit:.0f} MiB. Received: {name}").format(
                limit=self.max_open_bytes / 2**20, name=repr(name)))
            return
        self.open_bytes(bytes(content), name)

    def open_bytes(self, content: bytes, name: str = "work.zip") -> None:
        """Opens a work zip's bytes into the home (in a worker thread)."""
        if self.busy:
            self.notice.show(_("Busy: wait for the current download to end."), "warning")
            return
        self.notice.show(_("Opening {name}…").format(name=repr(name)), "info")

        def work() -> None:
            from tl_widgets.core.runs.work import open_work

            with tempfile.TemporaryDirectory(prefix="tlw-work-") as tmp:
                zip_path = Path(tmp) / "work.zip"
                zip_path.write_bytes(content)
                added = open_work(zip_path, self.home, store=self.store)
            skipped = ("; " + _("skipped: {what}").format(what="; ".join(added.skipped))) if added.skipped else ""
            self.notice.show(_("Opened {what}{skipped}.").format(what=added.describe(), skipped=skipped), "info")
            if self.on_opened is not None:
                self.on_opened()

        self._run_in_background(work, name="tlw-work-open", buttons=[], failure=_("Cannot open {name}: ").format(
            name=repr(name)))
