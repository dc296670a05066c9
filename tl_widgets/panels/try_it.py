"""Try it: a finished run on the user's own images (upload, or a webcam snapshot through ``camera_box``).

``TryItPanel(store=..., result_source=...)``: the run picker lists this kernel's last run first, then the
finished runs of the run store, newest first. Uploaded images are checked in Python (count, bytes per
file, then decoded with the training images' checks and pixel limit in core); each good image gets a
card (what the model sees, its Grad-CAM overlay, the top-k bars, the time of its prediction), each bad
one a message of its own. Everything model-side runs in core
(:mod:`tl_widgets.core.evaluation.try_images`), in a worker thread that only sets widget values.
"""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from tl_widgets.core.evaluation.try_images import MAX_TRY_IMAGES
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.db import MODEL_STATUSES
from tl_widgets.core.runs.folder import RunFolder
from tl_widgets.panels.data import DEFAULT_MAX_UPLOAD_BYTES
from tl_widgets.panels.kit.labels import status_label
from tl_widgets.panels.kit.validation import Guard, Notice, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["TryItPanel"]

TOP_K = 5
IMAGE_SIDE = 160  # px on screen for the model's input and the overlay


def _has_model(run_dir: Any) -> bool:
    return bool(run_dir) and RunFolder(Path(run_dir)).model_file.is_file()


def _store_label(run: dict[str, Any]) -> str:
    metrics = run.get("metrics") or run.get("final_metrics") or {}
    acc = metrics.get("val_accuracy") if isinstance(metrics, dict) else None
    shown = "  " + _("val accuracy {acc:.3f}").format(acc=acc) if isinstance(acc, (int, float)) else ""
    return f"{run['run_id']}  [{status_label(str(run.get('status', '?')))}]{shown}"


