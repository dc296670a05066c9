"""The engine seam: everything the Studio asks of Keras goes through one :class:`Engine`.

- :class:`InProcessEngine` (this process): notebooks, ``tl-widgets studio`` for one person, the CLI;
- :class:`~tl_widgets.core.engine.client.WorkerEngine`: a served seat's, whose Keras work runs in the room's
  warm workers (``tl-widgets serve``) — the seat's kernel never imports TensorFlow.

:func:`default_engine` is this process's shared in-process engine; :func:`seat_engine` the served seat's
(from ``$TL_WIDGETS_ENGINE``), else None.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from tl_widgets.core.engine.base import Engine, EngineError, InProcessEngine

__all__ = ["Engine", "EngineError", "InProcessEngine", "default_engine", "seat_engine", "resolve_engine"]


@functools.lru_cache(maxsize=1)
def default_engine() -> InProcessEngine:
    """This process's in-process engine (one, so its facts cache is shared by every panel)."""
    return InProcessEngine()


def seat_engine(seat: Any) -> Engine | None:
    """The room's engine for a served ``seat`` when ``tl-widgets serve`` runs one (``$TL_WIDGETS_ENGINE``)."""
    from tl_widgets.core.settings import ENGINE_ENV

    address = os.environ.get(ENGINE_ENV, "").strip()
    if seat is None or not address:
        return None
    from tl_widgets.core.engine.client import WorkerEngine

    return WorkerEngine(address, seat.home)


def resolve_engine(engine: Any = None, seat: Any = None) -> Engine:
    """The engine a Studio or panel uses: ``engine`` when given (an :class:`Engine`), else the seat's room
    engine, else :func:`default_engine`.

    Raises:
        TypeError: ``engine`` is neither None nor an Engine.
    """
    if engine is not None:
        if not isinstance(engine, Engine):
            raise TypeError(f"Expected an Engine or None. Received: {type(engine).__name__}")
        return engine
    return seat_engine(seat) or default_engine()
