"""Data panel: demo data, a folder under the data roots, or an uploaded zip; report and augmentation."""

from __future__ import annotations

import dataclasses
import html
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import ipywidgets as widgets
import traitlets

from tl_widgets.core.config.checks import field_bounds, field_choices, field_help
from tl_widgets.core.config.schema import DataConfig
from tl_widgets.core.data.preview import DataPreview, demo_preview, folder_preview, sub_folders
from tl_widgets.core.i18n import N_, _
from tl_widgets.panels.kit.field_editor import FieldGroup, advanced_box
from tl_widgets.panels.augment import AugmentPanel
from tl_widgets.panels.kit.labels import choice_options
from tl_widgets.panels.kit.validation import data_roots as _data_roots
from tl_widgets.panels.kit.validation import (
    Guard,
    Notice,
    PanelError,
    check_choice,
    check_number,
    resolve_under_roots,
)

__all__ = ["DataPanel", "DEFAULT_MAX_UPLOAD_BYTES"]

# Tornado caps a websocket message at 10 MiB by default; stay under it.
DEFAULT_MAX_UPLOAD_BYTES = 9 * 1024 * 1024
SOURCES = tuple(s for s in field_choices(DataConfig, "source") if s != "code")
"""The sources the Studio offers: data "from code" need ``TrainingSession(config, data=...)``."""
SOURCE_LABELS = {"demo": N_("Demo"), "folder": N_("Folder"), "zip": N_("Upload zip")}
"""Button labels of the sources (a source added to the schema shows under its own name)."""
DEMOS = field_choices(DataConfig, "demo")


