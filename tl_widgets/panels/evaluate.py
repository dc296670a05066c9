"""The evaluation panel: evaluate a run on its validation split and show the figures.

Standalone: ``EvaluatePanel("runs/<run_id>")`` or ``EvaluatePanel(result)`` with
a :class:`~tl_widgets.core.training.session.RunResult`. The evaluation runs in a worker
thread that only sets widget values; every value from the browser is checked
in Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.i18n import N_, _
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork
from tl_widgets.views.widgets.chart import PlotlyChart

__all__ = ["EvaluatePanel", "run_dir_of"]

_VIEWS = ("counts", "normalised")
_VIEW_LABELS = {"counts": N_("counts"), "normalised": N_("normalised")}


def run_dir_of(source: Any) -> Path:
    """The run folder of a path or a RunResult.

    Raises:
        ValueError: ``source`` has no run folder.
    """
    folder = getattr(source, "run_dir", source)
    if folder is None or not isinstance(folder, (str, Path)):
        raise ValueError(f"Expected a run folder or a RunResult with a run_dir. Received: {source!r}")
    return Path(folder)


class EvaluatePanel(BackgroundWork, widgets.VBox):
    """Confusion matrix, per-class metrics, top losses and Grad-CAM for one run.

    Args:
        source: A run folder or a RunResult.
        auto: Start the evaluation at once.
        engine: The engine that evaluates (None: this process's).
    """

    def __init__(self, source: Any, *, auto: bool = False, engine: Any = None, **kwargs: Any) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        self.run_dir = run_dir_of(source)
        self.report: Any = None
        self.gradcam_result: Any = None
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.button = widgets.Button(description=_("Evaluate"), icon="check", button_style="primary")
        self.button.add_class("tlw-evaluate-run")
        self.view = widgets.ToggleButtons(options=[(_(_VIEW_LABELS[v]), v) for v in _VIEWS], value="counts",
                                          description=_("Matrix"))
        self.gradcam_button = widgets.Button(description=_("Grad-CAM on top losses"), disabled=True,
                                             layout={"width": "auto"})
        self.summary = widgets.HTML()
        self.figures = widgets.VBox()
        # Charts are widgets: created here, on the kernel's main thread; workers only update them.
        self._confusion_chart = PlotlyChart(height=420)
        self._per_class_chart = PlotlyChart(height=360)
        self._losses_chart = PlotlyChart(height=400)
        self._gradcam_chart = PlotlyChart(height=400)
        # The fix-the-data loop: a click on a confusion cell opens its images in a CuratePanel.
        self.curate: Any = None
        self.on_retrain: Any = None  # the Studio's "retrain with fixes" (None: the CuratePanel starts the run)
        self._confusion_chart.add_class("tlw-confusion")
        self._confusion_chart.on_click(self._on_cell_click)
        self.review_button = widgets.Button(description=_("Review & fix images"), icon="edit", disabled=True,
                                            layout={"width": "auto"})
        self.review_button.add_class("tlw-review-images")
        self.lineage = widgets.HTML()
        self.review_button.on_click(lambda _: self.open_curation("wrong"))
        self._reliability_chart = PlotlyChart(height=380)
        self.guard.watch(self.view, lambda v: check_choice(v, "view", _VIEWS), after=lambda _: self._show())
        self.button.on_click(lambda _: self.start())
        self.gradcam_button.on_click(lambda _: self.start_gradcam())
        super().__init__(
            [widgets.HBox([self.button, self.view, self.gradcam_button, self.review_button]), self.notice,
             self.summary, self.lineage, self.figures],
            **kwargs,
        )
        self.add_class("tlw-evaluate")
        if auto:
            self.start()

    def _launch(self, work: Any, label: str) -> None:
        if self.busy:
            self.notice.show(_("Busy: wait for the current evaluation to end."), "warning")
            return
        self.notice.show(label, "info")
        self._run_in_background(work, name="tlw-evaluate", buttons=[self.button])

    def start(self) -> None:
        """Evaluates the run (in a worker thread)."""
        def work() -> None:
            self.report = self.engine.evaluate(str(self.run_dir))
            self._show()
            self.gradcam_button.disabled = len(self.report.top_losses) == 0
            self.review_button.disabled = False
            self._show_lineage()
            self.notice.show(_("Evaluated {n} validation images.").format(n=self.report.count), "info")

        self._launch(work, _("Evaluating…"))

    def start_gradcam(self) -> None:
        """Grad-CAM overlays for the top-loss images (in a worker thread)."""
        if self.report is None or not len(self.report.top_loss_images):
            self.notice.show(_("Expected an evaluation with wrong predictions first. Received: none"), "warning")
            return

        def work() -> None:
            from tl_widgets.views.figures.evaluation import gradcam_figure

            self.gradcam_result = self.engine.gradcam(str(self.run_dir), self.report.top_loss_images)
            names = self.report.class_names
            captions = [f"{names[c]} ({p:.2f})" for c, p in
                        zip(self.gradcam_result.class_indices, self.gradcam_result.probabilities)]
            fig = gradcam_figure(self.gradcam_result.overlays, captions)
            self._gradcam_chart.height = int(fig.layout.height or 400)
            self._gradcam_chart.set_figure(fig)
            if self._gradcam_chart not in self.figures.children:
                self.figures.children = tuple(self.figures.children) + (self._gradcam_chart,)
            self.notice.show(_("Grad-CAM from layer {layer}.").format(layer=repr(self.gradcam_result.layer)), "info")

        self._launch(work, _("Computing Grad-CAM…"))


    def _show_lineage(self) -> None:
        """For a child run (retrained with fixes): per-class F1 and support next to the parent's."""
        from tl_widgets.core.runs.lineage import parent_report, per_class_before_after
        from tl_widgets.views.figures.curate_grid import before_after_html

        parent = parent_report(self.run_dir, evaluate=self.engine.evaluate)
        if parent is not None:
            rows = per_class_before_after(parent[1], self.report.to_dict())
            self.lineage.value = before_after_html(parent[0], rows)

    def _on_cell_click(self, event: dict[str, Any]) -> None:
        """A confusion-matrix click: ``x`` is the predicted class, ``y`` the true one (both checked here)."""
        if self.report is None:
            return
        names = self.report.class_names
        try:
            true = check_choice(event.get("y"), _("true class"), names)
            predicted = check_choice(event.get("x"), _("predicted class"), names)
        except PanelError as exc:
            self.notice.show(_("Refused: {reason}").format(reason=exc))
            return
        self.open_curation(f"cell:{names.index(true)}:{names.index(predicted)}")

    def open_curation(self, selection: str = "wrong") -> None:
        """Shows the images of ``selection`` (``"wrong"``, ``"errors"`` or ``"cell:T:P"``) in a CuratePanel."""
        from tl_widgets.panels.curate import CuratePanel

        if self.curate is None:
            try:
                self.curate = CuratePanel(self.run_dir, on_retrain=self.on_retrain, engine=self.engine)
            except PanelError as exc:
                self.notice.show(_("Cannot review images: {reason}").format(reason=exc))
                return
            self.children = (*self.children, self.curate)
        if self.curate.review is None:
            if not self.curate.busy:
                self.curate.load(then=selection)
            return
        self.curate._set_filters(selection)

    def _show(self) -> None:
        from tl_widgets.views.figures.calibration import reliability_figure_of
        from tl_widgets.views.figures.evaluation import confusion_figure, per_class_figure, top_losses_figure

        r = self.report
        if r is None:
            return
        top = ", ".join(f"{k.replace('_', '-')} {v:.3f}" for k, v in r.top_k.items())
        self.summary.value = _("<b>accuracy</b> {accuracy:.4f} &nbsp; <b>loss</b> {loss:.4f} &nbsp; <b>macro F1</b> "
                               "{f1:.4f} &nbsp; {top} &nbsp; ({n} images)").format(
            accuracy=r.accuracy, loss=r.loss, f1=r.macro_f1, top=top, n=r.count)
        if "ece" in r.calibration:
            cal = r.calibration
            self.summary.value += f" &nbsp; <b>ECE</b> {cal['ece']:.4f}" + (
                (_(" (temperature {t:.2f}; {before:.4f} before)").format(t=cal["temperature"], before=cal["ece_before"])
                 if cal.get("applied") else _(" (not calibrated: a temperature would not lower it)"))
                if "temperature" in cal else "")
        self._confusion_chart.set_figure(
            confusion_figure(r.confusion, r.class_names, normalize=self.view.value == "normalised"))
        if not self.figures.children:  # per-class and top losses do not depend on the view toggle
            self._per_class_chart.set_figure(per_class_figure(r.per_class))
            losses = top_losses_figure(r.top_loss_images, r.top_losses)
            self._losses_chart.height = int(losses.layout.height or 400)
            self._losses_chart.set_figure(losses)
            self.figures.children = (self._confusion_chart, self._per_class_chart, self._losses_chart)
            reliability = reliability_figure_of(r.calibration)
            if reliability is not None:  # calibration: confidence against accuracy (before/after the temperature)
                self._reliability_chart.set_figure(reliability)
                self.figures.children = self.figures.children + (self._reliability_chart,)
