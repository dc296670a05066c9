"""The fix-the-data panel: a grid of a run's validation images with their predictions; relabel, exclude, mark ambiguous.

Opened from a confusion-matrix cell (:class:`~tl_widgets.panels.evaluate.EvaluatePanel`),
the suspected label errors or all wrong predictions. Every decision is appended
at once to the dataset's curation file (JSON Lines in the user's home, see
:mod:`tl_widgets.core.data.curation`), so it survives a kernel restart, a
switch of the filter and a second tab editing the same data (the last
decision per image wins). Images are never moved. "Retrain with fixes"
starts a child run of the same config with the curation applied.
Opened with ``files`` instead of a run (a health finding's images), the grid
shows those files with their given labels and the same decisions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from tl_widgets.core.i18n import N_, _
from tl_widgets.core.settings import default_home
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice, data_roots, resolve_under_roots
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["CuratePanel", "PAGE_SIZE"]

PAGE_SIZE = 12
"""Images shown at once: one page of the chosen set (highest loss, or worst score, first)."""
_BASE_ACTIONS = [(N_("keep"), "keep"), (N_("exclude"), "exclude"), (N_("ambiguous"), "ambiguous")]


def _base_actions() -> list[tuple[str, str]]:
    return [(_(label), value) for label, value in _BASE_ACTIONS]


class _Card(widgets.VBox):
    """One image of the grid: pixels, prediction bars, the decision and a Grad-CAM button."""

    def __init__(self, index: int) -> None:
        self.slot = index
        self.item: dict[str, Any] | None = None
        self.image = widgets.Image(format="png", width=96, height=96)
        self.caption = widgets.HTML()
        self.action = widgets.Dropdown(options=_base_actions(), value="keep", layout={"width": "180px"})
        self.action.add_class("tlw-curate-action")
        self.gradcam = widgets.Button(description="Grad-CAM", layout={"width": "90px"})
        self.gradcam.add_class("tlw-curate-gradcam")
        super().__init__([self.image, self.caption, self.action, self.gradcam],
                         layout={"border": "1px solid #ddd", "padding": "4px", "width": "200px", "display": "none"})
        self.add_class("tlw-curate-card")


class CuratePanel(BackgroundWork, widgets.VBox):
    """Review a run's validation images (or a health finding's files) and write curation decisions.

    Args:
        run_dir: The run folder (None: review ``files`` of ``data``, without predictions).
        curation: The curation file (None: the dataset's default file in the user's home).
        data_roots: Folders a curation file may also lie in (besides the home's curation folder).
        on_retrain: Called with ``(run_dir, curation_path)`` by "Retrain with fixes" (the Studio
            starts the child run on its Train tab); None starts it here.
        who: Recorded with each decision (None: the user name).
        data: The DataConfig of ``files`` (only without a run).
        files: Image keys to review (only without a run), e.g. a health finding's files.
        class_names: The dataset's classes (the relabel choices) when reviewing ``files``.
        title: What ``files`` are (shown in the filter).
        on_decide: Called with the curation file after each decision (None: nothing).
        engine: The engine that draws Grad-CAM and retrains (None: this process's).
        scores: The score each of ``files`` was ranked by (shown on its card), when reviewing ``files``.
        score: What the score is (shown before each value).
        retrain_from: A run on the same data that "Retrain with fixes" retrains when reviewing ``files`` (None:
            no retraining from the grid).
    """

    def __init__(self, run_dir: str | os.PathLike[str] | None, *, curation: str | os.PathLike[str] | None = None,
                 data_roots: Sequence[str | os.PathLike[str]] | None = None,
                 on_retrain: Callable[[str, str], Any] | None = None, who: str | None = None,
                 data: Any = None, files: Sequence[str] | None = None, class_names: Sequence[str] = (),
                 title: str = "files", on_decide: Callable[[str], None] | None = None, engine: Any = None,
                 scores: Sequence[float] | None = None, score: str = "", retrain_from: str | None = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        from tl_widgets.core.config.schema import TrainConfig
        from tl_widgets.core.data.curation import curation_dir, default_curation_path
        from tl_widgets.core.runs.folder import RunFolder

        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.on_decide = on_decide
        self._files = (list(files), list(class_names), str(title)) if run_dir is None and files is not None else None
        self._scores = ({k: float(v) for k, v in zip(files or [], scores)} if scores is not None and self._files
                        else {})
        self._score = str(score)
        self.retrain_from = Path(retrain_from) if retrain_from is not None and self._files is not None else None
        self.page = 0
        self._chosen: list[int] = []
        self.notice = Notice()
        self.guard = Guard(self.notice)
        self.on_retrain = on_retrain
        self.who = who
        self.review: Any = None
        self.shown: list[int] = []
        self.child_run_id: str | None = None
        self._status_head = ""
        if self.run_dir is not None:
            config_file = RunFolder(self.run_dir).config_file
            if not config_file.is_file():
                raise PanelError(_("Expected a run folder with config.json. Received: {path!r}").format(
                    path=str(self.run_dir)))
            data = TrainConfig.load(config_file).data
        elif data is None or self._files is None:
            raise PanelError("Expected a run folder, or a DataConfig with the files to review. Received: neither")
        self.data = data
        if data.source == "code":
            raise PanelError(_("Expected a run on demo, folder or zip data to curate. Received: data from code"))
        where = data.demo if data.source == "demo" else (data.path or "")
        roots = data_roots_or_none(data_roots)
        if roots and data.source in ("folder", "zip"):
            # Images are read back from the run's data: they must lie under the data roots (or, for an
            # uploaded zip, in this user's or seat's home or temporary folder).
            allowed = [*roots, default_home().resolve()]
            for path in (data.path, data.val_path):
                if path and not (data.source == "zip" and path == data.path and _is_upload(path)):
                    resolve_under_roots(path, allowed, N_("run's data"))
        path = Path(curation) if curation is not None else Path(data.curation or default_curation_path(data.source,
                                                                                                       where))
        # Every path is re-checked: a curation file lives in the home's curation folder or under a data root.
        self.curation = resolve_under_roots(path, [curation_dir().resolve(), *data_roots_or_none(data_roots)],
                                            N_("curation file"))
        self.filter = widgets.Dropdown(options=[(_("(evaluating…)"), "")], value="", description=_("show"),
                                       layout={"width": "420px"})
        self.filter.add_class("tlw-curate-filter")
        self.retrain_button = widgets.Button(description=_("Retrain with fixes"), icon="refresh",
                                             button_style="warning", layout={"width": "auto"})
        self.retrain_button.add_class("tlw-retrain")
        self.status = widgets.HTML()
        self.status.add_class("tlw-curate-status")
        self.cards = [_Card(i) for i in range(PAGE_SIZE)]
        for card in self.cards:
            self.guard.watch(card.action, lambda v, c=card: self._check_action(c, v),
                             after=lambda v, c=card: self._decide(c, v))
            card.gradcam.on_click(lambda _, c=card: self.start_gradcam(c))
        self.grid = widgets.Box(self.cards, layout={"display": "flex", "flex_flow": "row wrap", "grid_gap": "6px"})
        self.guard.watch(self.filter, self._check_filter, after=lambda v: self.show(v))
        self.retrain_button.on_click(lambda _: self.retrain())
        self.prev_button = widgets.Button(description=_("Previous"), icon="chevron-left", disabled=True,
                                          layout={"width": "auto"})
        self.prev_button.add_class("tlw-curate-prev")
        self.next_button = widgets.Button(description=_("Next"), icon="chevron-right", disabled=True,
                                          layout={"width": "auto"})
        self.next_button.add_class("tlw-curate-next")
        self.page_label = widgets.HTML()
        self.page_label.add_class("tlw-curate-page")
        self.prev_button.on_click(lambda _: self.turn(-1))
        self.next_button.on_click(lambda _: self.turn(1))
        if self._files is not None:  # no run's predictions: no model for Grad-CAM (retrain only from a given run)
            if self.retrain_from is None:
                self.retrain_button.layout.display = "none"
            for card in self.cards:
                card.gradcam.layout.display = "none"
        super().__init__([widgets.HTML(_("<h4>Fix the data</h4>")),
                          widgets.HBox([self.filter, self.retrain_button]), self.status, self.notice,
                          widgets.HBox([self.prev_button, self.page_label, self.next_button]), self.grid])
        self.add_class("tlw-curate")

    # -- loading -------------------------------------------------------------------
    def load(self, then: str | None = None) -> None:
        """Predicts the run's validation images (in a worker thread), then shows ``then`` (a filter value)."""
        from tl_widgets.core.evaluation.review import files_review, review_run

        def work() -> None:
            if self._files is not None:
                keys, names, title = self._files
                self.review = files_review(self.data, keys, names)
                self.guard.set_options(self.filter, [(f"{title} ({len(keys)})", "files")], "files")
                self.show("files")
                return
            self.review = review_run(self.run_dir)
            self._set_filters(then or "wrong")

        self.notice.show(_("Predicting the validation images…"), "info")
        self._run_in_background(work, name="tlw-curate", buttons=[self.retrain_button])

    def _filters(self) -> list[tuple[str, str]]:
        r = self.review
        cm = r.confusion()
        opts = [(_("all wrong predictions ({n})").format(n=int(cm.sum() - cm.trace())), "wrong"),
                (_("suspected label errors"), "errors")]
        names = r.class_names
        for t in range(len(names)):
            for p in range(len(names)):
                if t != p and cm[t, p]:
                    opts.append((_("labelled {true}, predicted {predicted} ({n})").format(
                        true=names[t], predicted=names[p], n=int(cm[t, p])), f"cell:{t}:{p}"))
        return opts

    def _set_filters(self, value: str) -> None:
        opts = self._filters()
        values = [v for _, v in opts]
        if value not in values and self._valid_cell(value):  # a cell with no image now: show it, empty
            opts.append((_("confusion cell {cell} (empty)").format(cell=value[5:]), value))
            values.append(value)
        chosen = value if value in values else "wrong"
        self.guard.set_options(self.filter, opts, chosen)
        self.show(chosen)

    # -- checks ----------------------------------------------------------------------
    def _valid_cell(self, value: str) -> bool:
        parts = value.split(":")
        n = len(self.review.class_names) if self.review is not None else 0
        return (len(parts) == 3 and parts[0] == "cell" and all(p.isdigit() and int(p) < n for p in parts[1:]))

    def _check_filter(self, value: Any) -> str:
        if self._files is not None and value in ("files", ""):
            return value
        if not isinstance(value, str) or not (value in ("wrong", "errors", "") or self._valid_cell(value)):
            raise PanelError(_("Expected 'wrong', 'errors' or a confusion cell. Received: {value!r}").format(
                value=value))
        return value

    def _check_action(self, card: _Card, value: Any) -> str:
        return check_choice(value, "decision", [v for _, v in card.action.options])

    # -- showing ---------------------------------------------------------------------
    def cell_value(self, true: str, predicted: str) -> str:
        """The filter value of a confusion cell given by class names.

        Raises:
            PanelError: A name is not one of the run's classes.
        """
        names = self.review.class_names if self.review is not None else None
        if names is None:
            raise PanelError(_("Expected the run's predictions first. Received: none yet"))
        check_choice(true, _("true class"), names)
        check_choice(predicted, _("predicted class"), names)
        return f"cell:{names.index(true)}:{names.index(predicted)}"

    def indices(self, value: str) -> list[int]:
        """The images a filter value selects, in display order."""
        r = self.review
        if value == "files":
            return list(range(len(r.keys)))
        if value == "errors":
            return r.label_errors()
        if value.startswith("cell:"):
            _cell, t, p = value.split(":")
            return r.cell(r.class_names[int(t)], r.class_names[int(p)])
        return r.wrong()

    def show(self, value: str, page: int = 0) -> None:
        """Fills the grid with one page of the images of a filter value, each with its decision read from the
        curation file."""
        from tl_widgets.core.data.curation import read_decisions
        from tl_widgets.core.data.images import png_bytes
        from tl_widgets.views.figures.curate_grid import prediction_bars_html

        if self.review is None or not value:
            return
        r = self.review
        chosen = self.indices(value)
        pages = max(1, -(-len(chosen) // PAGE_SIZE))
        self.page = min(max(0, int(page)), pages - 1)
        self._chosen = chosen
        self.shown = chosen[self.page * PAGE_SIZE:(self.page + 1) * PAGE_SIZE]
        decisions = read_decisions(self.curation)
        relabel = [(_("relabel → {name}").format(name=n), f"relabel:{n}") for n in r.class_names]
        for slot, card in enumerate(self.cards):
            if slot >= len(self.shown):
                card.item = None
                card.layout.display = "none"
                continue
            i = self.shown[slot]
            card.item = r.item(i)
            if card.item["key"] in self._scores:
                card.item["score"] = (self._score, self._scores[card.item["key"]])
            card.image.value = png_bytes(_thumb(r.image(i)))
            card.caption.value = prediction_bars_html(card.item)
            d = decisions.get(card.item["key"])
            current = "keep" if d is None else (f"relabel:{d.label}" if d.action == "relabel" else d.action)
            options = _base_actions() + relabel
            if current not in [v for _, v in options]:
                current = "keep"
            self.guard.set_options(card.action, options, current)
            card.layout.display = None
        from tl_widgets.views.figures.health import score_label

        order = ((_("worst {score} first").format(score=score_label(self._score)) if self._scores
                  else _("in the finding's order"))
                 if self._files is not None else _("highest loss first"))
        self._status_head = _("{n} images, {order}. Decisions are saved at once to {file}").format(
            n=len(chosen), order=order, file=f"<code>{self.curation.name}</code>")
        self.status.value = _("{head} ({n} so far).").format(head=self._status_head, n=len(decisions))
        first = self.page * PAGE_SIZE + 1 if chosen else 0
        self.page_label.value = _("page {page} of {pages} (images {first}–{last})").format(
            page=self.page + 1, pages=pages, first=first, last=self.page * PAGE_SIZE + len(self.shown))
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        self.notice.clear()

    def turn(self, step: int) -> None:
        """Shows the previous (``-1``) or next (``1``) page of the current filter."""
        if isinstance(step, bool) or step not in (-1, 1):
            raise PanelError(_("Expected a page step of -1 or 1. Received: {step!r}").format(step=step))
        self.show(self.filter.value, self.page + step)

    # -- deciding --------------------------------------------------------------------
    def _decide(self, card: _Card, value: str) -> None:
        from tl_widgets.core.data.curation import decide, read_decisions

        if card.item is None:
            return
        action, _sep, label = value.partition(":")
        decide(self.curation, [card.item["key"]], action, label or None, who=self.who)
        n = len(read_decisions(self.curation))
        self.status.value = _("{head} ({n} so far).").format(head=self._status_head, n=n)
        self.notice.show(_("{key}: {decision} (saved; {n} decisions).").format(
            key=card.item["key"], decision=f"{action}{' → ' + label if label else ''}", n=n), "info")
        if self.on_decide is not None:
            self.on_decide(str(self.curation))

    def decide(self, slot: int, value: str) -> None:
        """Sets the decision of the image in grid slot ``slot`` (as a click in the grid would)."""
        self.cards[slot].action.value = value

    # -- grad-cam --------------------------------------------------------------------
    def start_gradcam(self, card: _Card) -> None:
        """Replaces a card's image by its Grad-CAM overlay (in a worker thread)."""
        if card.item is None or self.review is None or self.run_dir is None:
            return
        slot_key = card.item["key"]
        i = self.review.keys.index(slot_key)

        def work() -> None:
            from tl_widgets.core.data.images import png_bytes

            result = self.engine.gradcam(str(self.run_dir), [self.review.image(i)])  # resized to the model's input
            if card.item is not None and card.item["key"] == slot_key:
                card.image.value = png_bytes(_thumb(result.overlays[0]))
            self.notice.show(_("Grad-CAM of {key} (layer {layer}).").format(key=slot_key, layer=repr(result.layer)), "info")

        self._run_in_background(work, name="tlw-curate-gradcam", buttons=[card.gradcam])

    # -- retraining ------------------------------------------------------------------
    def retrain(self) -> str | None:
        """Starts a child run with the decisions applied (through ``on_retrain`` when given)."""
        from tl_widgets.core.data.curation import read_decisions

        run_dir = self.run_dir if self.run_dir is not None else self.retrain_from
        if run_dir is None:
            self.notice.show(_("Expected a run to retrain from. Received: files of a health check (train a run first)"))
            return None
        if not read_decisions(self.curation):
            self.notice.show(_("Expected at least one decision before retraining. Received: none yet"))
            return None
        if self.on_retrain is not None:
            self.child_run_id = self.on_retrain(str(run_dir), str(self.curation))
            return self.child_run_id
        from tl_widgets.core.runs.lineage import child_config

        session = self.engine.session(child_config(run_dir, self.curation), source="studio")
        self.child_run_id = session.start()
        self.notice.show(_("Child run {run_id} started.").format(run_id=self.child_run_id), "info")
        return self.child_run_id


def data_roots_or_none(roots: Sequence[str | os.PathLike[str]] | None) -> list[Path]:
    """The data roots (argument or environment), resolved; empty when none are configured."""
    return data_roots(roots)


def _is_upload(path: str) -> bool:
    """A zip the Data panel saved from the browser (``<temp>/tlw-uploads-*/upload-N.zip``)."""
    p = Path(path).resolve()
    return p.parent.name.startswith("tlw-uploads-") and p.parent.parent == Path(tempfile.gettempdir()).resolve()


def _thumb(image: Any, side: int = 96) -> Any:
    from tl_widgets.core.data.preview import square_thumbnails

    return square_thumbnails([image], side)[0]
