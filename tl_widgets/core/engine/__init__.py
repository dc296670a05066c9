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

from tl_widgets.core.engine.base import Engine, EngineBusyError, EngineError, InProcessEngine

__all__ = ["Engine", "EngineError", "EngineBusyError", "InProcessEngine", "default_engine", "seat_engine", "ray_engine",
           "resolve_engine"]


@functools.lru_cache(maxsize=1)
def default_engine() -> InProcessEngine:
    """This process's in-process engine (one, so its facts cache is shared by every panel)."""
    return InProcessEngine()


def seat_engine(seat: Any) -> Engine | None:
    """The engine ``$TL_WIDGETS_ENGINE`` names: the room's gateway for a served ``seat`` (``tl-widgets serve``), or
    a Ray cluster (``ray://HOST:PORT``, e.g. set by a JupyterHub spawner) for anyone; None when unset."""
    from tl_widgets.core.settings import ENGINE_ENV

    address = os.environ.get(ENGINE_ENV, "").strip()
    if address.startswith("ray://"):
        return ray_engine(address)
    if seat is None or not address:
        return None
    from tl_widgets.core.engine.client import WorkerEngine

    return WorkerEngine(address, seat.home)


@functools.lru_cache(maxsize=4)
def ray_engine(address: str) -> Engine:
    """This process's own workers on the Ray cluster at ``address`` (started once per address)."""
    from tl_widgets.core.engine.client import PoolEngine

    return PoolEngine.on_ray(address)


def resolve_engine(engine: Any = None, seat: Any = None) -> Engine:
    """The engine a Studio or panel uses: ``engine`` when given (an :class:`Engine`, or ``"ray://HOST:PORT"``),
    else what ``$TL_WIDGETS_ENGINE`` names (the room's gateway for a served seat, or a Ray cluster), else
    :func:`default_engine`.

    Raises:
        TypeError: ``engine`` is neither None, an Engine nor a ``ray://`` address.
    """
    if isinstance(engine, str) and engine.startswith("ray://"):
        return ray_engine(engine)
    if engine is not None:
        if not isinstance(engine, Engine):
            raise TypeError(f"Expected an Engine, 'ray://HOST:PORT' or None. Received: {engine!r}")
        return engine
    return seat_engine(seat) or default_engine()
