"""A Studio's limits: a workshop's (allowed backbones, epochs, batch size, data roots) and a seat's disk quota.

The Studio's ``check_limits`` and its disk check call these with the parts they need.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from tl_widgets.core.config.schema import FreezeConfig, TrainConfig
from tl_widgets.core.i18n import N_, _
from tl_widgets.core.settings import MAX_UPLOAD_ENV
from tl_widgets.panels.data import DEFAULT_MAX_UPLOAD_BYTES
from tl_widgets.panels.kit.validation import PanelError

__all__ = ["fit_to_workshop", "check_limits", "check_disk", "disk_left", "check_student_place", "upload_limit"]


def fit_to_workshop(cfg: TrainConfig, ws: Any) -> list[str]:
    """Lowers the starting config to the workshop's limits (in place); returns what changed."""
    changed = []
    if cfg.model.backbone not in ws.allowed_backbones:
        first = "demo_cnn" if "demo_cnn" in ws.allowed_backbones else ws.allowed_backbones[0]
        changed.append(_("backbone {old} -> {new}").format(old=repr(cfg.model.backbone), new=repr(first)))
        cfg.model.backbone, cfg.model.input_size = first, None
        if cfg.model.weights not in ("pretrained", "none", "imagenet"):
            cfg.model.weights = "pretrained"
        cfg.freeze = FreezeConfig()
        for phase in cfg.phases:  # block names belong to the old backbone; a "top N" plan still makes sense
            phase.freeze = None if phase.freeze is None or phase.freeze.mode != "top" else \
                dataclasses.replace(phase.freeze, block=None, overrides={})
    for phase in cfg.phases:
        if phase.epochs > ws.max_epochs:
            changed.append(_("{phase} epochs {old} -> {new}").format(phase=phase.name, old=phase.epochs, new=ws.max_epochs))
            phase.epochs = ws.max_epochs
    if cfg.data.batch_size > ws.max_batch_size:
        changed.append(_("batch size {old} -> {new}").format(old=cfg.data.batch_size, new=ws.max_batch_size))
        cfg.data.batch_size = ws.max_batch_size
    from tl_widgets.core.room.limits import size_limits

    for part, name, limit in size_limits(cfg, ws):
        if getattr(part, name) > limit:
            changed.append(_("{name} {old} -> {new}").format(name=name, old=getattr(part, name), new=limit))
            setattr(part, name, limit)
    return changed


def check_limits(cfg: TrainConfig, *, workshop: Any, seat: Any, check_zip: Callable[[str], Any],
                 lr_busy: bool = False, extra_roots: Sequence[Path] = (), starting: bool = True) -> None:
    """Checks a whole config before Start, Resume or a restore: no LR sweep running, the seat's own data, the
    workshop's limits.

    Args:
        cfg: The config to check.
        workshop: The workshop whose limits apply (None: only the data checks).
        seat: The served seat (its disk quota), or None.
        check_zip: The Data panel's check of a zip path (this seat's upload, or a zip under the data roots).
        lr_busy: True while a learning-rate sweep runs.
        extra_roots: Folders a data folder may also lie in (the Studio's captures home).
        starting: A run is about to start (False for a config only shown, e.g. the instructor's push): the
            student must not hold a place in the room's queue from another tab.

    Raises:
        PanelError: Naming the limit and the value.
    """
    from tl_widgets.core.config.checks import ConfigError
    from tl_widgets.core.room.limits import check_run_limits

    if lr_busy:
        raise PanelError(_("Expected no learning-rate sweep running. Received: one is running; wait for it to end"))
    if cfg.data.source == "zip":
        check_zip(cfg.data.path or "")
    if workshop is None:
        return
    check_disk(seat, workshop, 0)
    try:
        check_run_limits(cfg, workshop, extra_roots)
    except ConfigError as exc:
        raise PanelError(str(exc)) from None
    if starting:
        check_student_place(seat)


def check_student_place(seat: Any) -> None:
    """Raises PanelError when ``seat``'s student already trains (or waits) in another tab — another kernel, of this
    seat or not — (no-op outside a room)."""
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue, busy_message

    if seat is None:
        return
    place = TrainingQueue(seat.home.parent / QUEUE_FILE, slots=1).student_place(seat.student)
    if place is not None and int(place["pid"]) != os.getpid():
        raise PanelError(busy_message(place))


def disk_left(seat: Any, workshop: Any) -> int | None:
    """Bytes ``seat`` may still write under the workshop's disk quota (None outside a seat: no quota)."""
    if seat is None or workshop is None:
        return None
    from tl_widgets.core.room.limits import seat_space_left

    return seat_space_left(seat.home, workshop)


def check_disk(seat: Any, workshop: Any, more_bytes: int) -> None:
    """Raises PanelError when ``seat`` would go over the workshop's disk quota (no-op outside a seat)."""
    if seat is None or workshop is None:
        return
    used, limit = seat.disk_bytes() + int(more_bytes), int(workshop.max_seat_disk_mb * 2**20)
    if used > limit:
        raise PanelError(_("Expected this seat to use at most {limit:g} MiB of disk (workshop limit). Received: "
                           "{used:.1f} MiB; delete runs in the Runs step first").format(
            limit=workshop.max_seat_disk_mb, used=used / 2**20))


def upload_limit(explicit: int | None, workshop: Any) -> int:
    """The upload limit: the argument, else ``$TL_WIDGETS_MAX_UPLOAD_BYTES``, else the workshop's, else the default."""
    if explicit is not None:
        return int(explicit)
    env = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise PanelError(f"Expected {MAX_UPLOAD_ENV} to be a positive number of bytes. Received: {env!r}")
        return int(env)
    return workshop.max_upload_bytes if workshop is not None else DEFAULT_MAX_UPLOAD_BYTES
