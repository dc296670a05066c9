"""The Studio's last two steps: Evaluate (the confusion matrix of the last run) and Try it & export.

Kept out of :mod:`tl_widgets.studio.app`. Entering Evaluate evaluates this
kernel's last finished (or stopped) run once; "Evaluate again" re-runs it.
Entering Try it & export shows the export panel for that run; the Try-it
panel asks :func:`last_result` itself.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from tl_widgets.core.i18n import _

__all__ = ["last_result", "missing_steps", "ResultSteps"]


def last_result(studio: Any) -> Any:
    """This kernel's last finished or stopped run (a RunResult with a run folder), else None."""
    session = studio.train.session
    result = session.result if session is not None else None
    if result is None or result.status not in ("finished", "stopped") or result.run_dir is None:
        return None
    return result


def missing_steps(studio: Any) -> dict[str, str]:
    """What each of a Studio's steps still needs: step key -> one sentence (steps that need nothing are left out)."""
    missing: dict[str, str] = {}
    if not (studio.data.report or {}).get("counts"):
        missing["data"] = missing["train"] = _("Pick a dataset first.")
    if studio.loading:
        missing["model"] = _("Loading TensorFlow…")
        missing.setdefault("train", _("Loading TensorFlow…"))
    if last_result(studio) is None:
        missing["evaluate"] = missing["try"] = (_("Training: wait for the run to finish.") if studio.train.running
                                                else _("Train a model first: press Start."))
    return missing


class ResultSteps:
    """The Evaluate and Try-it & export pages of a Studio, filled from its last run when they are shown.

    Args:
        studio: The Studio (its ``train`` panel, ``notice`` and ``retrain_with_fixes``).
    """

    def __init__(self, studio: Any) -> None:
        self.studio = studio
        # Shown only when the run on screen is not the last one (it finished while this step was open); the
        # evaluation panel's own "Evaluate" re-runs the one shown.
        self.evaluate_button = widgets.Button(description=_("Evaluate the last run"), icon="search",
                                              button_style="primary", layout={"width": "auto"})
        self.evaluate_button.add_class("tlw-evaluate-last")
        self.evaluate_button.on_click(lambda _b: self.evaluate_last_run())
        self.evaluate_hint = widgets.HTML()
        self.evaluate_hint.add_class("tlw-evaluate-hint")
        self.evaluation = widgets.VBox([self.evaluate_hint, widgets.HBox([self.evaluate_button])])
        self.evaluation.add_class("tlw-evaluate-step")
        self.try_hint = widgets.HTML()
        self.try_hint.add_class("tlw-try-hint")
        self.export_box = widgets.VBox()
        self.export_box.add_class("tlw-export-box")
        self.try_box = widgets.VBox()
        self.try_page = widgets.VBox([self.try_hint, self.try_box, self.export_box])
        self.try_page.add_class("tlw-try-step")
        self.evaluated_run: str | None = None
        self.exported_run: str | None = None
        self.show_hints()

    def show_hints(self) -> None:
        """Says on both pages whether there is a run to look at (safe from any thread)."""
        result = last_result(self.studio)
        none = _("No trained model yet: press Start (above) and wait for the run to finish.")
        self.evaluate_hint.value = "" if result is not None else f"<i>{none}</i>"
        new_run = result is not None and result.run_id != self.evaluated_run
        self.evaluate_button.layout.display = None if new_run else "none"
        self.try_hint.value = "" if result is not None else f"<i>{none}</i>"

    def on_enter(self, key: str) -> None:
        """The step ``key`` was shown: evaluate a new last run once, or show its export panel."""
        self.show_hints()
        result = last_result(self.studio)
        if result is None:
            return
        if key == "evaluate" and result.run_id != self.evaluated_run:
            self.evaluate_last_run()
        elif key == "try" and result.run_id != self.exported_run:
            from tl_widgets.panels.export import ExportPanel

            self.export_box.children = (widgets.HTML("<h3>" + _("Export") + "</h3>"), ExportPanel(result))
            self.exported_run = result.run_id

    def evaluate_last_run(self) -> bool:
        """Shows the evaluation (confusion matrix, per-class metrics, ...) of the last finished or stopped run.

        Runs on the kernel's main thread (a click or a step change), so the
        panel is created there; returns False, with a message, when there is
        no run yet or an evaluation is still running.
        """
        from tl_widgets.panels.evaluate import EvaluatePanel

        result = last_result(self.studio)
        if result is None:
            self.studio.notice.show(_("Expected a finished or stopped run to evaluate. Received: none yet — "
                                      "press Start first."))
            return False
        shown = [c for c in self.evaluation.children if isinstance(c, EvaluatePanel)]
        if any(getattr(c, "busy", False) for c in shown):
            self.studio.notice.show(_("Busy: an evaluation is already running; wait for it to end."), "warning")
            return False  # one evaluation at a time (each click would start another otherwise)
        panel = EvaluatePanel(result, auto=True)
        panel.on_retrain = self.studio.retrain_with_fixes
        self.evaluation.children = (*self.evaluation.children[:2], panel)
        self.evaluated_run = result.run_id
        self.show_hints()
        return True
