"""One training phase's epochs, learning rate and optimizer, as the Train panel shows them (head and fine-tune)."""

from __future__ import annotations

import dataclasses
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.config.checks import field_bounds, field_choices
from tl_widgets.core.config.schema import PhaseConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import Guard, check_choice, check_number

__all__ = ["PhaseEditor"]


class PhaseEditor:
    """Epochs, learning rate and optimizer of one phase, guarded; choices and bounds come from `PhaseConfig`."""

    def __init__(self, guard: Guard, prefix: str, epochs: int, lr: float, max_epochs: int | None = None) -> None:
        e_lo, e_hi = field_bounds(PhaseConfig, "epochs")
        self.max_epochs = max_epochs
        limit = self.epoch_bound(e_hi)
        l_lo, l_hi = field_bounds(PhaseConfig, "learning_rate")
        self.optimizers = field_choices(PhaseConfig, "optimizer")
        # The widget's own max stays the schema's: a value above a workshop's limit reaches the guard, which says
        # why it is refused.
        self.epochs = widgets.BoundedIntText(min(epochs, limit or epochs), min=e_lo, max=e_hi, description=_("epochs"),
                                             layout={"width": "200px"})
        self.epochs.add_class(f"tlw-{prefix}epochs")
        self.lr = widgets.BoundedFloatText(lr, min=l_lo, max=l_hi, step=1e-4, description=_("learning rate"),
                                           layout={"width": "260px"}, style={"description_width": "initial"})
        self.lr.add_class(f"tlw-{prefix}lr")
        self.optimizer = widgets.Dropdown(options=list(self.optimizers), value=PhaseConfig.optimizer,
                                          description=_("optimizer"), layout={"width": "220px"})
        self.optimizer.add_class(f"tlw-{prefix}optimizer")
        guard.watch(self.epochs, lambda v: check_number(v, "epochs", e_lo, limit, integer=True))
        guard.watch(self.lr, lambda v: float(check_number(v, "learning_rate", l_lo, l_hi)))
        guard.watch(self.optimizer, lambda v: check_choice(v, "optimizer", self.optimizers))
        self.guard = guard

    def epoch_bound(self, hi: float | None) -> float | None:
        """The config's epoch bound, lowered to the workshop's maximum when there is one."""
        if self.max_epochs is None:
            return hi
        return self.max_epochs if hi is None else min(hi, self.max_epochs)

    def show(self, phase: PhaseConfig) -> None:
        self.guard.accept(self.epochs, phase.epochs)
        self.guard.accept(self.lr, float(phase.learning_rate))
        self.guard.accept(self.optimizer, phase.optimizer)

    def apply(self, phase: PhaseConfig, **changes: Any) -> PhaseConfig:
        """A copy of ``phase`` with the values shown here (re-checked) and ``changes``; other fields pass through.

        Raises:
            PanelError: A value failed its check.
        """
        e_lo, e_hi = field_bounds(PhaseConfig, "epochs")
        e_hi = self.epoch_bound(e_hi)
        l_lo, l_hi = field_bounds(PhaseConfig, "learning_rate")
        return dataclasses.replace(
            phase, epochs=check_number(self.epochs.value, "epochs", e_lo, e_hi, integer=True),
            learning_rate=float(check_number(self.lr.value, "learning_rate", l_lo, l_hi)),
            optimizer=check_choice(self.optimizer.value, "optimizer", self.optimizers), **changes)

    @property
    def widgets(self) -> list[widgets.Widget]:
        return [self.epochs, self.lr, self.optimizer]
