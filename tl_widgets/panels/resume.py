"""Resume offer: interrupted runs (kernel killed, tab closed) that can continue from their last epoch checkpoint.

Which runs can resume is the run folder's knowledge (:func:`~tl_widgets.core.runs.folder.resumable_runs`).
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import resumable_runs
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice

__all__ = ["ResumePanel"]


def _label(run: dict[str, Any]) -> str:
    return _("{run_id}  (epoch {epoch} of {total})").format(run_id=run["run_id"], epoch=run.get("epoch") or 0,
                                                           total=run.get("total_epochs") or "?")


class ResumePanel(widgets.VBox):
    """Offers to resume an interrupted run; hidden while there is none.

    Args:
        store: The run store to look in (None: the default home store).
        on_resume: Called with the chosen run folder; returns the run id, or
            None when it refused (and showed why).

    The run folder comes from the store, never from the browser: the
    dropdown's value is re-checked against the listed runs on every change
    and again when Resume is pressed.
    """

    run_dirs = traitlets.List(traitlets.Unicode(), help="Folders of the resumable interrupted runs listed.")

    def __init__(self, on_resume: Callable[[str], str | None], store: Any = None) -> None:
        from tl_widgets.core.runs.store import RunStore

        self._on_resume = on_resume
        self.notice = Notice()
        try:
            self.store = store if store is not None else RunStore()
        except OSError as exc:  # a damaged store: nothing to offer, and the reason shown
            self.store = None
            self.notice.show(_("Cannot list interrupted runs: {reason}").format(reason=exc), "warning")
        self.guard = Guard(self.notice)
        self.runs = widgets.Dropdown(options=[], description=_("run"), layout={"width": "520px"})
        self.runs.add_class("tlw-resume-runs")
        self.resume_button = widgets.Button(description=_("Resume"), icon="play-circle", button_style="warning")
        self.resume_button.add_class("tlw-resume")
        self.dismiss_button = widgets.Button(description=_("Not now"), icon="times")
        self.dismiss_button.add_class("tlw-resume-dismiss")
        self.guard.watch(self.runs, lambda v: v if v is None else check_choice(v, _("run to resume"), self.run_dirs))
        self.resume_button.on_click(lambda _: self.resume())
        self.dismiss_button.on_click(lambda _: self._hide())
        super().__init__([
            widgets.HTML(_("<b>Interrupted runs</b>: training stopped when a kernel died or a tab closed. "
                           "Resume one from its last finished epoch:")),
            widgets.HBox([self.runs, self.resume_button, self.dismiss_button]), self.notice,
        ])
        self.add_class("tlw-resume-panel")
        self.refresh()

    def refresh(self) -> None:
        """Lists the resumable runs again; hides the panel when there is none."""
        try:
            runs = resumable_runs(self.store) if self.store is not None else []
        except (OSError, ValueError) as exc:
            runs = []
            self.notice.show(_("Cannot list interrupted runs: {reason}").format(reason=exc), "warning")
        self.run_dirs = [str(r["run_dir"]) for r in runs]
        options = [(_label(r), str(r["run_dir"])) for r in runs]
        self.guard.set_options(self.runs, options, options[0][1] if options else None)
        self.layout.display = None if options else "none"

    def _hide(self) -> None:
        self.layout.display = "none"

    def resume(self) -> str | None:
        """Resumes the selected run (see ``on_resume``); returns its run id or None."""
        try:
            if self.runs.value is None:
                raise PanelError(_("Expected an interrupted run to resume. Received: none listed"))
            run_dir = check_choice(self.runs.value, _("run to resume"), self.run_dirs)
        except PanelError as exc:
            self.guard.refusals += 1
            self.notice.show(_("Refused: {reason}").format(reason=exc))
            return None
        run_id = self._on_resume(run_dir)
        if run_id is not None:
            self.notice.show(_("Resumed run {run_id}: follow it on the Train tab.").format(run_id=run_id), "info")
            self.refresh()
        return run_id
