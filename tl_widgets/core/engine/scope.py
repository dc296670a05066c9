"""What one engine request may touch: every path it names re-checked against the requesting seat.

A notebook user's own engine (:class:`OpenScope`) trusts its caller. An engine
worker serves many seats, so each request it runs gets a :class:`SeatScope`:
run folders must lie in the seat's home; data may come from the seat's home or
the room's data roots (read-only); a config is re-checked against the
workshop's limits and must write under the seat's home. The same rules the
seat's panels apply, applied again where the work happens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.config.checks import ConfigError, check_under_roots
from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.i18n import N_

__all__ = ["Scope", "OpenScope", "SeatScope", "ScopeError"]


class ScopeError(ConfigError):
    """A request names a path or a value outside what its seat may use."""


class Scope:
    """The checks a job applies to what it is given (the base checks nothing: the caller's own machine)."""

    seat: str | None = None

    def run_dir(self, path: Any) -> Path:
        """The run folder ``path`` names (the job itself says when it is not a run folder)."""
        return Path(_text(path, "run folder")).expanduser().resolve()

    def read_path(self, path: Any, what: str = "data path") -> Path:
        """A file or folder a job may read."""
        return Path(_text(path, what)).expanduser().resolve()

    def config(self, cfg: Any) -> TrainConfig:
        """The run config a job may train or sweep (a dict is parsed and checked)."""
        return cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(cfg)

    def backbone(self, name: Any) -> str:
        """A backbone name a job may build."""
        return _text(name, "backbone")


class OpenScope(Scope):
    """No restriction: the engine runs for the person who owns this machine (a notebook, the CLI)."""


@dataclass
class SeatScope(Scope):
    """The seat at ``home`` in a served room: its home, the room's data roots (read-only), its workshop.

    Attributes:
        home: The seat's private folder (runs, uploads, captures, curation).
        data_roots: Folders every seat may read.
        workshop: The room's limits, or None.
    """

    home: Path
    data_roots: Sequence[Path] = field(default_factory=list)
    workshop: Any = None

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        self.data_roots = [Path(r).resolve() for r in self.data_roots]
        self.seat = self.home.name

    def _under_home(self, path: Any, what: str) -> Path:
        try:
            return check_under_roots(_text(path, what), [self.home], what, N_("this seat's folder"))
        except ConfigError as exc:
            raise ScopeError("", str(exc)) from None

    def run_dir(self, path: Any) -> Path:
        resolved = self._under_home(path, "run folder")
        if not resolved.is_dir():
            raise ScopeError("", f"Expected an existing run folder of this seat. Received: {str(path)!r}")
        return resolved

    def read_path(self, path: Any, what: str = "data path") -> Path:
        try:
            return check_under_roots(_text(path, what), [self.home, *self.data_roots], what,
                                     N_("this seat's folder or the data roots"))
        except ConfigError as exc:
            raise ScopeError("", str(exc)) from None

    def backbone(self, name: Any) -> str:
        name = _text(name, "backbone")
        if self.workshop is not None and name not in self.workshop.allowed_backbones:
            raise ScopeError("model.backbone", f"Expected one of the workshop's backbones "
                                               f"{list(self.workshop.allowed_backbones)}. Received: {name!r}")
        if self.workshop is None and ("/" in name or name.endswith((".keras", ".h5"))):
            self.read_path(name, "model file")
        return name

    def config(self, cfg: Any) -> TrainConfig:
        """``cfg`` checked for this seat: writes under its home, reads its home or the data roots, fits the
        workshop (raises :class:`ScopeError` or ConfigError naming the field)."""
        cfg = super().config(cfg)
        out = self._under_home(cfg.output_dir, "output folder")
        data = cfg.data
        if data.source == "code":
            raise ScopeError("data.source", "Expected demo, folder or zip data from a seat. Received: 'code'")
        if data.source in ("folder", "zip"):
            self.read_path(data.path or "", "data." + data.source)
        if data.val_path:
            self.read_path(data.val_path, "data.val_path")
        if data.curation:
            self._under_home(data.curation, "data.curation")
        weights = cfg.model.weights
        if weights not in ("pretrained", "none", "imagenet"):
            self.read_path(weights, "model.weights")
        self.backbone(cfg.model.backbone)
        if self.workshop is not None:
            from tl_widgets.core.room.limits import check_run_limits

            check_run_limits(cfg, self.workshop, [self.home])
        return dataclasses.replace(cfg, output_dir=str(out))


def _text(value: Any, what: str) -> str:
    if not isinstance(value, (str, Path)) or not str(value) or "\x00" in str(value):
        raise ScopeError("", f"Expected a {what} path. Received: {value!r}")
    return str(value)
