"""A Studio as a served seat's kernel opens it (the `seat_env` fixture in conftest.py sets the environment)."""

from __future__ import annotations


def open_studio(**kwargs):
    from tl_widgets.studio import Studio

    return Studio(**kwargs)


def close_studio(studio) -> None:
    if getattr(studio, "room_watcher", None) is not None:
        studio.room_watcher.halt()
    studio.close()
