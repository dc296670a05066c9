"""The deployment preview: pick an export, drop images (or use the validation split), see Keras beside it.

Embedded in the export panel; standalone: ``DeploymentPreview("runs/<run_id>")``.
Everything from the browser is re-checked in Python: the format must be one the
run was exported to, uploads are capped in count and size and decoded with the
training images' checks. The comparison runs in a worker thread that only sets
widget values.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.validation import Guard, Notice, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["DeploymentPreview", "preview_table_html"]

MAX_FILES = 64
MAX_FILE_BYTES = 8 * 1024 * 1024


def _thumbnail(image: Any, side: int = 48) -> str:
    """An ``<img>`` with the image as an inline PNG (no file, no URL)."""
    from tl_widgets.core.data.images import png_data_uri

    return f"<img src='{png_data_uri(image, side)}' width={side}>"


def _top_html(top: list[tuple[str, float]]) -> str:
    return "<br>".join(f"{html.escape(str(name))} {p:.3f}" for name, p in top)


def preview_table_html(preview: Any, max_rows: int = 20) -> str:
    """The summary line and the per-image table (disagreements first) of a
    :class:`~tl_widgets.core.export.preview.Preview`."""
    p = preview
    summary = (
        "<div class='tlw-preview-summary'>" + _(
            "{format}: top-1 agreement {agreement} on {count} images ({disagreements} disagree) &nbsp; max "
            "probability difference {diff:.2g} &nbsp; latency per image: Keras {keras_ms:.2f} ms, export "
            "{export_ms:.2f} ms ({runtime}) &nbsp; file {size:.2f} MB").format(
            format=f"<b>{html.escape(p.format)}</b>",
            agreement=f"<b class='tlw-preview-agreement'>{p.agreement:.2%}</b>", count=p.count,
            disagreements=p.disagreements, diff=p.max_abs_diff, keras_ms=p.keras_ms_per_image,
            export_ms=p.export_ms_per_image, runtime=html.escape(p.runtime), size=p.file_size / 1e6) + "</div>"
    )
    head = "<tr>" + "".join(f"<th>{t}</th>" for t in (
        "#", _("image"), _("Keras top-k"), _("export top-k"), _("max diff"), _("top-1"))) + "</tr>"
    rows = []
    for r in p.rows[:max_rows]:
        what = html.escape(r.name or (_("true: {label}").format(label=r.label) if r.label is not None else str(r.index)))
        if len(p.images) > r.index:
            what = f"{_thumbnail(p.images[r.index])}<br>{what}"
        mark = _("agree") if r.agree else "<b style='color:#c00'>" + _("DISAGREE") + "</b>"
        rows.append(f"<tr class='{'tlw-agree' if r.agree else 'tlw-disagree'}'><td>{r.index}</td><td>{what}</td>"
                    f"<td>{_top_html(r.keras_top)}</td><td>{_top_html(r.export_top)}</td>"
                    f"<td>{r.max_abs_diff:.2g}</td><td>{mark}</td></tr>")
    rest = p.rows[max_rows:]
    more = ("<p>" + _("… {n} more images ({d} of them disagree).").format(
        n=len(rest), d=sum(not r.agree for r in rest)) + "</p>" if rest else "")
    style = ("<style>.tlw-preview-table{border-collapse:collapse;margin-top:6px}.tlw-preview-table td,"
             ".tlw-preview-table th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;line-height:1.3;"
             "vertical-align:top}.tlw-preview-table tr.tlw-disagree{background:#fdecea}</style>")
    return f"{style}{summary}<table class='tlw-preview-table'>{head}{''.join(rows)}</table>{more}"


class DeploymentPreview(BackgroundWork, widgets.VBox):
    """Keras against one of the run's exports, image by image.

    Args:
        run_dir: The run folder.
        engine: The engine that runs both models (None: this process's).
    """

    def __init__(self, run_dir: Path, engine: Any = None, **kwargs: Any) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        self.run_dir = Path(run_dir)
        self.preview: Any = None
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.format = widgets.Dropdown(options=[], description=_("Export"), layout={"width": "240px"})
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description=_("Drop images"))
        self.button = widgets.Button(description=_("Compare with Keras"), icon="balance-scale", button_style="info",
                                     layout={"width": "auto"})
        self.format.add_class("tlw-preview-format")
        self.button.add_class("tlw-preview-run")
        self.table = widgets.HTML()
        self.table.add_class("tlw-preview-result")
        self.hint = widgets.HTML(_("<i>No images dropped: the validation split is used.</i>"))
        self.guard.watch(self.format, lambda v: check_choice(v, "export", self.format.options))
        self.upload.observe(lambda _: self._hint(), names="value")
        self.button.on_click(lambda _: self.start())
        super().__init__([widgets.HTML(_("<b>Deployment preview</b>: Keras and an export side by side")),
                          widgets.HBox([self.format, self.upload, self.button]), self.hint, self.notice, self.table],
                         **kwargs)
        self.add_class("tlw-preview")
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        """Lists the run's exports (call after a new export); selects ``select`` when given."""
        from tl_widgets.core.export.preview import exported_formats

        formats = exported_formats(self.run_dir) if self.run_dir.is_dir() else []
        self.format.options = formats
        if select in formats:
            self.format.value = select

    def _hint(self) -> None:
        n = len(self.upload.value)
        self.hint.value = (_("<i>{n} dropped image(s) will be compared.</i>").format(n=n) if n
                           else _("<i>No images dropped: the validation split is used.</i>"))

    def _files(self) -> list[tuple[str, bytes]]:
        files = list(self.upload.value)
        if len(files) > MAX_FILES:
            raise ValueError(_("Expected at most {limit} images. Received: {count}").format(
                limit=MAX_FILES, count=len(files)))
        out = []
        for f in files:
            name, content = str(f.get("name", "?")), f.get("content", b"")
            data = bytes(content) if isinstance(content, (bytes, bytearray, memoryview)) else None
            if data is None or len(data) > MAX_FILE_BYTES:
                raise ValueError(_("Expected image files up to {limit} MiB. Received: {name!r}").format(
                    limit=MAX_FILE_BYTES // 2**20, name=name))
            out.append((name, data))
        return out

    def start(self) -> None:
        """Compares Keras and the selected export (in a worker thread)."""
        from tl_widgets.core.export.preview import exported_formats

        if self.busy:
            self.notice.show(_("Busy: wait for the current comparison to end."), "warning")
            return
        try:  # re-checked: the browser can set any value
            fmt = check_choice(self.format.value, "export", exported_formats(self.run_dir))
            files = self._files()
        except ValueError as exc:
            self.notice.show(str(exc))
            return
        self.notice.show(_("Comparing Keras and {format}…").format(format=fmt), "info")

        def work() -> None:
            self.preview = self.engine.export_preview(str(self.run_dir), fmt, files)
            self.table.value = preview_table_html(self.preview)
            level = "info" if self.preview.disagreements == 0 else "warning"
            self.notice.show(_("{format}: {agreement:.2%} top-1 agreement with Keras.").format(
                format=fmt, agreement=self.preview.agreement), level)

        self._run_in_background(work, name="tlw-preview", buttons=[self.button])