class DataPanel(widgets.VBox):
    """Edits ``TrainConfig.data`` and shows what the data look like.

    Args:
        config: Initial data settings.
        data_roots: Folders the picker may list (None: ``$TL_WIDGETS_DATA_ROOTS``).
        max_upload_bytes: Largest zip accepted from the browser.
        max_batch_size: Largest batch size (a workshop's limit; None: the config's bound).
        max_extract_bytes: Most bytes an upload may extract to (None: 4 x ``max_upload_bytes``).
        max_files: Most files in an upload (None: 5000).
        space_check: Called with an upload's size before it is saved; raises PanelError to refuse
            it (a seat's disk quota).
        engine: Draws the augmentation preview (None: this process's).
        uploads_dir: Where uploads are kept (a served seat's own folder, so a reload finds them; None: a private
            temporary folder of this kernel).
    """

    source = traitlets.Unicode("demo", help="Where images come from: 'demo', 'folder' or 'zip'.")
    path = traitlets.Unicode(None, allow_none=True, help="The folder or uploaded zip in use (None for demo).")
    report = traitlets.Dict(help="The dataset report shown (class names, counts, skipped files, warnings).")

    @traitlets.validate("source")
    def _check_source(self, proposal: dict[str, Any]) -> str:
        return check_choice(proposal["value"], "data.source", SOURCES)

    def __init__(self, config: DataConfig | None = None, data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_batch_size: int | None = None,
                 max_extract_bytes: int | None = None, max_files: int | None = None,
                 space_check: Any = None, engine: Any = None, uploads_dir: str | os.PathLike[str] | None = None
                 ) -> None:
        self.roots = _data_roots(data_roots)
        self.engine = engine  # draws the augmentation preview (None: this process's)
        bs_lo, bs_hi = field_bounds(DataConfig, "batch_size")
        self.batch_bounds = (bs_lo, bs_hi if max_batch_size is None else min(bs_hi or max_batch_size, max_batch_size))
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_extract_bytes = int(max_extract_bytes) if max_extract_bytes else 4 * self.max_upload_bytes
        self.max_files = int(max_files) if max_files else 5000
        self._space_check = space_check
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self._uploads: dict[str, Path] = {}  # saved zip path -> extracted class root
        self._upload_dir: Path | None = None
        if uploads_dir is not None:  # a served seat's own folder: uploads outlive this tab (a reload finds them)
            self._upload_dir = Path(uploads_dir)
            self._upload_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._find_uploads()
        self._base = DataConfig()

        self.source_picker = widgets.ToggleButtons(
            options=[(_(SOURCE_LABELS[v]) if v in SOURCE_LABELS else v, v) for v in SOURCES], value=DataConfig.source)
        self.source_picker.add_class("tlw-source")
        self.demo = widgets.Dropdown(options=choice_options(DEMOS), value=DataConfig.demo, description=_("demo"))
        self.demo.add_class("tlw-demo")
        self.folder = widgets.Dropdown(options=sub_folders(self.roots) or [(_("(no data roots)"), "")],
                                       description=_("folder"), layout={"width": "420px"})
        self.folder.add_class("tlw-folder")
        self.upload = widgets.FileUpload(accept=".zip", multiple=False, description=_("Upload zip"))
        self.upload.add_class("tlw-upload")
        lo, hi = field_bounds(DataConfig, "validation_split")
        self.validation_split = widgets.FloatSlider(0.2, min=lo, max=hi, step=0.05, description=_("validation"),
                                                    continuous_update=False)
        self.validation_split.add_class("tlw-validation-split")
        # The widget's own max stays loose: a value above the limit reaches the guard, which says why it is refused.
        self.batch_size = widgets.BoundedIntText(min(DataConfig.batch_size, self.batch_bounds[1] or 32), min=bs_lo,
                                                 max=bs_hi, description=_("batch size"))
        self.batch_size.add_class("tlw-batch-size")
        self.max_per_class = widgets.BoundedIntText(
            0, min=0, max=10**7, description=_("max/class"),
            tooltip=_("{help} 0: all.").format(help=field_help(DataConfig, "max_per_class")))
        self.max_per_class.add_class("tlw-max-per-class")
        self.augment = AugmentPanel(notice=self.notice, engine=engine)
        self.more = FieldGroup(  # class weights, image cache, a separate validation folder
            DataConfig, ("class_weights", "cache", "val_path"), self.guard, "data",
            options={"val_path": [(_("(none: hold out the validation split)"), ""), *sub_folders(self.roots)]},
            checks_={"val_path": lambda v: str(resolve_under_roots(v, self.roots, N_("validation folder")))})
        self.advanced = advanced_box((None, self.more.widgets))
        self.summary = widgets.HTML()
        self.summary.add_class("tlw-data-summary")
        self.skipped = widgets.HTML()
        self.skipped.add_class("tlw-skipped")
        from tl_widgets.views.widgets.chart import PlotlyChart

        self.counts_chart = PlotlyChart(height=300)
        self.counts_chart.add_class("tlw-class-counts")
        self.samples_chart = PlotlyChart(height=240, label=_("Sample images, one per class"))
        self.samples_chart.add_class("tlw-samples")

        self.guard.watch(self.source_picker, lambda v: check_choice(v, "data.source", SOURCES), self._on_source)
        self.guard.watch(self.demo, lambda v: check_choice(v, "data.demo", DEMOS), lambda _: self.refresh())
        self.guard.watch(self.folder, self._check_folder, lambda _: self.refresh())
        self.guard.watch(self.validation_split, lambda v: float(check_number(v, "validation_split", lo, hi)))
        self.guard.watch(self.batch_size, lambda v: check_number(v, "batch_size", *self.batch_bounds, integer=True))
        self.guard.watch(self.max_per_class, lambda v: check_number(v, "max_per_class", 0, None, integer=True))
        self.upload.observe(self._on_upload, names="value")

        self._where = widgets.VBox()
        super().__init__([
            widgets.HTML(_("<h3>Data</h3>")), self.source_picker, self._where,
            widgets.HBox([self.validation_split, self.batch_size, self.max_per_class]), self.notice, self.summary,
            widgets.HBox([self.counts_chart, self.samples_chart]), self.skipped, self.augment, self.advanced,
        ])
        self.add_class("tlw-data-panel")
        self._show_where()
        if config is not None:
            self.set_config(config)
        else:
            self.refresh()

    # -- config -----------------------------------------------------------------
    def set_config(self, cfg: DataConfig) -> None:
        """Shows ``cfg``; a folder or zip outside the data roots is refused.

        Raises:
            PanelError: ``cfg.path`` is not inside the data roots (nor an upload of this panel).
        """
        if cfg.source == "code":
            raise PanelError(_("Expected data.source 'demo', 'folder' or 'zip' in the Studio. Received: 'code' "
                               "(data passed from Python need TrainingSession(config, data=...))"))
        if cfg.source == "folder":
            folder = str(resolve_under_roots(cfg.path or "", self.roots, N_("data folder")))
            if folder not in [v for _, v in self.folder.options]:
                self.guard.set_options(self.folder, [*self.folder.options, (folder, folder)], self.folder.value)
        elif cfg.source == "zip":
            self.check_zip(cfg.path or "")
        self.more.show(cfg)  # refuses a validation folder outside the data roots
        self._base = cfg
        with self.hold_sync():
            self.guard.accept(self.demo, cfg.demo)
            if cfg.source == "folder":
                self.guard.accept(self.folder, folder)
            self.guard.accept(self.validation_split, float(cfg.validation_split))
            self.guard.accept(self.batch_size, int(cfg.batch_size))
            self.guard.accept(self.max_per_class, int(cfg.max_per_class or 0))
            self.path = cfg.path if cfg.source == "zip" else None
            self.guard.accept(self.source_picker, cfg.source)
            self.source = cfg.source
        self.augment.set_config(cfg.augmentation)
        self._show_where()
        self.refresh()

    @property
    def config(self) -> DataConfig:
        """This panel's part of the config, re-checked; fields it does not show pass through.

        Raises:
            PanelError: A value is out of bounds or a path is outside the data roots.
        """
        source = check_choice(self.source_picker.value, "data.source", SOURCES)
        path: str | None = None
        if source == "folder":
            if not self.folder.value:
                raise PanelError(_("Expected a data folder picked under the data roots. Received: none"))
            path = str(self._check_folder(self.folder.value))
        elif source == "zip":
            if not self.path:
                raise PanelError(_("Expected an uploaded zip of class folders. Received: nothing uploaded yet"))
            path = str(self.check_zip(self.path))
        split_lo, split_hi = field_bounds(DataConfig, "validation_split")
        bs_lo, bs_hi = self.batch_bounds
        max_pc = check_number(self.max_per_class.value, "max_per_class", 0, None, integer=True)
        base = self._base
        return dataclasses.replace(
            base, source=source, path=path, demo=check_choice(self.demo.value, "data.demo", DEMOS),
            validation_split=float(check_number(self.validation_split.value, "validation_split", split_lo, split_hi)),
            batch_size=check_number(self.batch_size.value, "batch_size", bs_lo, bs_hi, integer=True),
            max_per_class=max_pc or None, augmentation=self.augment.validate(), **self.more.values(),
        )

    # -- checks -----------------------------------------------------------------
    def _check_folder(self, value: Any) -> str:
        if value == "" and not self.roots:
            return value
        return str(resolve_under_roots(value, self.roots, N_("data folder")))

    def check_zip(self, value: str) -> Path:
        """The zip ``value`` names when it is this panel's upload or a .zip under the data roots; raises PanelError."""
        resolved = Path(value).resolve() if value else None
        if resolved is not None and str(resolved) in self._uploads:
            return resolved
        if resolved is not None and resolved.suffix.lower() == ".zip" and resolved.is_file():
            return resolve_under_roots(resolved, self.roots, N_("zip file"))
        raise PanelError(_("Expected a zip uploaded in this panel or a .zip file inside the data roots. Received: "
                           "{value!r}").format(value=value))

    # -- events -----------------------------------------------------------------
    def _on_source(self, value: str) -> None:
        self.source = value
        self._show_where()
        self.refresh()

    def _show_where(self) -> None:
        source = self.source_picker.value
        self._where.children = {"demo": [self.demo], "folder": [self.folder], "zip": [self.upload]}[source]

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        self.upload.value = ()  # keep no upload in memory (and allow the same file again)
        item = files[0]
        content = item.get("content") if isinstance(item, dict) else None
        if content is None:
            self.notice.show(_("Refused: expected an uploaded file with content. Received: {kind}").format(
                kind=type(item).__name__))
            return
        size = len(content)
        name = str(item.get("name", "upload.zip"))[:120]
        if size > self.max_upload_bytes:
            self.guard.refusals += 1
            self.notice.show(_("Refused: expected a zip of at most {limit:.1f} MiB. Received: {name} ({size:.1f} MiB)")
                             .format(limit=self.max_upload_bytes / 2**20, name=repr(name), size=size / 2**20))
            return
        self.take_zip_bytes(bytes(content), name)

    def take_zip_bytes(self, content: bytes, name: str = "upload.zip") -> Path | None:
        """Saves, safely extracts and scans an uploaded zip; selects it on success.

        Returns:
            The saved zip's path, or None when refused (the reason is shown).
        """
        from tl_widgets.core.data.images import DataError
        from tl_widgets.core.data.zipsafe import safe_extract_zip

        if len(content) > self.max_upload_bytes:
            self.notice.show(_("Refused: expected a zip of at most {limit} bytes. Received: {name} ({size} bytes)")
                             .format(limit=self.max_upload_bytes, name=repr(name), size=len(content)))
            return None
        try:
            if self._space_check is not None:
                self._space_check(len(content) + self.max_extract_bytes)
            if self._upload_dir is None:  # private (0700) under this kernel's temp folder (a served seat's own)
                self._upload_dir = Path(tempfile.mkdtemp(prefix="tlw-uploads-"))
        except (PanelError, OSError) as exc:
            self.guard.refusals += 1
            self.notice.show(_("Refused {name}: {reason}").format(name=repr(name), reason=exc))
            return None
        n = 1 + max((int(Path(z).stem.split("-")[-1]) for z in self._uploads), default=0)
        zip_path = (self._upload_dir / f"upload-{n}.zip").resolve()
        target = self._upload_dir / f"upload-{n}"
        try:
            zip_path.write_bytes(content)
            root = safe_extract_zip(zip_path, target, max_total_bytes=self.max_extract_bytes, max_files=self.max_files)
        except (DataError, OSError) as exc:  # every refusal leaves nothing on disk
            zip_path.unlink(missing_ok=True)
            import shutil

            shutil.rmtree(target, ignore_errors=True)
            self.guard.refusals += 1
            self.notice.show(_("Refused {name}: {reason}").format(name=repr(name), reason=exc))
            return None
        self._uploads[str(zip_path)] = root
        self.path = str(zip_path)
        self.notice.show(_("Uploaded {name} ({size:.0f} KiB).").format(name=repr(name), size=len(content) / 1024),
                         "info")
        self.guard.accept(self.source_picker, "zip")
        self.source = "zip"
        self._show_where()
        self.refresh()
        return zip_path

    def _find_uploads(self) -> None:
        """Registers the uploads already in :attr:`_upload_dir` (this seat's, from an earlier tab)."""
        from tl_widgets.core.data.images import DataError
        from tl_widgets.core.data.zipsafe import find_class_root

        assert self._upload_dir is not None
        for zip_path in sorted(self._upload_dir.glob("upload-*.zip")):
            folder = zip_path.with_suffix("")
            if not zip_path.stem.split("-")[-1].isdigit() or zip_path.is_symlink() or not folder.is_dir():
                continue  # not one of ours, or its extraction did not finish
            try:
                self._uploads[str(zip_path.resolve())] = find_class_root(folder)
            except DataError:
                continue  # an extraction that holds no class folders is not offered again

    @property
    def uploads(self) -> list[str]:
        """The zips uploaded in this seat (this tab's and earlier tabs'), oldest first."""
        return list(self._uploads)

    # -- report -----------------------------------------------------------------
    def refresh(self) -> None:
        """Scans the selected data and redraws the report (errors go to the notice)."""
        from tl_widgets.core.data.images import DataError

        try:
            report, samples, titles = self._scan()
        except (DataError, PanelError, OSError) as exc:
            self.report = {}
            self.summary.value = ""
            self.notice.show(str(exc))
            return
        self.report = report
        visible = None if report["counts"] else "none"
        self.counts_chart.layout.display = self.samples_chart.layout.display = visible
        if not report["counts"]:
            self.summary.value = _("Upload a zip with one folder of images per class.")
            self.skipped.value = ""
            return
        from tl_widgets.views.figures.basic import class_counts_figure, image_grid_figure

        self.counts_chart.set_figure(class_counts_figure(report["counts"]))
        if len(samples):
            self.samples_chart.set_figure(image_grid_figure(samples, titles=titles, cols=min(6, len(samples))))
            self.augment.set_image(samples[0])
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in report.get("warnings", []))
        self.summary.value = (_("<b>{images:,}</b> images in <b>{classes}</b> classes").format(
            images=sum(report["counts"].values()), classes=len(report["counts"])) + (f"<ul>{warn}</ul>" if warn else ""))
        skipped = report.get("skipped", [])
        rows = "".join(f"<tr><td>{html.escape(Path(s['path']).name)}</td><td>{html.escape(s['reason'])}</td></tr>"
                       for s in skipped[:50])
        title = _("{n} skipped files").format(n=len(skipped))
        self.skipped.value = (f"<details><summary>{title}</summary><table>{rows}</table></details>"
                              if skipped else "")

    def _scan(self) -> tuple[dict[str, Any], Any, list[str]]:
        source = self.source_picker.value
        if source == "demo":
            preview = demo_preview(self.demo.value)
        elif source == "folder":
            if not self.folder.value:
                raise PanelError(_("No data folder: configure data roots and pick a folder."))
            preview = folder_preview(self._check_folder(self.folder.value), self.max_per_class.value or None)
        elif not self.path:
            preview = DataPreview.empty()
        else:
            zip_path = self.check_zip(self.path)
            root = self._uploads.get(str(zip_path))
            if root is None:
                raise PanelError(_("Zip {path!r} is selected; it is extracted when training starts.").format(
                    path=str(zip_path)))
            preview = folder_preview(root, self.max_per_class.value or None)
        return preview.report, preview.samples, preview.titles
