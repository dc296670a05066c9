"""The health-check panel (Data step): find what in the dataset will mislead training, and act on it.

Runs :func:`~tl_widgets.core.data.health.check_dataset` on the folder or zip the
Data panel points at (in a worker thread) and lists the findings: what was
found, the files, what to do. Findings about files offer one action: exclude
them (duplicates, leaks, tiny images) or mark them ambiguous (suspected label
errors). The decisions go to the dataset's curation file in the user's home,
and ``on_curation(path)`` lets the Studio switch ``data.curation`` on so the
next run uses them. Original files are never touched. Each finding about files
also has a "Review" button: it opens the curate grid
(:class:`~tl_widgets.panels.curate.CuratePanel`) on all its files, page by page,
worst score first, to relabel, exclude or mark them ambiguous one by one (same
curation file); with a finished run on the same data (``last_run``), the grid's
"Retrain with fixes" retrains it with the decisions, and the check adds the
classes and groups of images where that run is weak. The check sees the data
as the next run will: with the Data step's curation applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from tl_widgets.core.i18n import N_, _
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork
from tl_widgets.views.figures.health import kind_label

__all__ = ["HealthPanel", "ACTIONS"]

ACTIONS = {"leakage": "exclude", "exact_duplicates": "exclude", "near_duplicates": "exclude",
           "small_images": "exclude", "label_errors": "ambiguous", "blurry": "exclude", "dark": "exclude",
           "bright": "exclude", "low_information": "exclude", "outliers": "exclude", "far_from_class": "ambiguous"}
"""The action each kind of finding offers for its files."""
_UNVIEWABLE = ("unreadable",)
ACTION_LABELS = {"exclude": N_("exclude the {n} files of '{kind}'"),
                 "ambiguous": N_("ambiguous the {n} files of '{kind}'")}
WRITTEN_LABELS = {"exclude": N_("Exclude: {n} files written to {file}; the next run uses them."),
                  "ambiguous": N_("Ambiguous: {n} files written to {file}; the next run uses them.")}
"""Findings whose files cannot be shown in the grid (every other finding about files has a Review button)."""


class HealthPanel(BackgroundWork, widgets.VBox):
    """A health check of the data the Data panel describes.

    Args:
        config_source: Returns the current ``DataConfig`` (checked by its panel: paths under the data roots).
        on_curation: Called with the curation file after decisions were written (None: nothing).
        input_size: Returns the model's input side (for the small-image check); None: 48.
        engine: The engine that runs the check (None: this process's).
        last_run: Returns the folder of the last finished run, or None (its data must be the checked data to count).
        on_retrain: Called with ``(run_dir, curation)`` by the grid's "Retrain with fixes" (the Studio starts the
            child run on Train); None starts it in the grid.
    """

    def __init__(self, config_source: Callable[[], Any], *, on_curation: Callable[[str], None] | None = None,
                 input_size: Callable[[], int] | None = None, engine: Any = None,
                 last_run: Callable[[], str | None] | None = None,
                 on_retrain: Callable[[str, str], Any] | None = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        self.config_source = config_source
        self.on_curation = on_curation
        self.input_size = input_size
        self.last_run = last_run
        self.on_retrain = on_retrain
        self.run_dir: str | None = None
        self.report: Any = None
        self.curation: Path | None = None
        self._data: Any = None
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.button = widgets.Button(description=_("Check data health"), icon="stethoscope", layout={"width": "auto"})
        self.button.add_class("tlw-health-run")
        self.findings = widgets.HTML()
        self.findings.add_class("tlw-health-findings")
        self.pick = widgets.Dropdown(options=[(_("(no action to take)"), -1)], value=-1, description=_("finding"),
                                     layout={"width": "420px"})
        self.pick.add_class("tlw-health-pick")
        self.apply_button = widgets.Button(description=_("Apply to its files"), disabled=True, layout={"width": "auto"})
        self.apply_button.add_class("tlw-health-act")
        self.review_buttons = widgets.Box(layout={"display": "flex", "flex_flow": "row wrap", "grid_gap": "4px"})
        self.review_buttons.add_class("tlw-health-reviews")
        self.curate: Any = None
        self.grid_box = widgets.VBox()
        self.button.on_click(lambda _: self.start())
        self.guard.watch(self.pick, lambda v: check_choice(v, "finding", [o[1] for o in self.pick.options]))
        self.apply_button.on_click(lambda _: self._apply_picked())
        super().__init__([widgets.HBox([self.button]), self.notice, self.findings,
                          widgets.HBox([self.pick, self.apply_button]), self.review_buttons, self.grid_box])
        self.add_class("tlw-health")

    def start(self) -> None:
        """Checks the current data (in a worker thread)."""
        if self.busy:
            self.notice.show(_("Busy: a check is running."), "warning")
            return
        try:
            data = self.config_source()
        except (PanelError, ValueError) as exc:
            self.notice.show(_("Cannot check: {reason}").format(reason=exc))
            return
        if data.source not in ("folder", "zip") or not data.path:
            self.notice.show(_("The health check reads a folder or a zip; the built-in demo data are already clean."),
                             "info")
            return
        size = self.input_size() if self.input_size is not None else 48
        run_dir = self._run_on(data)
        options = {"curation": data.curation} if data.curation else {}
        if run_dir is not None:
            options["run_dir"] = run_dir

        def work() -> None:
            self.report = self.engine.check_dataset(data.path, val_path=data.val_path,
                                                    validation_split=data.validation_split, input_size=size,
                                                    **options)
            self.run_dir = run_dir
            self._data = data
            self.show()
            self.notice.show(_("Checked {images} images: {n} findings.").format(
                images=sum(self.report.counts.values()), n=len(self.report.findings)), "info")

        self.findings.children = ()
        self.notice.show(_("Checking (hashing files; decoding new images once for their embeddings and quality)…"),
                         "info")
        self._run_in_background(work, name="tlw-health", buttons=[self.button])

    def show(self) -> None:
        """Draws the findings of the last check and offers their actions (only sets widget values)."""
        from tl_widgets.views.figures.health import findings_html

        findings = self.report.findings if self.report is not None else []
        self.findings.value = findings_html([f.__dict__ for f in findings])
        options = [(_(ACTION_LABELS[ACTIONS[f.kind]]).format(n=len(f.files), kind=kind_label(f.kind)), i)
                   for i, f in enumerate(findings) if f.kind in ACTIONS and f.files]
        self.guard.set_options(self.pick, options or [(_("(no action to take)"), -1)],
                               options[0][1] if options else -1)
        self.apply_button.disabled = not options
        buttons = []
        for i, f in enumerate(findings):
            if f.files and f.kind not in _UNVIEWABLE:
                button = widgets.Button(description=_("Review {n}: {kind}").format(n=len(f.files), kind=kind_label(f.kind)),
                                        icon="th", layout={"width": "auto"})
                button.add_class("tlw-health-review")
                button.on_click(lambda _, i=i: self._review_clicked(i))
                buttons.append(button)
        self.review_buttons.children = tuple(buttons)
        self.grid_box.children = ()
        self.curate = None

    def _review_clicked(self, index: int) -> None:
        try:
            self.review(index)
        except PanelError as exc:
            self.notice.show(_("Refused: {reason}").format(reason=exc))

    def review(self, index: int) -> Any:
        """Opens the curate grid on a finding's files (decisions go to the dataset's curation file).

        Raises:
            PanelError: No such finding, or it names no files.
        """
        from tl_widgets.panels.curate import CuratePanel

        findings = self.report.findings if self.report is not None else []
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(findings) \
                or findings[index].kind in _UNVIEWABLE or not findings[index].files:
            raise PanelError(_("Expected a finding that names files. Received: {index!r}").format(index=index))
        f = findings[index]
        self.curate = CuratePanel(None, engine=self.engine, data=self._data, files=f.files,
                                  class_names=self.report.class_names,
                                  title=_("health finding: {kind}").format(kind=kind_label(f.kind)),
                                  on_decide=self._decided, scores=f.scores or None, score=f.score,
                                  retrain_from=self._run_on(self._data), on_retrain=self.on_retrain)
        self.curation = self.curate.curation
        self.grid_box.children = (self.curate,)
        self.curate.load()
        return self.curate

    def _run_on(self, data: Any) -> str | None:
        """The last finished run when it trained on these data (same source, folder and validation folder)."""
        from tl_widgets.core.config.schema import TrainConfig
        from tl_widgets.core.runs.folder import RunFolder

        run_dir = self.last_run() if self.last_run is not None else None
        if not run_dir:
            return None
        try:
            ran = TrainConfig.load(RunFolder(Path(run_dir)).config_file).data
        except (OSError, ValueError):
            return None
        same = (ran.source, ran.path, ran.val_path) == (data.source, data.path, data.val_path)
        return str(run_dir) if same else None

    def _decided(self, curation: str) -> None:
        if self.on_curation is not None:
            self.on_curation(curation)

    def _apply_picked(self) -> None:
        try:
            self.act(check_choice(self.pick.value, "finding", [o[1] for o in self.pick.options]))
        except PanelError as exc:
            self.notice.show(_("Refused: {reason}").format(reason=exc))

    def act(self, index: int) -> int:
        """Writes the finding's action for its files to the curation file; returns how many decisions.

        Raises:
            PanelError: No such finding, or it offers no action.
        """
        from tl_widgets.core.data.curation import decide, default_curation_path

        findings = self.report.findings if self.report is not None else []
        if not isinstance(index, int) or not 0 <= index < len(findings) or findings[index].kind not in ACTIONS:
            raise PanelError(_("Expected a finding with an action. Received: {index!r}").format(index=index))
        f = findings[index]
        data = self._data
        self.curation = Path(data.curation) if data.curation else \
            default_curation_path(data.source, data.path)
        written = decide(self.curation, f.files, ACTIONS[f.kind])
        self.notice.show(_(WRITTEN_LABELS[ACTIONS[f.kind]]).format(n=written, file=self.curation.name), "info")
        if self.on_curation is not None:
            self.on_curation(str(self.curation))
        return written
