"""The one owner of environment-variable names and the default home folder.

Every ``TL_WIDGETS_*`` variable the project reads or sets is named here, once;
other modules import the constant (or call :func:`default_home`) instead of
writing the string again. A test greps the package for stray literals.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "HOME_ENV", "DATA_ROOTS_ENV", "MAX_UPLOAD_ENV", "WORKSHOP_ENV", "COORDINATOR_ENV", "NUM_PROCESSES_ENV",
    "PROCESS_ID_ENV", "INIT_TIMEOUT_ENV", "HEARTBEAT_TIMEOUT_ENV", "SHUTDOWN_TIMEOUT_ENV", "STUDIO_EPOCHS_ENV",
    "STUDIO_MAX_PER_CLASS_ENV", "TOKEN_ENV", "SEATS_ENV", "LANG_ENV", "STUDENT_HEADER", "STUDENT_ENV",
    "default_home", "captures_home",
]

#: Folder for the run store, feature cache and per-user state (default ``~/.tl_widgets``).
HOME_ENV = "TL_WIDGETS_HOME"
#: Folders (``os.pathsep``-separated) the Studio's data and weights pickers may list.
DATA_ROOTS_ENV = "TL_WIDGETS_DATA_ROOTS"
#: Largest zip accepted from the browser, in bytes.
MAX_UPLOAD_ENV = "TL_WIDGETS_MAX_UPLOAD_BYTES"
#: The workshop file whose limits a served Studio enforces.
WORKSHOP_ENV = "TL_WIDGETS_WORKSHOP"
#: Multi-process training: ``HOST:PORT`` of process 0, the process count and this process's index.
COORDINATOR_ENV = "TL_WIDGETS_COORDINATOR"
NUM_PROCESSES_ENV = "TL_WIDGETS_NUM_PROCESSES"
PROCESS_ID_ENV = "TL_WIDGETS_PROCESS_ID"
#: Seconds for jax.distributed's start-up, heartbeat and shutdown.
INIT_TIMEOUT_ENV = "TL_WIDGETS_INIT_TIMEOUT"
HEARTBEAT_TIMEOUT_ENV = "TL_WIDGETS_HEARTBEAT_TIMEOUT"
SHUTDOWN_TIMEOUT_ENV = "TL_WIDGETS_SHUTDOWN_TIMEOUT"
#: Overrides of the Voilà app notebook (short demo runs in tests and workshops).
STUDIO_EPOCHS_ENV = "TL_WIDGETS_STUDIO_EPOCHS"
STUDIO_MAX_PER_CLASS_ENV = "TL_WIDGETS_STUDIO_MAX_PER_CLASS"
#: The served Studio's access token, handed to the Voilà entry point (removed before kernels start).
TOKEN_ENV = "TL_WIDGETS_TOKEN"
#: ``serve``: the folder under which each kernel makes its own private seat home (see core/room/seat.py).
SEATS_ENV = "TL_WIDGETS_SEATS"
#: ``serve``: the request header the room's server sets to the student's id (a hash of the browser's cookie)
#: and the variable Voilà turns it into in that page's kernel (``http_header_envs``, RFC 3875 naming).
STUDENT_HEADER = "X-Tlw-Student"
STUDENT_ENV = "HTTP_X_TLW_STUDENT"
#: The user-interface language ("zh-CN", "zh_CN", "zh", "en"); unset: the locale, else English.
LANG_ENV = "TL_WIDGETS_LANG"


def default_home() -> Path:
    """``$TL_WIDGETS_HOME`` when set, else ``~/.tl_widgets``."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".tl_widgets"


def captures_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Where datasets captured from a webcam are written: ``<home>/captures``.

    Args:
        home: A data home (None: the default home, a seat's own when served).
    """
    return (Path(home) if home is not None else default_home()) / "captures"
