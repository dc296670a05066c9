"""A served Studio's link to its room (``tl-widgets serve``): the fair queue and the instructor's controls.

:func:`connect_room` is called by a :class:`~tl_widgets.studio.Studio` built
in a served kernel (one with a seat). Every Start then waits its turn in the
room's queue, and a :class:`~tl_widgets.core.room.control.SeatWatcher`
carries out the instructor's requests: stop this seat's run, or show a
pushed config through the Studio's one config setter (checked against the
workshop like anything from a browser; never while a run trains; the seat's
own output folder is kept).
"""

from __future__ import annotations

import dataclasses
import html
import os
from typing import Any, Callable

from tl_widgets.core.config.schema import ConfigError, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import PanelError

__all__ = ["connect_room", "pushed_config"]


def pushed_config(data: Any, output_dir: str) -> TrainConfig:
    """The instructor's pushed config as a seat may show it: its own output folder, demo or folder data only.

    Raises:
        ConfigError: ``data`` is not a valid config.
        PanelError: It names data a seat may not be pointed at (an upload is each seat's own).
    """
    cfg = dataclasses.replace(TrainConfig.from_dict(data), output_dir=output_dir)
    if cfg.data.source not in ("demo", "folder"):
        raise PanelError(_("Expected a pushed config with demo or folder data. Received: data.source={source!r} (a "
                           "seat's uploads are its own)").format(source=cfg.data.source))
    return cfg


def connect_room(seat: Any, workshop: Any, train: Any, notice: Any, output_dir: Callable[[], str],
                 set_config: Callable[[TrainConfig], None], banner: Any = None) -> Any:
    """Queues this kernel's runs in the seat's room and starts watching the instructor's controls.

    Args:
        seat: The served seat (its room is the seat folder's parent).
        workshop: The workshop (its training slots), or None.
        train: The Train panel (running, stop).
        notice: Where the seat is told what the instructor did.
        output_dir: The seat's own output folder (kept whatever a pushed config says).
        set_config: The Studio's one config setter.
        banner: Shows the instructor's message to the room (an HTML widget), or None.

    Returns:
        The started :class:`~tl_widgets.core.room.control.SeatWatcher` (``halt()`` it to stop).
    """
    from tl_widgets.core.room.control import SeatWatcher
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue, queue_gate
    from tl_widgets.core.training.session import set_start_gate

    slots = workshop.training_slots if workshop is not None else max(1, os.cpu_count() or 1)
    max_hold_s = workshop.max_training_minutes * 60 if workshop is not None else None
    set_start_gate(queue_gate(TrainingQueue(seat.home.parent / QUEUE_FILE, slots), seat.name, student=seat.student,
                              max_hold_s=max_hold_s))

    def on_stop() -> None:
        if train.running:
            train.stop()
            notice.show(_("The instructor stopped this run."), "warning")

    def on_config(data: dict[str, Any]) -> None:
        if train.running:
            notice.show(_("The instructor sent a config; it was not applied while your run trains."), "warning")
            return
        try:
            set_config(pushed_config(data, output_dir()))
        except (ConfigError, PanelError, ValueError) as exc:
            notice.show(_("Refused the instructor's config: {reason}").format(reason=exc))
            return
        notice.show(_("The instructor sent a config: the panels show it now."), "info")

    def on_broadcast(text: str) -> None:
        if banner is not None:
            said = html.escape(_("From your teacher:"))
            banner.value = f"<b>{said}</b> {html.escape(text)}" if text else ""
            banner.layout.display = None if text else "none"

    watcher = SeatWatcher(seat.home, on_stop, on_config, on_broadcast=on_broadcast)
    watcher.start()
    return watcher
