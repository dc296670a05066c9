"""The Train panel's "Advanced" settings: each phase's schedule, warm-up and per-block rates; the run's options.

The phase fields go into the phases the Train panel returns
(:meth:`TrainAdvanced.apply_phase`); the top-level fields (seed, early
stopping, reduce-on-plateau, keep-the-best-epoch, feature cache, run name)
are returned by :meth:`TrainAdvanced.top_level`, which the Train panel's
``top_level`` hands to the Studio's one config assembler.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.config.schema import PhaseConfig, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.field_editor import FieldGroup, advanced_box
from tl_widgets.panels.kit.validation import Guard

__all__ = ["TrainAdvanced", "PHASE_FIELDS", "RUN_FIELDS"]

PHASE_FIELDS = ("schedule", "warmup_epochs", "lr_decay_per_block")
"""The :class:`PhaseConfig` fields shown per phase (epochs, learning rate and optimizer are on the panel itself)."""
RUN_FIELDS = ("seed", "early_stopping_patience", "reduce_lr_patience", "rollback", "feature_cache", "run_name")
"""The top-level :class:`TrainConfig` fields shown here."""


class TrainAdvanced:
    """Editors for the head phase, the fine-tune phase and the run's options, in one closed "Advanced" accordion.

    Args:
        guard: The Train panel's guard (refusals show in its notice).
    """

    def __init__(self, guard: Guard) -> None:
        self.phase_groups = [FieldGroup(PhaseConfig, PHASE_FIELDS, guard, "phases[0]", "head-"),
                             FieldGroup(PhaseConfig, PHASE_FIELDS, guard, "phases[1]", "ft-")]
        self.run = FieldGroup(TrainConfig, RUN_FIELDS, guard, "", "")
        self._ft_section = widgets.VBox([widgets.HTML("<b>" + html.escape(_("Fine-tune phase")) + "</b>"),
                                         *self.phase_groups[1].widgets])
        self.box = advanced_box((_("Head phase"), self.phase_groups[0].widgets), (None, [self._ft_section]),
                                (_("The run"), self.run.widgets))
        self.box.add_class("tlw-train-advanced")

    def show(self, cfg: TrainConfig) -> None:
        """Shows the first two phases of ``cfg`` (a missing fine-tune phase shows the defaults) and its options."""
        self.phase_groups[0].show(cfg.phases[0])
        self.phase_groups[1].show(cfg.phases[1] if len(cfg.phases) > 1 else PhaseConfig(name="fine_tune"))
        self.run.show(cfg)

    def show_fine_tune(self, on: bool) -> None:
        """Shows the fine-tune phase's editors only while the fine-tune is on."""
        self._ft_section.layout.display = None if on else "none"

    def apply_phase(self, index: int, phase: PhaseConfig) -> PhaseConfig:
        """``phase`` (the head when ``index`` is 0, the fine-tune when 1) with the values shown here.

        Raises:
            PanelError: A value fails its check.
        """
        return self.phase_groups[index].apply(phase)

    def top_level(self) -> dict[str, Any]:
        """``{field: value}`` of the run's options shown here, re-checked.

        Raises:
            PanelError: A value fails its check.
        """
        return self.run.values()
