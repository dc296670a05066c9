"""The export panel: pick a format, export a run, see the verification against Keras, preview, model card.

Standalone: ``ExportPanel("runs/<run_id>")`` or ``ExportPanel(result)``. The
export runs in a worker thread that only sets widget values; the format from
the browser is checked in Python before anything runs.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.export.formats import FORMATS
from tl_widgets.core.i18n import _
from tl_widgets.panels.evaluate import run_dir_of
from tl_widgets.panels.preview import DeploymentPreview
from tl_widgets.panels.kit.validation import Guard, Notice, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["ExportPanel"]


class ExportPanel(BackgroundWork, widgets.VBox):
    """Exports a run's model in a chosen format and shows the verification numbers.

    Args:
        source: A run folder or a RunResult.
        engine: The engine that exports (None: this process's).
    """

    def __init__(self, source: Any, engine: Any = None, **kwargs: Any) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        self.run_dir = run_dir_of(source)
        self.reports: dict[str, Any] = {}
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.format = widgets.Dropdown(options=list(FORMATS), value="tflite", description=_("Format"))
        self.script = widgets.Checkbox(value=False, description=_("also write a training script"))
        self.button = widgets.Button(description=_("Export"), icon="download", button_style="primary")
        self.format.add_class("tlw-export-format")
        self.button.add_class("tlw-export-run")
        self.table = widgets.HTML()
        self.card_button = widgets.Button(description=_("Write model card"), icon="file-text", layout={"width": "auto"})
        self.card_button.add_class("tlw-model-card")
        self.card_button.on_click(lambda _: self.write_card())
        self.preview = DeploymentPreview(self.run_dir, engine=self.engine)
        self.guard.watch(self.format, lambda v: check_choice(v, "format", FORMATS))
        self.guard.watch(self.script, lambda v: check_choice(v, "script", (True, False)))
        self.button.on_click(lambda _: self.start())
        super().__init__([widgets.HBox([self.format, self.script, self.button, self.card_button]), self.notice,
                          self.table, self.preview], **kwargs)
        self.add_class("tlw-export")

    def start(self) -> None:
        """Exports in the selected format (in a worker thread)."""
        from tl_widgets.core.export.script import export_script

        if self.busy:
            self.notice.show(_("Busy: wait for the current export to end."), "warning")
            return
        fmt = check_choice(self.format.value, "format", FORMATS)  # re-checked: the browser can set anything
        with_script = bool(self.script.value)
        self.notice.show(_("Exporting {format}…").format(format=fmt), "info")

        def work() -> None:
            report = self.engine.export(str(self.run_dir), fmt)
            self.reports[fmt] = report
            note = ""
            if with_script:
                written = export_script(self.run_dir)
                note = _(" Script: {name}; command: {command}").format(name=written.script.name, command=written.command)
            # The table goes out before the notice: a page that sees the notice also sees the row.
            self._render()
            if report.ok:
                self.notice.show(_("{format}: verified against Keras.").format(format=fmt) + note, "info")
            else:
                self.notice.show(f"{fmt}: " + " ".join(report.warnings) + note, "warning")
            self.preview.refresh(select=fmt)

        self._run_in_background(work, name="tlw-export", buttons=[self.button])

    def write_card(self) -> None:
        """Writes MODEL_CARD.md into the run folder (in a worker thread; evaluates the run first if needed)."""
        if self.busy:
            self.notice.show(_("Busy: wait for the current export to end."), "warning")
            return
        self.notice.show(_("Writing the model card…"), "info")

        def work() -> None:
            card = self.engine.model_card(str(self.run_dir))
            self.notice.show(_("Model card written: {path} (edit its Intended use and Limits).").format(path=card.path), "info")

        self._run_in_background(work, name="tlw-model-card", buttons=[self.card_button, self.button])


    def _render(self) -> None:
        head = "<tr>" + "".join(f"<th>{t}</th>" for t in (
            _("format"), _("size (MB)"), _("convert (s)"), _("max diff"), _("agreement"), _("accuracy drop"),
            _("check"), _("path"))) + "</tr>"
        rows = []
        for fmt, r in self.reports.items():
            v, check = r.verification, _("ok") if r.ok else _("WARNING")
            rows.append(
                f"<tr><td>{html.escape(fmt)}</td><td>{r.file_size / 1e6:.2f}</td><td>{r.conversion_seconds:.1f}</td>"
                f"<td>{v.get('max_abs_diff', float('nan')):.2g}</td><td>{v.get('top1_agreement', 0):.2%}</td>"
                f"<td>{v.get('accuracy_drop', 0):+.2%}</td><td>{check}</td>"
                f"<td><code>{html.escape(r.path)}</code></td></tr>"
            )
        self.table.value = f"<table class='tlw-export-table'>{head}{''.join(rows)}</table>"
