"""A workshop's limits on one run's config: the check the Studio makes before Start and the engine repeats.

One owner for "does this config fit the workshop": the Studio calls it (and
shows the refusal), and an engine worker that serves many seats calls it again
on every request, because a worker is a boundary and a seat's request is
hostile until checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.config.checks import check_choice, check_number, check_under_roots
from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.i18n import _

__all__ = ["check_run_limits", "size_limits", "seat_space_left", "frame_byte_limit"]


def size_limits(cfg: TrainConfig, workshop: Any) -> list[tuple[Any, str, int]]:
    """``(config part, field, workshop limit)`` for the limits on how big a run's model and steps may be."""
    ws = workshop
    return [(cfg.model, "hidden_units", ws.max_hidden_units), (cfg.strategy, "logical_cpus", ws.max_logical_cpus),
            (cfg.strategy, "steps_per_execution", ws.max_steps_per_execution)]


def check_run_limits(cfg: TrainConfig, workshop: Any, extra_roots: Sequence[Path] = ()) -> None:
    """Checks ``cfg`` against ``workshop``: input size, allowed backbone, epochs per phase, batch size, the model's
    size and steps per execution, the data folder.

    Args:
        cfg: The run's config.
        workshop: The :class:`~tl_widgets.core.room.workshop.Workshop`.
        extra_roots: Folders a data folder may also lie in (a seat's captures).

    Raises:
        ConfigError: Naming the limit and the value.
    """
    ws = workshop
    limit = _("{what} (workshop limit)")
    if ws.max_input_size is not None and cfg.model.input_size is not None:
        check_number(cfg.model.input_size, limit.format(what="input_size"), 32, ws.max_input_size, integer=True)
    check_choice(cfg.model.backbone, limit.format(what="model.backbone"), ws.allowed_backbones)
    for phase in cfg.phases:
        what = _("{phase} epochs").format(phase=phase.name)
        check_number(phase.epochs, limit.format(what=what), 1, ws.max_epochs, integer=True)
    check_number(cfg.data.batch_size, limit.format(what="batch_size"), 1, ws.max_batch_size, integer=True)
    for part, name, most in size_limits(cfg, ws):
        check_number(getattr(part, name), limit.format(what=name), 0 if name != "steps_per_execution" else 1, most,
                     integer=True)
    if cfg.data.source == "folder":
        check_under_roots(cfg.data.path or "", [*ws.data_roots, *extra_roots], _("data folder"))


def seat_space_left(seat_home: str | Path, workshop: Any) -> int:
    """Bytes the seat at ``seat_home`` may still write under the workshop's disk quota (negative when over)."""
    from tl_widgets.core.fileio import folder_bytes

    return int(workshop.max_seat_disk_mb * 2**20) - folder_bytes(Path(seat_home))


def frame_byte_limit(workshop: Any) -> int:
    """The largest captured frame a room accepts: the capture store's limit, lowered to the workshop's upload limit."""
    from tl_widgets.core.data.capture import MAX_FRAME_BYTES

    return MAX_FRAME_BYTES if workshop is None else min(MAX_FRAME_BYTES, int(workshop.max_upload_bytes))