class TryItPanel(BackgroundWork, widgets.VBox):
    """Tries a finished run on uploaded images or webcam snapshots.

    Args:
        store: The run store (None: the default home store).
        result_source: Returns this kernel's last ``RunResult`` (or None); its run comes first.
        max_upload_bytes: Largest image file accepted (the Data step's upload limit by default).
        engine: The engine that loads the run's model and predicts (None: this process's).
    """

    def __init__(self, store: Any = None, result_source: Callable[[], Any] | None = None, *,
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, engine: Any = None, **kwargs: Any) -> None:
        from tl_widgets.core.engine import resolve_engine
        from tl_widgets.core.runs.store import RunStore

        self.engine = resolve_engine(engine)

        self.result_source = result_source
        self.max_upload_bytes = int(max_upload_bytes)
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.store_error = ""
        try:
            self.store = store if store is not None else RunStore()
        except OSError as exc:  # a damaged store must not stop the panel from opening: say so here
            self.store, self.store_error = None, str(exc)
        self.outcome: Any = None
        self._kernel_run: str | None = None
        self.run_picker = widgets.Dropdown(options=[], description=_("Model"), layout={"width": "520px"})
        self.run_picker.add_class("tlw-try-run")
        self.refresh_button = widgets.Button(description=_("Refresh"), icon="refresh",
                                             tooltip=_("List the finished runs again"), layout={"width": "auto"})
        self.refresh_button.add_class("tlw-try-refresh")
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description=_("Upload images"),
                                         layout={"width": "auto"})
        self.upload.add_class("tlw-try-upload")
        self.camera_box = widgets.VBox()
        self.camera_box.add_class("tlw-try-camera")
        self.run_info = widgets.HTML()
        self.run_info.add_class("tlw-try-run-info")
        self.messages = widgets.HTML()
        self.messages.add_class("tlw-try-messages")
        self.summary = widgets.HTML()
        self.summary.add_class("tlw-try-summary")
        self.results = widgets.VBox()
        self.results.add_class("tlw-try-results")
        self.guard.watch(self.run_picker, lambda v: check_choice(v, "run", self._run_dirs()),
                         lambda _v: self._show_run_info())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.upload.observe(self._on_upload, names="value")
        hint = widgets.HTML("<p class='tlw-try-hint'>" + html.escape(_(
            "Pick a trained model, then upload photos or take a snapshot: each one gets the model's top "
            "guesses, a heatmap of where it looked (Grad-CAM) and the time the prediction took.")) + "</p>")
        super().__init__([
            widgets.HTML("<h3>" + html.escape(_("Try it")) + "</h3>"), hint,
            widgets.HBox([self.run_picker, self.refresh_button]), self.run_info,
            widgets.HBox([self.upload]), self.camera_box, self.notice, self.messages, self.summary, self.results,
        ], **kwargs)
        self.add_class("tlw-try-it")
        from tl_widgets.panels.capture import attach_camera

        self.webcam = attach_camera(self)  # "Snap and try": the page's camera, off until the user turns it on
        self.refresh()

    # -- runs ----------------------------------------------------------------------
    def _run_dirs(self) -> list[str]:
        return [value for _label, value in self.run_picker.options]

    def _kernel_run_dir(self) -> str | None:
        """This kernel's last run folder when it saved a model."""
        result = self.result_source() if self.result_source is not None else None
        run_dir = getattr(result, "run_dir", None)
        return str(Path(run_dir).absolute()) if _has_model(run_dir) else None

    def refresh(self) -> None:
        """Lists this kernel's last run, then the store's finished runs (newest first); keeps the selection."""
        options: list[tuple[str, str]] = []
        kernel = self._kernel_run_dir()
        if kernel is not None:
            options.append((_("{run} (this session's last run)").format(run=Path(kernel).name), kernel))
        try:
            if self.store is None:
                raise OSError(self.store_error)
            runs = [r for status in MODEL_STATUSES for r in self.store.list_runs(status=status, limit=200)]
        except (OSError, sqlite3.DatabaseError) as exc:
            runs = []
            self.notice.show(_("Cannot read the run store: {error}").format(error=str(exc)), "warning")
        runs.sort(key=lambda r: (r.get("start_time") or 0, r.get("run_id", "")), reverse=True)
        seen = {kernel}
        for run in runs:
            run_dir = run.get("run_dir")
            if not _has_model(run_dir):
                continue
            run_dir = str(Path(run_dir).absolute())
            if run_dir not in seen:
                seen.add(run_dir)
                options.append((_store_label(run), run_dir))
        current = self.run_picker.value
        values = [v for _label, v in options]
        new_kernel_run = kernel is not None and kernel != self._kernel_run
        if new_kernel_run and (current is None or current == self._kernel_run):
            value = kernel  # a new run of this kernel replaces the previous one unless the user picked another
        else:
            value = current if current in values else (values[0] if values else None)
        self._kernel_run = kernel
        self.guard.set_options(self.run_picker, options, value)
        self._show_run_info()

    def set_run(self, run_dir: Any) -> None:
        """Selects the run folder ``run_dir`` (listed first when the store does not know it).

        Raises:
            FileNotFoundError: The folder holds no saved model.
        """
        if not _has_model(run_dir):
            raise FileNotFoundError(_("Expected a finished run folder with {model}. Received: {path!r}").format(
                model="model.keras", path=str(run_dir)))
        wanted = str(Path(run_dir).absolute())
        if wanted not in self._run_dirs():
            self.refresh()
        options = list(self.run_picker.options)
        if wanted not in self._run_dirs():
            options.insert(0, (Path(wanted).name, wanted))
        self.guard.set_options(self.run_picker, options, wanted)
        self._show_run_info()

    def _show_run_info(self) -> None:
        run_dir = self.run_picker.value
        if not run_dir:
            self.run_info.value = "<i>" + html.escape(_(
                "No trained model yet: train one (Start), then try it here.")) + "</i>"
            return
        names = RunFolder(Path(run_dir)).read_labels() or []
        shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        self.run_info.value = "<span class='tlw-try-classes'>" + html.escape(
            _("{n} classes: {names}").format(n=len(names), names=shown)) + "</span>"

    # -- images --------------------------------------------------------------------
    def _on_upload(self, change: dict[str, Any]) -> None:
        files = list(change.get("new") or ())
        if not files:
            return
        items = [(str(f.get("name", "?")), f.get("content", b"")) for f in files]
        self.predict_images(items)
        self.upload.value = ()  # the same file can be uploaded again

    def _checked(self, items: Any) -> tuple[list[tuple[str, Any]], list[str]]:
        """Items as ``(name, bytes-like)`` pairs, at most MAX_TRY_IMAGES; other things become messages."""
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"Expected a list of (name, bytes) pairs. Received: {type(items).__name__}")
        kept, messages = [], []
        for i, item in enumerate(items):
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                messages.append(_("Expected a (name, bytes) pair. Received: item {i} ({kind})").format(
                    i=i, kind=type(item).__name__))
                continue
            kept.append((str(item[0])[:200], item[1]))
        if len(kept) > MAX_TRY_IMAGES:
            messages.append(_("Expected at most {limit} images at a time. Received: {count}; the first {limit} "
                              "were tried.").format(limit=MAX_TRY_IMAGES, count=len(kept)))
            kept = kept[:MAX_TRY_IMAGES]
        return kept, messages

    def predict_images(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Tries the selected run on ``(name, encoded image bytes)`` pairs (in a worker thread).

        Each good image gets a result card; each bad one a message; errors of the whole try go to the notice.
        """
        if self.busy:
            self.notice.show(_("Busy: wait for the current prediction to end."), "warning")
            return
        kernel = self._kernel_run_dir()
        if kernel is not None and kernel != self._kernel_run:
            self.refresh()  # the kernel trained again since the list was made
        try:
            run_dir = check_choice(self.run_picker.value, "run", self._run_dirs())
            kept, early = self._checked(items)
        except ValueError as exc:
            self.notice.show(str(exc) if self.run_picker.value else _(
                "Expected a trained model to try. Received: none (train one first, or pick a finished run)"))
            return
        if not kept:
            self._show_messages(early)
            self.notice.show(_("Expected at least one image. Received: none"))
            return
        self.notice.show(_("Predicting {n} image(s)…").format(n=len(kept)), "info")

        def work() -> None:
            outcome = self.engine.try_images(run_dir, kept, k=TOP_K, max_bytes=self.max_upload_bytes)
            self.outcome = outcome
            self.results.children = [self._card(r) for r in outcome.results]
            self._show_messages(early + [e.message for e in outcome.errors])
            self.summary.value = self._summary_html(outcome)
            if outcome.results:
                self.notice.show(_("{n} image(s) tried with {run}.").format(
                    n=len(outcome.results), run=outcome.run_id), "info")
            else:
                self.notice.show(_("None of the images could be read: see the messages above."), "warning")

        self._run_in_background(work, name="tlw-try-it", buttons=[self.refresh_button],
                                failure=_("Prediction failed: "))

    # -- showing -------------------------------------------------------------------
    def _show_messages(self, messages: list[str]) -> None:
        self.messages.value = "".join(
            f"<div class='tlw-try-message tlw-error' style='color:#b00020'>{html.escape(m)}</div>" for m in messages)

    @staticmethod
    def _summary_html(outcome: Any) -> str:
        if not outcome.results:
            return ""
        text = _("{ms:.1f} ms per image").format(ms=outcome.ms_per_image)
        extra = (_("Grad-CAM {ms:.1f} ms per image, from layer {layer}").format(
            ms=outcome.gradcam_ms_per_image, layer=outcome.gradcam_layer) if outcome.gradcam_layer
            else outcome.gradcam_note)
        return (f"<b class='tlw-try-ms'>{html.escape(text)}</b> "
                f"<span class='tlw-try-gradcam-note'>({html.escape(extra)})</span>")

    def _card(self, result: Any) -> widgets.Widget:
        """One image: what the model sees, the Grad-CAM overlay, the top-k bars and its time."""
        from tl_widgets.core.data.images import png_data_uri
        from tl_widgets.views.widgets.chart import PlotlyChart
        from tl_widgets.views.figures.try_it import top_k_figure

        def picture(image: Any, caption: str, alt: str, css: str) -> widgets.Widget:
            """An inline PNG with alternative text (a screen reader names it) and a caption."""
            out = widgets.HTML(
                f"<figure style='margin:0 6px 0 0'><img src='{png_data_uri(image, IMAGE_SIDE)}' alt='{html.escape(alt)}' "
                f"width='{IMAGE_SIDE}' height='{IMAGE_SIDE}'><figcaption><small>{html.escape(caption)}</small>"
                "</figcaption></figure>")
            out.add_class(css)
            return out

        pictures = [picture(result.image, _("what the model sees"),
                            _("{name} as the model sees it").format(name=result.name), "tlw-try-image")]
        if result.overlay is not None:
            pictures.append(picture(result.overlay, _("where it looked (Grad-CAM)"),
                                    _("Grad-CAM heatmap of {name}").format(name=result.name), "tlw-try-overlay"))
        best, p = result.top[0]
        head = widgets.HTML(
            f"<b>{html.escape(result.name)}</b>: " + html.escape(_("{label} ({p:.1%})").format(label=best, p=p))
            + " &nbsp; <span class='tlw-try-card-ms'>"
            + html.escape(_("prediction took {ms:.1f} ms").format(ms=result.ms)) + "</span>")
        fig = top_k_figure(result.top, title=_("Top {k} classes").format(k=len(result.top)))
        chart = PlotlyChart(fig, height=int(fig.layout.height or 220))
        chart.layout.width, chart.layout.min_width = "360px", "300px"
        chart.add_class("tlw-try-bars")
        card = widgets.VBox([head, widgets.HBox([*pictures, chart])],
                            layout={"border": "1px solid #ccc", "padding": "6px", "margin": "4px 0"})
        card.add_class("tlw-try-card")
        return card
