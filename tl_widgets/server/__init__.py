"""The tl_widgets Jupyter server extension: a REST API over the run store.

It is enabled on install by ``jupyter-config/jupyter_server_config.d/tl_widgets.json``
(shipped to ``etc/jupyter/jupyter_server_config.d/``), which names this
module in ``ServerApp.jpserver_extensions``. Routes are documented in
:mod:`tl_widgets.server.handlers`. The store lives in ``$TL_WIDGETS_HOME``
(default ``~/.tl_widgets``) as seen by the server process.

Importing this module must stay light: it never imports Keras, TensorFlow
or the widgets, so the server starts fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Tells jupyter_server which module holds the extension."""
    return [{"module": "tl_widgets.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Registers the REST handlers on the server's web app.

    Args:
        serverapp: The running ``jupyter_server.serverapp.ServerApp``.
    """
    from tl_widgets.server.handlers import API_PREFIX, handlers_for

    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers_for(web_app.settings["base_url"]))
    serverapp.log.info("tl_widgets: run-store API at %s%s/runs", web_app.settings["base_url"], API_PREFIX)


# Older jupyter_server / notebook-server spelling of the same hook.
load_jupyter_server_extension = _load_jupyter_server_extension
