"""A webcam in the page that sends JPEG frames to the kernel (an anywidget).

The camera runs in the browser (``getUserMedia``), so it works wherever the page runs: Voilà, JupyterLab,
a served workshop seat. :class:`Webcam` shows the live picture and one shutter button; a click sends one
frame, and with ``hold=True`` pressing and holding records up to ``max_frames`` frames at ``fps`` frames
per second. Each frame arrives in Python as JPEG bytes and is handed to the callbacks registered with
:meth:`Webcam.on_frame`, after a first check of the message's shape (the receiver checks the image).

The camera is on only while ``on`` is True (a page never lights the camera by itself). When the browser
refuses (permission denied, no camera, camera busy, a page not served over https or localhost), the
page sets ``error`` to the DOMException's name and :attr:`Webcam.error_message` says it in a sentence.

Example::

    cam = Webcam(hold=True, max_frames=20, fps=5)
    cam.on_frame(lambda jpeg, info: print(len(jpeg), info["burst"]))
    cam.on = True
    cam
"""

from __future__ import annotations

import logging
import pathlib
import re
from typing import Any, Callable, Sequence

import anywidget
import traitlets

from tl_widgets.core.i18n import _, N_, pgettext

__all__ = ["Webcam", "camera_error_message", "MAX_MESSAGE_BYTES"]

_log = logging.getLogger(__name__)

#: Frames larger than this are dropped before anything else looks at them.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_ERROR_NAME = re.compile(r"^[A-Za-z]{1,40}$")

#: DOMException names from getUserMedia (and two of the page's own) -> what the user should know.
_ERRORS = {
    "NotAllowedError": N_("The browser was not allowed to use the camera. Allow the camera for this page "
                          "(the camera icon in the address bar), then press 'Camera on' again."),
    "SecurityError": N_("The browser was not allowed to use the camera. Allow the camera for this page "
                        "(the camera icon in the address bar), then press 'Camera on' again."),
    "NotFoundError": N_("No camera was found. Connect a camera, then press 'Camera on' again."),
    "OverconstrainedError": N_("No camera was found. Connect a camera, then press 'Camera on' again."),
    "NotReadableError": N_("The camera is in use by another program or tab. Close it, then press 'Camera on' again."),
    "AbortError": N_("The camera is in use by another program or tab. Close it, then press 'Camera on' again."),
    "InsecureContextError": N_("The browser only allows the camera on pages served over https or from this "
                               "computer (localhost). Ask whoever runs the Studio for an https address."),
    "NotSupportedError": N_("This browser cannot use a camera here. Try a recent Chrome, Edge or Firefox."),
}
_UNKNOWN = N_("The camera could not be started ({name}). Press 'Camera on' to try again.")


def camera_error_message(name: str) -> str:
    """A sentence for a camera error name (empty for no error), in the current language."""
    if not name:
        return ""
    if name in _ERRORS:
        return _(_ERRORS[name])
    return _(_UNKNOWN).format(name=name)


def default_labels() -> dict[str, str]:
    """The page's texts, translated here (the page has no catalog)."""
    return {
        "video": _("Camera preview"),
        "starting": _("Starting the camera…"),
        "off": pgettext("state of the camera", "Camera off"),
        "failed": _("No camera picture"),
        "shutter": _("Capture"),
        "recording": _("Recording…"),
        "hold_help": _("Click for one frame; press and hold to record several."),
    }


