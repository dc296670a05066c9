"""The Studio's sweep: the :class:`~tl_widgets.panels.sweep.SweepPanel` in the Train step, and config restore.

Kept out of :mod:`tl_widgets.studio.app` (which assembles the config) so that
module stays one screenful per job. :func:`restore_config` puts a whole
:class:`TrainConfig` back into the Studio's panels: "Use best" calls it with
the best trial's config, so ``studio.config`` then equals that config.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.sweep import SweepPanel

__all__ = ["attach_sweep", "restore_config"]


def restore_config(studio: Any, cfg: TrainConfig) -> None:
    """Shows ``cfg`` in every panel of ``studio`` (fields no panel shows are kept from ``cfg`` too).

    Raises:
        PanelError: A panel refuses a value (e.g. a folder outside the data roots).
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"Expected a TrainConfig. Received: {type(cfg).__name__}")
    if studio.workshop is not None:
        studio.check_limits(cfg)
    studio.backbone.set_config(cfg.model)  # the Studio's observer moves the freeze panel to this backbone
    if studio.freeze.backbone != cfg.model.backbone:
        studio.freeze.set_backbone(cfg.model.backbone, cfg.model.input_size)
    studio.freeze.set_config(cfg.freeze)
    studio.train.n_blocks = len(studio.freeze.blocks)
    studio.data.set_config(cfg.data)
    studio.strategy.set_config(cfg.strategy)
    studio.train.set_config(cfg)
    studio._base = cfg.copy()


def attach_sweep(studio: Any) -> SweepPanel:
    """Adds a sweep panel (in an accordion) to the Studio's Train step; "Use best" restores into the Studio."""
    panel = SweepPanel(config_source=lambda: studio.config, on_use_best=lambda cfg: restore_config(studio, cfg),
                       store=studio.runs.store, busy=lambda: studio.train.running)
    if studio.workshop is not None or getattr(studio, "seat", None) is not None:
        panel.refusal = _("Sweeps are off in a workshop or served room: their trials would bypass the room's "
                          "training queue and limits.")
        panel.start_button.disabled = True
        panel.status.value = panel.refusal
    box = widgets.Accordion([panel], titles=(_("Hyperparameter sweep (Optuna)"),))
    box.add_class("tlw-sweep-box")
    studio.train_tab.children = (*studio.train_tab.children, box)
    return panel
