"""A Studio's limits: a workshop's (allowed backbones, epochs, batch size, data roots) and a seat's disk quota.

Kept out of :mod:`tl_widgets.studio.app` (the layout and the config assembler);
the Studio's ``check_limits`` and ``_check_disk`` call these.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.config.schema import FreezeConfig, TrainConfig
from tl_widgets.core.i18n import _
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
    for part, name, limit in _size_limits(cfg, ws):
        if getattr(part, name) > limit:
            changed.append(_("{name} {old} -> {new}").format(name=name, old=getattr(part, name), new=limit))
            setattr(part, name, limit)
    return changed


def _size_limits(cfg: TrainConfig, ws: Any) -> list[tuple[Any, str, int]]:
    """``(config part, field, workshop limit)`` for the limits on how big and how long a run may be."""
    return [(cfg.model, "hidden_units", ws.max_hidden_units), (cfg.strategy, "logical_cpus", ws.max_logical_cpus),
            (cfg.strategy, "steps_per_execution", ws.max_steps_per_execution)]


def check_limits(studio: Any, cfg: TrainConfig, extra_roots: Sequence[Path] = (), *, starting: bool = True) -> None:
    """Checks a whole config before Start or Resume: no LR sweep running, the seat's own data, the workshop's limits.

    Args:
        studio: The Studio (its ``lr_finder``, ``data`` panel, ``workshop`` and ``seat``).
        cfg: The config to check.
        extra_roots: Folders a data folder may also lie in (the Studio's captures home).
        starting: A run is about to start (False for a config only shown, e.g. the instructor's push): the
            student must not hold a place in the room's queue from another tab.

    Raises:
        PanelError: Naming the limit and the value.
    """
    from tl_widgets.panels.kit.validation import check_choice, check_number, resolve_under_roots

    lr_finder = getattr(studio, "lr_finder", None)
    if lr_finder is not None and lr_finder.busy:
        raise PanelError("Expected no learning-rate sweep running. Received: one is running; wait for it to end")
    if cfg.data.source == "zip":
        studio.data._check_zip(cfg.data.path or "")  # this seat's upload, or a zip under the data roots
    ws = studio.workshop
    if ws is None:
        return
    check_disk(studio, 0)
    if ws.max_input_size is not None and cfg.model.input_size is not None:
        check_number(cfg.model.input_size, "input_size (workshop limit)", 32, ws.max_input_size, integer=True)
    check_choice(cfg.model.backbone, "model.backbone (workshop)", ws.allowed_backbones)
    for phase in cfg.phases:
        check_number(phase.epochs, f"{phase.name} epochs (workshop limit)", 1, ws.max_epochs, integer=True)
    check_number(cfg.data.batch_size, "batch_size (workshop limit)", 1, ws.max_batch_size, integer=True)
    for part, name, limit in _size_limits(cfg, ws):
        check_number(getattr(part, name), f"{name} (workshop limit)", 0 if name != "steps_per_execution" else 1,
                     limit, integer=True)
    if starting:
        check_student_place(studio)
    if cfg.data.source == "folder":
        resolve_under_roots(cfg.data.path or "", [*ws.data_roots, *extra_roots], "data folder")


def check_student_place(studio: Any) -> None:
    """Raises PanelError when this seat's student already trains (or waits) in another tab (no-op outside a room)."""
    from tl_widgets.core.room.queue import QUEUE_FILE, TrainingQueue, busy_message

    seat = getattr(studio, "seat", None)
    if seat is None:
        return
    place = TrainingQueue(seat.home.parent / QUEUE_FILE, slots=1).student_place(seat.student)
    if place is not None and place["seat"] != seat.name:
        raise PanelError(busy_message(place))


def disk_left(studio: Any) -> int | None:
    """Bytes this seat may still write under the workshop's disk quota (None outside a seat: no quota)."""
    seat, ws = getattr(studio, "seat", None), studio.workshop
    if seat is None or ws is None:
        return None
    return int(ws.max_seat_disk_mb * 2**20) - seat.disk_bytes()


def check_disk(studio: Any, more_bytes: int) -> None:
    """Raises PanelError when the Studio's seat would go over the workshop's disk quota (no-op outside a seat)."""
    seat, ws = getattr(studio, "seat", None), studio.workshop
    if seat is None or ws is None:
        return
    used, limit = seat.disk_bytes() + int(more_bytes), int(ws.max_seat_disk_mb * 2**20)
    if used > limit:
        raise PanelError(f"Expected this seat to use at most {ws.max_seat_disk_mb:g} MiB of disk (workshop "
                         f"limit). Received: {used / 2**20:.1f} MiB; delete runs in the Runs step first")


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
