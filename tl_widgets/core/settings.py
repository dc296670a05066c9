"""The one owner of environment-variable names, the default home folder and the home's layout.

Every ``TL_WIDGETS_*`` variable the project reads or sets is named here, once;
other modules import the constant (or call :func:`default_home`) instead of
writing the string again. Every path under a home (runs, captures, caches, the
stores, a seat's temporary files...) is in :data:`HOME_LAYOUT`; callers ask
:func:`home_path` for it. Tests grep the package for stray literals of both.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "HOME_ENV", "DATA_ROOTS_ENV", "MAX_UPLOAD_ENV", "WORKSHOP_ENV", "COORDINATOR_ENV", "NUM_PROCESSES_ENV",
    "PROCESS_ID_ENV", "INIT_TIMEOUT_ENV", "HEARTBEAT_TIMEOUT_ENV", "SHUTDOWN_TIMEOUT_ENV", "STUDIO_EPOCHS_ENV",
    "STUDIO_MAX_PER_CLASS_ENV", "TOKEN_ENV", "SEATS_ENV", "LANG_ENV", "ENGINE_ENV", "STUDENT_HEADER", "STUDENT_ENV",
    "HOME_LAYOUT", "default_home", "home_path", "captures_home",
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
# The room's engine gateway (a Unix socket), set by `tl-widgets serve` for its kernels: a seat's Studio then runs
# its Keras work in the room's warm workers and never imports TensorFlow.
ENGINE_ENV = "TL_WIDGETS_ENGINE"


def default_home() -> Path:
    """``$TL_WIDGETS_HOME`` when set, else ``~/.tl_widgets``."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".tl_widgets"


#: What lives under a home (``default_home()``, or a served seat's own home): part -> path under the home.
HOME_LAYOUT: dict[str, str] = {
    "runs": "runs",                            # the Studio's run folders
    "run_store": "runs.sqlite",                # the run store (core/runs/store.py)
    "sweep_store": "sweeps.sqlite",            # Optuna's default storage (core/sweeps/study.py)
    "captures": "captures",                    # datasets captured from a webcam
    "curation": "curation",                    # curation files (JSON Lines decisions)
    "feature_cache": "feature_cache",          # a frozen backbone's features (a seat's: a link to its room's)
    "embeddings": "feature_cache/embeddings",  # the health check's image embeddings
    "data_work": "data_work",                  # extracted zips and the decoded-image disk cache
    "mlflow": "mlflow",                        # the default MLflow store (mlflow.db, artifacts)
    "seats": "seats",                          # ``serve``: one private home per seat
    "tmp": "tmp",                              # a seat's temporary files (removed when its kernel ends)
    "control": "control",                      # a seat's requests from the instructor (stop a run)
    "phone_link": "control/phone_link.json",   # a seat's phone link: its token's hash, class, kernel, expiry
    "tls": "tls",                              # ``serve --https``: the self-signed certificate and its key
    "uploads": "uploads",                      # a served seat's uploaded zips (kept for the student's other tabs)
}


def home_path(part: str, home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/<HOME_LAYOUT[part]>`` (nothing is created).

    Args:
        part: A key of :data:`HOME_LAYOUT` (``"runs"``, ``"captures"``, ``"feature_cache"``...).
        home: The home (None: :func:`default_home`, a seat's own when served).

    Raises:
        KeyError: ``part`` is not in :data:`HOME_LAYOUT`.
    """
    if part not in HOME_LAYOUT:
        raise KeyError(f"Expected a part of the home in {sorted(HOME_LAYOUT)}. Received: {part!r}")
    return (Path(home).expanduser() if home is not None else default_home()) / HOME_LAYOUT[part]


def captures_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Where datasets captured from a webcam are written: ``<home>/captures``.

    Args:
        home: A data home (None: the default home, a seat's own when served).
    """
    return home_path("captures", home)
