"""A Studio's link to its room (``tl-widgets serve``): the fair queue and the instructor's controls.

:func:`connect_room` is called by a :class:`~tl_widgets.studio.app.Studio` built
in a served kernel (one with a seat). Every Start then waits its turn in the
room's queue, and a :class:`~tl_widgets.core.room.control.SeatWatcher`
carries out the instructor's requests: stop this seat's run, or show a
pushed config in the panels (checked against the workshop like anything
from a browser; never while a run trains; the seat's own output folder is
kept).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tl_widgets.core.config.schema import ConfigError, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import PanelError

__all__ = ["connect_room", "apply_config"]


def connect_room(studio: Any) -> Any:
    """Queues the Studio's runs in its room and starts watching the instructor's controls; returns the watcher."""
    from tl_widgets.core.room.control import SeatWatcher
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue, queue_gate
    from tl_widgets.core.training.session import set_start_gate

    seat, ws = studio.seat, studio.workshop
    slots = ws.training_slots if ws is not None else max(1, os.cpu_count() or 1)
    set_start_gate(queue_gate(TrainingQueue(seat.home.parent / QUEUE_FILE, slots), seat.name, student=seat.student,
                              max_hold_s=ws.max_training_minutes * 60 if ws is not None else None))

    def on_stop() -> None:
        if studio.train.running:
            studio.train.stop()
            studio.notice.show(_("The instructor stopped this run."), "warning")

    def on_config(data: dict[str, Any]) -> None:
        if studio.train.running:
            studio.notice.show(_("The instructor sent a config; it was not applied while your run trains."), "warning")
            return
        try:
            apply_config(studio, TrainConfig.from_dict(data))
        except (ConfigError, PanelError, ValueError) as exc:
            studio.notice.show(_("Refused the instructor's config: {reason}").format(reason=exc))
            return
        studio.notice.show(_("The instructor sent a config: the panels show it now."), "info")

    watcher = SeatWatcher(seat.home, on_stop, on_config)
    watcher.start()
    return watcher


def apply_config(studio: Any, cfg: TrainConfig) -> None:
    """Shows ``cfg`` in every panel of ``studio`` (its output folder stays the Studio's own).

    Raises:
        PanelError: A value the panels or the workshop refuse (nothing is changed then).
    """
    from tl_widgets.studio.limits import check_limits

    cfg = dataclasses.replace(cfg, output_dir=studio._base.output_dir)
    check_limits(studio, cfg, extra_roots=[studio.captures], starting=False)
    if cfg.data.source not in ("demo", "folder"):
        raise PanelError(f"Expected a pushed config with demo or folder data. Received: data.source="
                         f"{cfg.data.source!r} (a seat's uploads are its own)")
    studio.backbone.set_config(cfg.model)
    studio.freeze.set_backbone(cfg.model.backbone, cfg.model.input_size)
    studio.freeze.set_config(cfg.freeze)
    studio.data.set_config(cfg.data)
    studio.strategy.set_config(cfg.strategy)
    studio.train.set_config(cfg)
    studio._base = cfg.copy()
