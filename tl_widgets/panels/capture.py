"""Capture a dataset from the webcam: add classes, hold to record frames, use them as the Data step's folder.

:class:`CapturePanel` writes into ``<home>/captures/<name>/<class>/NNNNN.jpg`` through
:class:`~tl_widgets.core.data.capture.CaptureStore` (which checks every frame); "Use these samples"
hands the folder to ``on_dataset``. :func:`attach_camera` puts a "Snap and try" webcam into a
:class:`~tl_widgets.panels.try_it.TryItPanel`'s ``camera_box``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.data.capture import MIN_PER_CLASS, WEBCAM_DATASET, CaptureError, CaptureStore
from tl_widgets.core.data.capture_intake import CaptureIntake, FrameTooFast
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import captures_home
from tl_widgets.panels.kit.validation import Notice, PanelError
from tl_widgets.views.widgets.webcam import Webcam, default_labels

__all__ = ["CapturePanel", "CameraToggle", "attach_camera"]

N_THUMBS = 6
_HOLD_FPS = 5


class CameraToggle(widgets.ToggleButton):
    """'Camera on' / 'Camera off' for a :class:`Webcam`; shows the camera's errors in ``notice``."""

    def __init__(self, webcam: Webcam, notice: Notice) -> None:
        super().__init__(value=False, description=_("Camera on"), icon="video-camera", layout={"width": "auto"},
                         tooltip=_("Start or stop the camera of this computer"))
        self.add_class("tlw-camera-toggle")
        self.webcam, self.notice = webcam, notice
        self.observe(self._on_value, names="value")
        webcam.observe(self._on_error, names="error")

    def _on_value(self, change: dict[str, Any]) -> None:
        on = bool(change["new"])
        self.description = _("Camera off") if on else _("Camera on")
        if on:
            self.notice.clear()
            self.webcam.error = ""
        self.webcam.on = on

    def _on_error(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.notice.show(self.webcam.error_message, "error")
            self.value = False  # so that pressing it again retries


class CapturePanel(widgets.VBox):
    """Records webcam frames into class folders and hands the folder to the Data step.

    Args:
        home: The user's data home; samples go to ``home/captures/<name>``.
        on_dataset: Called with the dataset folder (a str) by "Use these samples".
        name: The dataset folder's name under ``home/captures``.
        store: The capture store (None: one at ``home/captures/<name>`` with the default caps).
        space_left: ``space_left()`` is the bytes a quota (a workshop seat's) still allows, None for no quota
            (counted per frame by the :class:`~tl_widgets.core.data.capture_intake.CaptureIntake`).
        phone_home: A served seat's home: the panel then offers a phone link (a QR code) whose frames go
            into the picked class (:class:`~tl_widgets.panels.phone_link.PhoneLinkBox`); None: no phone link.

    Everything about a hold comes from the page, so none of it is trusted: frames beyond the "Frames per hold"
    slider's value (its bound is Python's) are dropped whatever ``max_frames`` the page claims, and at most
    :data:`~tl_widgets.core.data.capture_intake.MAX_FRAMES_PER_S` frames a second are kept whatever burst ids
    the page sends. Each frame takes the one path into the folder that the phone page's frames take too.
    """

    def __init__(self, home: str | Path, on_dataset: Callable[[str], None], name: str = WEBCAM_DATASET,
                 store: CaptureStore | None = None, space_left: Callable[[], int | None] | None = None,
                 phone_home: str | Path | None = None) -> None:
        self.store = store if store is not None else CaptureStore(captures_home(home) / name)
        self.intake = CaptureIntake(self.store, space_left)
        self.on_dataset = on_dataset
        self.notice = Notice()
        self.notice.add_class("tlw-capture-notice")
        self.webcam = Webcam(hold=True, max_frames=20, fps=_HOLD_FPS,
                             labels={**default_labels(), "shutter": _("Hold to record")})
        self.camera = CameraToggle(self.webcam, self.notice)
        self.class_name = widgets.Text(placeholder=_("New class, e.g. thumbs up"), layout={"width": "16em"},
                                       description=_("Class name"))
        self.class_name.add_class("tlw-capture-class-name")
        self.add_button = widgets.Button(description=_("Add class"), icon="plus", layout={"width": "auto"})
        self.add_button.add_class("tlw-capture-add")
        self.classes = widgets.ToggleButtons(options=[], description=_("Record into"),
                                             style={"button_width": "auto"})
        self.classes.add_class("tlw-capture-classes")
        self.frames = widgets.IntSlider(20, min=1, max=100, description=_("Frames per hold"),
                                        style={"description_width": "initial"})
        self.frames.add_class("tlw-capture-frames")
        self.counts = widgets.HTML()
        self.counts.add_class("tlw-capture-counts")
        self.thumbs = [widgets.Image(format="jpeg", layout={"width": "64px", "height": "48px"}) for _i in range(N_THUMBS)]
        self.thumb_box = widgets.HBox(self.thumbs)
        self.thumb_box.add_class("tlw-capture-thumbs")
        self.delete_button = widgets.Button(description=_("Delete class"), icon="trash", layout={"width": "auto"})
        self.delete_button.add_class("tlw-capture-delete")
        self.confirm_button = widgets.Button(button_style="danger", layout={"width": "auto", "display": "none"})
        self.confirm_button.add_class("tlw-capture-delete-confirm")
        self.use_button = widgets.Button(description=_("Use these samples"), icon="check", button_style="primary",
                                         layout={"width": "auto"})
        self.use_button.add_class("tlw-capture-use")
        saved_in = _("Saved in {folder}").format(folder=self.store.root)
        self.where = widgets.HTML("<small>" + html.escape(saved_in) + "</small>")
        self._burst: tuple[int, int] = (-1, 0)  # (burst id, frames accepted in it)
        self.add_button.on_click(lambda _b: self.create_class(self.class_name.value))
        self.delete_button.on_click(lambda _b: self._ask_delete())
        self.confirm_button.on_click(lambda _b: self.delete_class(str(self.classes.value or "")))
        self.use_button.on_click(lambda _b: self.use_samples())
        self.classes.observe(lambda _c: self._refresh(), names="value")
        self.phone: Any = None  # a served seat's PhoneLinkBox
        if phone_home is not None:
            from tl_widgets.panels.phone_link import PhoneLinkBox

            self.phone = PhoneLinkBox(phone_home, picked=lambda: self.classes.value, signature=self.store.signature,
                                      on_change=self._frames_arrived)
            self.classes.observe(lambda c: self.phone.class_changed(c["new"]), names="value")
        self.frames.observe(lambda c: setattr(self.webcam, "max_frames", int(c["new"])), names="value")
        # The page may claim another hold length or rate: Python's values win (the slider's bound is Python's).
        self.webcam.observe(lambda _c: setattr(self.webcam, "max_frames", int(self.frames.value)), names="max_frames")
        self.webcam.observe(lambda _c: setattr(self.webcam, "fps", _HOLD_FPS), names="fps")
        self.webcam.on_frame(self._on_frame)
        help_text = _("Turn the camera on, add a class, pick it, then press and hold the red button to record "
                      "frames (a click records one). Add at least two classes, then press 'Use these samples'.")
        super().__init__([
            widgets.HTML("<b>" + html.escape(_("Capture samples with the webcam")) + "</b><br>"
                         f"<small>{html.escape(help_text)}</small>"),
            widgets.HBox([self.camera]),
            widgets.HBox([self.webcam, widgets.VBox([self.counts, self.thumb_box])]),
            self.notice,
            widgets.HBox([self.class_name, self.add_button]),
            self.classes,
            self.frames,
            widgets.HBox([self.delete_button, self.confirm_button, self.use_button]),
            *([self.phone] if self.phone is not None else []),
            self.where,
        ])
        self.add_class("tlw-capture")
        self._sync_classes()

    # -- actions (also callable from Python) ---------------------------------------------

    def create_class(self, name: str) -> str | None:
        """Adds a class and picks it; returns its cleaned name, or None (the reason is in the notice)."""
        try:
            clean = self.store.add_class(name)
        except CaptureError as exc:
            self.notice.show(str(exc), "error")
            return None
        self.class_name.value = ""
        self._sync_classes(pick=clean)
        self.notice.show(_("Class {name} added: pick it and hold the record button.").format(name=repr(clean)), "info")
        return clean

    def delete_class(self, name: str) -> int:
        """Deletes a class and its frames; returns how many frames went (0 and a notice when refused)."""
        self.confirm_button.layout.display = "none"
        try:
            n = self.store.remove_class(name)
        except CaptureError as exc:
            self.notice.show(str(exc), "error")
            return 0
        self._sync_classes()
        self.notice.show(_("Deleted {name} ({n} frames).").format(name=repr(name), n=n), "info")
        return n

    def use_samples(self) -> str | None:
        """Turns the camera off and hands the folder to ``on_dataset`` (when it has two usable classes).

        Returns the folder, or None (the reason is in the notice).
        """
        why = self.store.ready()
        if why is not None:
            self.notice.show(why, "error")
            return None
        folder = str(self.store.root)
        self.camera.value = False  # done capturing: the camera light goes off
        self.on_dataset(folder)
        counts = self.store.counts()
        self.notice.show(_("Using {n} frames in {k} classes for training.").format(
            n=sum(counts.values()), k=len(counts)), "info")
        return folder

    # -- frames from the page --------------------------------------------------------------

    def _on_frame(self, jpeg: bytes, info: dict[str, int]) -> None:
        name = self.classes.value
        if not name:
            self.notice.show(_("Add a class first, then record into it."), "error")
            self.webcam.stop_recording()
            return
        burst, n = self._burst
        n = n if info["burst"] == burst else 0
        if n >= int(self.frames.value):  # the page promised to stop: don't trust it
            self.webcam.stop_recording()
            return
        try:
            self.intake.add(str(name), jpeg)
        except FrameTooFast:  # faster than any hold records: dropped, whatever the burst id
            self.webcam.messages_rejected += 1
            return
        except (CaptureError, PanelError) as exc:
            self.notice.show(str(exc), "error")
            self.webcam.stop_recording()
            return
        self._burst = (info["burst"], n + 1)
        self._refresh()

    def _frames_arrived(self) -> None:
        """Frames were written by another process (the phone page, through the room's server): show them."""
        self.store.rescan()
        if list(self.classes.options) != self.store.classes:
            self._sync_classes()
        else:
            self._refresh()

    # -- drawing ---------------------------------------------------------------------------

    def _ask_delete(self) -> None:
        name = self.classes.value
        if not name:
            self.notice.show(_("Pick a class to delete."), "error")
            return
        n = self.store.counts().get(str(name), 0)
        self.confirm_button.description = _("Really delete {name} ({n} frames)?").format(name=repr(name), n=n)
        self.confirm_button.layout.display = None

    def _sync_classes(self, pick: str | None = None) -> None:
        names = self.store.classes
        current = pick or (self.classes.value if self.classes.value in names else None)
        self.classes.options = names
        self.classes.value = current if current else (names[0] if names else None)
        self._refresh()

    def _refresh(self) -> None:
        counts = self.store.counts()
        name = self.classes.value
        self.webcam.enabled = bool(name)
        rows = "".join(
            f"<tr class='{'tlw-capture-current' if n == name else ''}'><td>{html.escape(n)}</td>"
            f"<td style='text-align:right'>{c}</td></tr>" for n, c in counts.items())
        head = "<tr><th>" + html.escape(_("Class")) + "</th><th>" + html.escape(_("Frames")) + "</th></tr>"
        self.counts.value = f"<table>{head}{rows}</table>" if counts else html.escape(_("No classes yet."))
        paths = self.store.last_frames(str(name), N_THUMBS) if name else []
        data = [p.read_bytes() for p in paths]
        for image, value in zip(self.thumbs, data + [b""] * (N_THUMBS - len(data))):
            if image.value != value:
                image.value = value
            image.layout.visibility = "visible" if value else "hidden"  # no broken-image icons
        ready = self.store.ready() is None
        self.use_button.disabled = not ready
        self.use_button.tooltip = "" if ready else _("Needs two classes with at least {n} frames each").format(
            n=MIN_PER_CLASS)


def attach_camera(try_panel: Any) -> Webcam:
    """Adds a webcam and a "Snap and try" shutter to ``try_panel.camera_box``; returns the webcam.

    Each snapshot goes to ``try_panel.predict_images([("snapshot-N.jpg", jpeg_bytes)])``, which checks the
    image and shows the prediction.
    """
    webcam = Webcam(hold=False)
    webcam.labels = {**webcam.labels, "shutter": _("Snap and try")}
    notice = Notice()
    notice.add_class("tlw-camera-message")
    toggle = CameraToggle(webcam, notice)

    shots = [0]

    def snapped(jpeg: bytes, _info: dict[str, int]) -> None:
        shots[0] += 1
        try_panel.predict_images([(f"snapshot-{shots[0]}.jpg", jpeg)])

    webcam.on_frame(snapped)
    try_panel.camera_box.children = (*try_panel.camera_box.children, widgets.HBox([toggle]), webcam, notice)
    return webcam
