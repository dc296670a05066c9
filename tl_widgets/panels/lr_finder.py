"""The learning-rate finder panel: sweep the learning rate, see loss against it, use the suggestion.

Standalone::

    panel = LRFinderPanel(config_source=lambda: my_config)
    panel            # press "Find learning rate"

In the Studio it sits in the Train tab: the sweep uses the Studio's current
config and "Use suggested" writes the suggestion into the Train panel's first
phase. The sweep (:func:`tl_widgets.core.training.lr_finder.find_lr`) runs in a worker
thread that only sets widget values; every value from the browser is checked
in Python.
"""

from __future__ import annotations

import html
import math
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.config.checks import ConfigError, field_bounds
from tl_widgets.core.config.schema import PhaseConfig, TrainConfig
from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_number
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["LRFinderPanel", "STEPS_BOUNDS", "LR_BOUNDS"]

STEPS_BOUNDS = (5, 1000)
"""Smallest and largest number of batches in a sweep."""
LR_BOUNDS = (1e-10, 10.0)
"""Smallest and largest learning rate a sweep may start or end at."""


class LRFinderPanel(BackgroundWork, widgets.VBox):
    """Finds a learning rate for the first phase with an exponential sweep.

    Args:
        config_source: Called on the kernel's main thread when "Find learning
            rate" is pressed; returns the config to sweep (the Studio passes
            its ``config`` builder). May raise ``PanelError``/``ConfigError``,
            which are shown in the panel.
        train_panel: The Train panel (a :class:`~tl_widgets.panels.train.TrainPanel`
            or anything with ``running``, ``session`` and ``head.lr``): the sweep
            is refused while it trains, and "Use suggested" sets its first
            phase's learning rate. None: standalone, "Use suggested" only
            reports the value.
        steps: Batches in the sweep.
        min_lr: First learning rate of the sweep.
        max_lr: Last learning rate of the sweep.
        data: Data from code, passed to ``find_lr`` in this process (as for ``TrainingSession``).
        engine: The engine that runs the sweep (None: this process's).

    Raises:
        TypeError: ``config_source`` is not callable.
        PanelError: ``steps``, ``min_lr`` or ``max_lr`` is out of bounds.
    """

    def __init__(self, config_source: Callable[[], TrainConfig], train_panel: Any = None, *, steps: int = 60,
                 min_lr: float = 1e-6, max_lr: float = 1.0, data: Any = None, engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine
        from tl_widgets.views.widgets.chart import PlotlyChart

        self.engine = resolve_engine(engine)
        if not callable(config_source):
            raise TypeError(f"Expected config_source to be a callable returning a TrainConfig. "
                            f"Received: {type(config_source).__name__}")
        check_number(steps, "steps", *STEPS_BOUNDS, integer=True)
        self._check_range(min_lr, max_lr)
        self._source = config_source
        self._train = train_panel
        self._data = data
        self.result: Any = None
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.steps = widgets.BoundedIntText(steps, min=STEPS_BOUNDS[0], max=STEPS_BOUNDS[1], description=_("steps"),
                                            layout={"width": "180px"})
        self.steps.add_class("tlw-lr-steps")
        self.min_lr = widgets.BoundedFloatText(min_lr, min=LR_BOUNDS[0], max=LR_BOUNDS[1], step=1e-6,
                                               description=_("from lr"), layout={"width": "220px"})
        self.min_lr.add_class("tlw-lr-min")
        self.max_lr = widgets.BoundedFloatText(max_lr, min=LR_BOUNDS[0], max=LR_BOUNDS[1], step=0.1,
                                               description=_("to lr"), layout={"width": "220px"})
        self.max_lr.add_class("tlw-lr-max")
        self.guard.watch(self.steps, lambda v: check_number(v, "steps", *STEPS_BOUNDS, integer=True))
        self.guard.watch(self.min_lr, lambda v: float(check_number(v, "min_lr", *LR_BOUNDS)))
        self.guard.watch(self.max_lr, lambda v: float(check_number(v, "max_lr", *LR_BOUNDS)))
        self.find_button = widgets.Button(description=_("Find learning rate"), icon="search", button_style="primary",
                                          layout={"width": "auto"})
        self.find_button.add_class("tlw-lr-find")
        self.use_button = widgets.Button(description=_("Use suggested"), icon="check", disabled=True)
        self.use_button.add_class("tlw-lr-use")
        self.suggestion = widgets.HTML(_("suggested: --"))
        self.suggestion.add_class("tlw-lr-suggested")
        self.chart = PlotlyChart(None, height=320, label=_("Learning-rate finder: loss by learning rate"))
        self.chart.add_class("tlw-lr-chart")
        self.find_button.on_click(lambda _: self.start())
        self.use_button.on_click(lambda _: self.use_suggested())
        super().__init__([
            widgets.HBox([self.steps, self.min_lr, self.max_lr]),
            widgets.HBox([self.find_button, self.use_button, self.suggestion]),
            self.notice, self.chart,
        ])
        self.add_class("tlw-lr-finder")

    # -- checks -------------------------------------------------------------------
    @staticmethod
    def _check_range(min_lr: Any, max_lr: Any) -> tuple[float, float]:
        lo = float(check_number(min_lr, "min_lr", *LR_BOUNDS))
        hi = float(check_number(max_lr, "max_lr", *LR_BOUNDS))
        if not lo < hi:
            raise PanelError(_("Expected min_lr < max_lr. Received: min_lr={lo:g}, max_lr={hi:g}").format(lo=lo, hi=hi))
        return lo, hi

    @property
    def suggested_lr(self) -> float | None:
        """The suggestion of the last sweep (None before one, or when it had too few points)."""
        return None if self.result is None else self.result.suggested_lr

    # -- actions ------------------------------------------------------------------
    def start(self) -> bool:
        """Starts a sweep on the current config (in a worker thread).

        Returns:
            True when a sweep started; False when refused (the reason is shown).
        """
        if self._train is not None and self._train.running:
            run_id = getattr(self._train.session, "run_id", None)
            self.notice.show(_("Refused: a training run is active ({run_id}); the learning-rate finder needs the "
                               "machine to itself. Wait for the run to end or press Stop, then try again.").format(
                                   run_id=run_id))
            return False
        if self.busy:
            self.notice.show(_("Busy: a learning-rate sweep is already running; wait for it to end."), "warning")
            return False
        # Re-checked here, not only by the guard: the browser can set any value.
        try:
            steps = check_number(self.steps.value, "steps", *STEPS_BOUNDS, integer=True)
            min_lr, max_lr = self._check_range(self.min_lr.value, self.max_lr.value)
            cfg = self._source()
        except (PanelError, ConfigError) as exc:
            self.notice.show(_("Cannot find a learning rate: {reason}").format(reason=exc))
            return False
        if not isinstance(cfg, TrainConfig):
            self.notice.show(_("Cannot find a learning rate: expected the config source to return a TrainConfig. "
                               "Received: {kind}").format(kind=type(cfg).__name__))
            return False
        data = self._data
        self.use_button.disabled = True  # enabled again by _show once there is a suggestion
        self.notice.show(_("Sweeping the learning rate from {lo:.1e} to {hi:.1e} over {steps} batches…").format(
            lo=min_lr, hi=max_lr, steps=steps), "info")

        def work() -> None:
            """Worker thread: computes, then sets widget values only."""
            if data is not None:  # data passed from Python stay in this process
                from tl_widgets.core.training.lr_finder import find_lr

                self.result = find_lr(cfg, data=data, steps=steps, min_lr=min_lr, max_lr=max_lr)
            else:
                self.result = self.engine.find_lr(cfg, steps=steps, min_lr=min_lr, max_lr=max_lr)
            self._show(self.result)

        self._run_in_background(work, name="tlw-lr-finder", buttons=[self.find_button],
                                failure=_("The learning-rate sweep failed: "))
        return True

    def _show(self, result: Any) -> None:
        from tl_widgets.views.figures.basic import lr_finder_figure

        if not result.lrs:
            self.suggestion.value = _("suggested: --")
            self.notice.show(_("The sweep recorded no finite loss (it diverged at once): lower the first learning "
                               "rate of the sweep."), "warning")
            return
        self.chart.set_figure(lr_finder_figure(result.lrs, result.losses, result.suggested_lr))
        if result.suggested_lr is None:
            self.suggestion.value = _("suggested: --")
            self.notice.show(_("Only {n} points before the loss diverged: too few for a suggestion. "
                               "Sweep more steps or a narrower range.").format(n=len(result.lrs)), "warning")
            return
        self.suggestion.value = _("suggested: {lr}").format(lr=f"<b>{html.escape(f'{result.suggested_lr:.2e}')}</b>")
        self.use_button.disabled = False
        self.notice.show(_("Swept {n} batches; the loss falls fastest near {lr:.2e}.").format(
            n=len(result.lrs), lr=result.suggested_lr), "info")

    def use_suggested(self) -> float | None:
        """Sets the Train panel's first-phase learning rate to the suggestion.

        Returns:
            The learning rate set, or None when refused (the reason is shown).
        """
        lr = self.suggested_lr
        if lr is None:  # the browser can click a disabled button
            self.notice.show(_("Expected a suggested learning rate. Received: none yet — press "
                               "\"Find learning rate\" first."), "warning")
            return None
        lo, hi = field_bounds(PhaseConfig, "learning_rate")
        try:
            lr = float(check_number(lr, "learning_rate", lo, hi))
        except PanelError as exc:
            self.notice.show(_("Cannot use the suggestion: {reason}").format(reason=exc))
            return None
        if not math.isfinite(lr):
            self.notice.show(_("Cannot use the suggestion: expected a finite learning rate. Received: {lr}").format(lr=repr(lr)))
            return None
        if self._train is None:
            self.notice.show(_("Suggested learning rate: {lr:.2e} (no Train panel to set it in).").format(lr=lr), "info")
            return lr
        if self._train.running:
            self.notice.show(_("Refused: a training run is active; its learning rate cannot change now. "
                               "Use the suggestion after the run ends."))
            return None
        self._train.head.lr.value = lr  # the Train panel's guard checks it again
        if self._train.head.lr.value != lr:
            self.notice.show(_("The Train panel refused learning rate {lr:.2e}; see its message.").format(lr=lr))
            return None
        self.notice.show(_("The first phase's learning rate is now {lr:.2e}.").format(lr=lr), "info")
        return lr