class Webcam(anywidget.AnyWidget):
    """The live camera picture and a shutter button; frames reach :meth:`on_frame` callbacks as JPEG bytes.

    Args:
        hold: Press-and-hold records several frames (else every press is one frame).
        max_frames: Most frames one hold records (1..500).
        fps: Frames per second while holding (1..15).
        **kwargs: Other traits (``width``, ``frame_width``, ``quality``, ``labels``, ``enabled``, ``on``).
    """

    _esm = pathlib.Path(__file__).with_name("webcam.js")
    on = traitlets.Bool(False, help="Camera running (set by Python; the page starts or stops the stream).").tag(sync=True)
    enabled = traitlets.Bool(True, help="Shutter enabled.").tag(sync=True)
    hold = traitlets.Bool(False, help="Press and hold records up to max_frames frames.").tag(sync=True)
    max_frames = traitlets.Int(20, help="Most frames one hold records.").tag(sync=True)
    fps = traitlets.Int(5, help="Frames per second while holding.").tag(sync=True)
    width = traitlets.Int(320, help="Width of the preview in pixels.").tag(sync=True)
    frame_width = traitlets.Int(320, help="Width of the frames sent, in pixels (height keeps the aspect).").tag(sync=True)
    quality = traitlets.Float(0.85, help="JPEG quality of the frames sent (0.3..0.95).").tag(sync=True)
    labels = traitlets.Dict(help="The page's texts, translated in Python.").tag(sync=True)
    error = traitlets.Unicode("", help="Set by the page: the camera error's DOMException name.").tag(sync=True)
    live = traitlets.Bool(False, help="Set by the page: the camera picture is showing.").tag(sync=True)

    def __init__(self, hold: bool = False, max_frames: int = 20, fps: int = 5, **kwargs: Any) -> None:
        self._frame_handlers: list[Callable[[bytes, dict[str, int]], None]] = []
        self._burst_handlers: list[Callable[[int], None]] = []
        self.frames_received = 0
        self.messages_rejected = 0
        kwargs.setdefault("labels", default_labels())
        super().__init__(hold=hold, max_frames=max_frames, fps=fps, **kwargs)
        self.add_class("tlw-webcam")
        self.on_msg(self._on_browser_msg)

    @traitlets.validate("max_frames")
    def _check_max_frames(self, proposal: dict[str, Any]) -> int:
        return _in_range("max_frames", proposal["value"], 1, 500)

    @traitlets.validate("fps")
    def _check_fps(self, proposal: dict[str, Any]) -> int:
        return _in_range("fps", proposal["value"], 1, 15)

    @traitlets.validate("width", "frame_width")
    def _check_width(self, proposal: dict[str, Any]) -> int:
        return _in_range(proposal["trait"].name, proposal["value"], 64, 1920)

    @traitlets.validate("quality")
    def _check_quality(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0.3 <= value <= 0.95:
            raise traitlets.TraitError(f"Expected 0.3 <= quality <= 0.95. Received: {value}")
        return value

    @traitlets.validate("error")
    def _check_error(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]  # from the page: keep only a plausible exception name
        return value if value == "" or _ERROR_NAME.match(value) else "UnknownError"

    @property
    def error_message(self) -> str:
        """The camera error as a sentence for the user ("" when none)."""
        return camera_error_message(self.error)

    def on_frame(self, callback: Callable[[bytes, dict[str, int]], None]) -> None:
        """Calls ``callback(jpeg_bytes, {"burst": int, "seq": int})`` for every frame from the page.

        The bytes are at most :data:`MAX_MESSAGE_BYTES` long but otherwise unchecked: the receiver validates
        the image (see :class:`tl_widgets.core.data.capture.CaptureStore`).
        """
        self._frame_handlers.append(callback)

    def on_burst_end(self, callback: Callable[[int], None]) -> None:
        """Calls ``callback(burst)`` when a press-and-hold recording ends."""
        self._burst_handlers.append(callback)

    def stop_recording(self) -> None:
        """Asks the page to end the current hold (e.g. the class is full)."""
        self.send({"type": "stop"})

    def _on_browser_msg(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        burst, seq = (content.get("burst"), content.get("seq")) if kind else (None, None)
        if kind == "burst_end" and _small_int(burst):
            for handler in list(self._burst_handlers):
                handler(int(burst))
            return
        if kind != "frame" or not (_small_int(burst) and _small_int(seq)) or len(buffers) != 1:
            self.messages_rejected += 1
            _log.warning("Webcam ignored an unexpected message: %.200r with %d buffers", content, len(buffers))
            return
        data = buffers[0]
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        if size > MAX_MESSAGE_BYTES:
            self.messages_rejected += 1
            _log.warning("Webcam dropped a %d-byte frame (limit %d)", size, MAX_MESSAGE_BYTES)
            return
        self.frames_received += 1
        jpeg = data.tobytes() if isinstance(data, memoryview) else bytes(data)
        for handler in list(self._frame_handlers):
            handler(jpeg, {"burst": int(burst), "seq": int(seq)})


def _small_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _in_range(name: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise traitlets.TraitError(f"Expected {low} <= {name} <= {high}. Received: {value!r}")
    return value
