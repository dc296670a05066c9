"""Augmentation toggles with a preview grid (part of the Data panel)."""

from __future__ import annotations

import dataclasses
from typing import Any

import ipywidgets as widgets
import numpy as np

from tl_widgets.core.config.checks import field_bounds, field_choices, field_label, type_hints
from tl_widgets.core.config.schema import AugmentConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.labels import choice_options
from tl_widgets.panels.kit.validation import Guard, Notice, check_choice, check_number

__all__ = ["AugmentPanel"]

FLIPS = field_choices(AugmentConfig, "flip")
FACTORS = tuple(f.name for f in dataclasses.fields(AugmentConfig) if type_hints(AugmentConfig)[f.name] is float)
"""The factor fields (floats with ``min``/``max`` in the schema), one slider each."""


class AugmentPanel(widgets.VBox):
    """Edits an :class:`AugmentConfig` and previews it on one sample image.

    Args:
        config: Initial settings.
        notice: Where refusals are shown (a new one when None).
        engine: The engine that draws the preview (None: this process's).
    """

    def __init__(self, config: AugmentConfig | None = None, notice: Notice | None = None, engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        cfg = config or AugmentConfig()
        self._base = cfg
        self.notice = notice or Notice()
        self.guard = Guard(self.notice)
        self._image: np.ndarray | None = None
        self.flip = widgets.Dropdown(options=choice_options(FLIPS), value=cfg.flip,
                                     description=field_label(AugmentConfig, "flip"))
        self.flip.add_class("tlw-aug-flip")
        self.guard.watch(self.flip, lambda v: check_choice(v, "flip", FLIPS), lambda _: self.refresh())
        self.factors: dict[str, widgets.FloatSlider] = {}
        for name in FACTORS:
            lo, hi = field_bounds(AugmentConfig, name)
            slider = widgets.FloatSlider(value=getattr(cfg, name), min=lo, max=hi, step=0.05,
                                         description=field_label(AugmentConfig, name), continuous_update=False)
            slider.add_class(f"tlw-aug-{name}")
            self.guard.watch(slider, lambda v, n=name, a=lo, b=hi: float(check_number(v, n, a, b)),
                             lambda _: self.refresh())
            self.factors[name] = slider
        from tl_widgets.views.widgets.chart import PlotlyChart

        self.preview = PlotlyChart(height=260, label=_("Augmentation preview: one image, augmented several ways"))
        self.preview.add_class("tlw-aug-preview")
        self.preview.layout.display = "none"
        super().__init__([widgets.HTML(_("<b>Augmentation</b> (training batches only)")), self.flip,
                          *self.factors.values(), self.preview])
        self.add_class("tlw-augment")

    @property
    def config(self) -> AugmentConfig:
        """The settings the widgets show (not re-checked: see :meth:`validate`); other fields pass through."""
        return dataclasses.replace(self._base, flip=self.flip.value,
                                   **{n: float(s.value) for n, s in self.factors.items()})

    def set_config(self, cfg: AugmentConfig) -> None:
        """Shows ``cfg`` (already validated by TrainConfig)."""
        self._base = cfg
        with self.hold_sync():
            self.guard.accept(self.flip, cfg.flip)
            for name, slider in self.factors.items():
                self.guard.accept(slider, float(getattr(cfg, name)))
        self.refresh()

    def validate(self) -> AugmentConfig:
        """Re-checks every value; returns the config.

        Raises:
            PanelError: A value is outside its bounds.
        """
        check_choice(self.flip.value, "flip", FLIPS)
        for name, slider in self.factors.items():
            lo, hi = field_bounds(AugmentConfig, name)
            check_number(slider.value, name, lo, hi)
        return self.config

    def set_image(self, image: np.ndarray | None) -> None:
        """The sample image the preview augments (None hides the preview)."""
        self._image = image
        self.refresh()

    def refresh(self) -> None:
        """Redraws the preview (hidden when augmentation is off)."""
        cfg = self.config
        if self._image is None or not cfg.enabled:
            self.preview.layout.display = "none"
            return
        from tl_widgets.views.figures.basic import image_grid_figure

        images = self.engine.augment_preview(self._image, cfg, 8, 0)
        self.preview.set_figure(image_grid_figure(images, cols=8))
        self.preview.layout.display = None
