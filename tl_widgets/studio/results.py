"""The Studio's last two steps: Evaluate (the confusion matrix of the last run) and Try it & export.

Entering Evaluate evaluates this
kernel's last finished (or stopped) run once; "Evaluate again" re-runs it.
Entering Try it & export shows the export panel for that run; the Try-it
panel asks :func:`last_result` itself.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.i18n import _
from tl_widgets.core.runs.db import saved_a_model

__all__ = ["last_result", "last_run_dir", "missing_steps", "ResultSteps"]


def last_result(train: Any) -> Any:
    """The last finished or stopped run of a Train panel (a RunResult with a run folder), else None."""
    session = train.session
    result = session.result if session is not None else None
    if result is None or not saved_a_model(result.status) or result.run_dir is None:
        return None
    return result


def last_run_dir(train: Any) -> str | None:
    """The folder of the last finished or stopped run (the health check's weak groups and retraining)."""
    result = last_result(train)
    return str(result.run_dir) if result is not None else None


def missing_steps(data_report: dict[str, Any] | None, loading: bool, train: Any) -> dict[str, str]:
    """What each step still needs: step key -> one sentence (steps that need nothing are left out).

    Args:
        data_report: The Data panel's report (its ``counts`` say a dataset is picked).
        loading: True while the engine loads.
        train: The Train panel (its last run, and whether one trains).
    """
    missing: dict[str, str] = {}
    if not (data_report or {}).get("counts"):
        missing["data"] = missing["train"] = _("Pick a dataset first.")
    if loading:
        missing["model"] = _("Loading TensorFlow…")
        missing.setdefault("train", _("Loading TensorFlow…"))
    if last_result(train) is None:
        missing["evaluate"] = missing["try"] = (_("Training: wait for the run to finish.") if train.running
                                                else _("Train a model first: press Start."))
    return missing


class ResultSteps:
    """The Evaluate and Try-it & export pages of a Studio, filled from its last run when they are shown.

    Args:
        train: The Train panel (its last run is the one shown).
        notice: Where refusals are shown.
        on_started: Called after "Retrain with fixes" started a child run (the Studio shows the Train step).
        engine: Evaluates and exports (None: this process's).
    """

    def __init__(self, train: Any, notice: Any, on_started: Callable[[], None], engine: Any = None) -> None:
        self.train, self.notice, self.on_started, self.engine = train, notice, on_started, engine
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
        result = last_result(self.train)
        none = _("No trained model yet: press Start (above) and wait for the run to finish.")
        self.evaluate_hint.value = "" if result is not None else f"<i>{none}</i>"
        new_run = result is not None and result.run_id != self.evaluated_run
        self.evaluate_button.layout.display = None if new_run else "none"
        self.try_hint.value = "" if result is not None else f"<i>{none}</i>"

    def on_enter(self, key: str) -> None:
        """The step ``key`` was shown: evaluate a new last run once, or show its export panel."""
        self.show_hints()
        result = last_result(self.train)
        if result is None:
            return
        if key == "evaluate" and result.run_id != self.evaluated_run:
            self.evaluate_last_run()
        elif key == "try" and result.run_id != self.exported_run:
            from tl_widgets.panels.export import ExportPanel

            self.export_box.children = (widgets.HTML("<h3>" + _("Export") + "</h3>"), ExportPanel(result, engine=self.engine))
            self.exported_run = result.run_id

    def evaluate_last_run(self) -> bool:
        """Shows the evaluation (confusion matrix, per-class metrics, ...) of the last finished or stopped run.

        Runs on the kernel's main thread (a click or a step change), so the
        panel is created there; returns False, with a message, when there is
        no run yet or an evaluation is still running.
        """
        from tl_widgets.panels.evaluate import EvaluatePanel

        result = last_result(self.train)
        if result is None:
            self.notice.show(_("Expected a finished or stopped run to evaluate. Received: none yet — "
                                      "press Start first."))
            return False
        shown = [c for c in self.evaluation.children if isinstance(c, EvaluatePanel)]
        if any(getattr(c, "busy", False) for c in shown):
            self.notice.show(_("Busy: an evaluation is already running; wait for it to end."), "warning")
            return False  # one evaluation at a time (each click would start another otherwise)
        panel = EvaluatePanel(result, auto=True, engine=self.engine)
        panel.on_retrain = self.retrain
        self.evaluation.children = (*self.evaluation.children[:2], panel)
        self.evaluated_run = result.run_id
        self.show_hints()
        return True

    def retrain(self, run_dir: str, curation: str) -> str | None:
        """Starts a child run: ``run_dir``'s config with ``curation`` applied (``parent_run_id`` set).

        Returns:
            The child's run id, or None when refused (the reason is shown).
        """
        from tl_widgets.core.runs.lineage import child_config

        try:
            cfg = child_config(run_dir, curation)
        except (OSError, ValueError) as exc:
            self.notice.show(_("Cannot retrain with fixes: {reason}").format(reason=exc))
            return None
        run_id = self.train.start_with(cfg)
        if run_id is not None:
            self.on_started()
        return run_id
