"""Runs panel: the runs recorded in the run store, with chosen runs' curves overlaid and their settings compared.

When the panel opens (or is refreshed) without a pick of the user's, the newest
runs are picked and drawn; with no runs at all it says so instead of showing an
empty chart. With two or more runs picked, a table lists the settings that differ
between the two newest of them (:func:`tl_widgets.core.runs.config_diff.run_config_diff`).
Picking a child run (retrained with fixes) also shows its per-class F1 and image counts next to its
parent's (:func:`tl_widgets.core.runs.lineage.compare_with_parent`, evaluated in a worker when needed).
The picked runs' data health (their ``health.json``: files per finding) is shown side by side.
**Delete** removes the picked runs, their folders first and then their rows, as the run store's
:meth:`~tl_widgets.core.runs.store.RunStore.delete_run` does (a run that trains is refused), after a
second click that says how many runs go: the way to free a seat's disk quota.
"""

from __future__ import annotations

import html
import sqlite3
from typing import Any

import ipywidgets as widgets
import traitlets

from tl_widgets.core.i18n import _
from tl_widgets.panels.kit.labels import status_label
from tl_widgets.panels.kit.validation import Guard, Notice, PanelError, check_choice
from tl_widgets.panels.kit.worker import BackgroundWork

__all__ = ["RunsPanel"]

METRICS = ("val_accuracy", "accuracy", "val_loss", "loss")
NEWEST_SHOWN = 3
"""Runs picked and drawn when the panel opens without a pick of the user's."""
HEALTH_SHOWN = 4
"""Picked runs whose data health is shown side by side (the newest)."""


def _label(run: dict[str, Any]) -> str:
    metrics = run.get("metrics") or run.get("final_metrics") or {}
    acc = metrics.get("val_accuracy") if isinstance(metrics, dict) else None
    shown = f"  val_acc {acc:.3f}" if isinstance(acc, (int, float)) else ""
    parent = run.get("parent_run_id")
    child = "  " + _("← retrained from {parent}").format(parent=parent) if parent else ""
    return f"{run['run_id']}  [{status_label(str(run.get('status', '?')))}]{shown}{child}"


class RunsPanel(BackgroundWork, widgets.VBox):
    """Lists runs from a :class:`~tl_widgets.core.runs.store.RunStore` and compares their curves.

    Args:
        store: The run store (None: the default home store).
        engine: The engine that evaluates a run for the before/after comparison (None: this process's).
    """

    selected = traitlets.Tuple(help="Run ids whose curves are overlaid.")

    def __init__(self, store: Any = None, engine: Any = None) -> None:
        from tl_widgets.core.engine import resolve_engine

        self.engine = resolve_engine(engine)
        from tl_widgets.core.runs.store import RunStore
        from tl_widgets.views.widgets.chart import PlotlyChart

        self.notice = Notice()
        self.store_error = ""
        try:
            self.store = store if store is not None else RunStore()
        except OSError as exc:  # a damaged store must not stop the Studio from opening: say so here
            self.store, self.store_error = None, str(exc)
        self.guard = Guard(self.notice)
        self.runs: list[dict[str, Any]] = []
        self.picker = widgets.SelectMultiple(options=[], rows=8, layout={"width": "560px"})
        self.picker.add_class("tlw-runs")
        self.metric = widgets.Dropdown(options=list(METRICS), value="val_accuracy", description=_("metric"))
        self.metric.add_class("tlw-runs-metric")
        self.refresh_button = widgets.Button(description=_("Refresh"), icon="refresh")
        self.refresh_button.add_class("tlw-runs-refresh")
        self.chart = PlotlyChart(height=340)
        self.chart.add_class("tlw-runs-chart")
        self.lineage = widgets.HTML()
        self.lineage.add_class("tlw-runs-lineage")
        self.health = widgets.HTML()
        self.health.add_class("tlw-runs-health")
        self._lineage_for: str | None = None
        self._compared: dict[str, str] = {}
        self.empty = widgets.HTML()
        self.empty.add_class("tlw-runs-empty")
        self.diff = widgets.HTML()
        self.diff.add_class("tlw-runs-diff")
        self.auto_pick = True  # the newest runs are picked until the user picks
        self.guard.watch(self.picker, self._check_ids, lambda _v: self._picked())
        self.guard.watch(self.metric, lambda v: check_choice(v, "metric", METRICS), lambda _v: self.draw())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.delete_button = widgets.Button(description=_("Delete"), icon="trash", layout={"width": "auto"},
                                            tooltip=_("Delete the picked runs and their files"))
        self.delete_button.add_class("tlw-runs-delete")
        self.confirm_button = widgets.Button(button_style="danger", layout={"width": "auto", "display": "none"})
        self.confirm_button.add_class("tlw-runs-delete-confirm")
        self.delete_button.on_click(lambda _b: self._ask_delete())
        self.confirm_button.on_click(lambda _b: self.delete(self._to_delete))
        self._to_delete: tuple[str, ...] = ()
        self.picker.tooltip = _("Pick runs to overlay their curves (Ctrl or Shift + click picks several)")
        self.hint = widgets.HTML("<small style='color:#555'>" + html.escape(self.picker.tooltip) + "</small>")
        self.hint.add_class("tlw-help")
        super().__init__([widgets.HTML("<h3>" + _("Runs") + "</h3>"), widgets.HBox([self.refresh_button, self.metric, self.delete_button,
                                                                    self.confirm_button]),
                          self.empty, self.hint, self.picker, self.notice, self.lineage, self.health, self.chart,
                          self.diff])
        self.add_class("tlw-runs-panel")
        self.refresh()

    def _check_ids(self, value: Any) -> tuple[str, ...]:
        known = {r["run_id"] for r in self.runs}
        for run_id in value:
            if run_id not in known:
                raise PanelError(_("Expected run ids listed in the run store. Received: {run_id!r}").format(
                    run_id=run_id))
        return tuple(value)

    def refresh(self) -> None:
        """Re-reads the run store (keeps the selection that still exists)."""
        try:
            if self.store is None:
                raise OSError(self.store_error)
            self.runs = self.store.list_runs(limit=200)
        except (OSError, sqlite3.DatabaseError) as exc:
            self.runs = []
            self.notice.show(_("Cannot read the run store: {error}").format(error=exc), "warning")
        keep = tuple(r for r in self.picker.value if r in {x["run_id"] for x in self.runs})
        if self.auto_pick or not keep:
            keep = tuple(r["run_id"] for r in self.runs[:NEWEST_SHOWN])
        with self.hold_sync():
            self.guard.set_options(self.picker, [(_label(r), r["run_id"]) for r in self.runs], keep)
            self.empty.value = "" if self.runs else "<p style='font-size:1.1em'>" + _(
                "No runs yet — press Start to train one; it shows here.") + "</p>"
            for w in (self.hint, self.picker, self.metric, self.chart):
                w.layout.display = None if self.runs else "none"
        self.draw()

    def _ask_delete(self) -> None:
        ids = tuple(self.picker.value)
        if not ids:
            self.notice.show(_("Pick the runs to delete first."), "warning")
            return
        self._to_delete = ids
        self.confirm_button.description = _("Really delete {n} runs and their files?").format(n=len(ids))
        self.confirm_button.layout.display = None

    def delete(self, run_ids: Any) -> list[str]:
        """Deletes runs and their folders (files first, as the run store does); returns the ids deleted.

        A run that trains, or whose folder is not its own, is left (the reason is shown).
        """
        from tl_widgets.core.runs.store import RunActiveError, RunNotFoundError

        self.confirm_button.layout.display = "none"
        self._to_delete = ()
        try:
            ids = self._check_ids(tuple(run_ids))
        except (PanelError, TypeError) as exc:
            self.notice.show(str(exc))
            return []
        done, refused = [], []
        for run_id in ids:
            try:
                self.store.delete_run(run_id, delete_files=True)
            except (RunActiveError, RunNotFoundError, ValueError, OSError) as exc:
                refused.append(str(exc))
                continue
            done.append(run_id)
        self.auto_pick = True
        self.refresh()
        if refused:
            self.notice.show(_("Deleted {n} runs; not deleted: {reasons}").format(n=len(done), reasons="; ".join(
                refused)), "warning")
        else:
            self.notice.show(_("Deleted {n} runs and their files.").format(n=len(done)), "info")
        return done

    def _picked(self) -> None:
        """The user picked runs: keep their pick on refresh (an emptied pick goes back to the newest)."""
        self.auto_pick = not self.picker.value
        self.draw()

    def draw(self) -> None:
        """Overlays the selected runs' per-epoch ``metric``."""
        from tl_widgets.views.figures.basic import runs_overlay_figure

        ids = list(self.picker.value)
        self.selected = tuple(ids)
        metric = self.metric.value
        curves = self.store.compare(ids, metric) if ids else {}
        self.chart.set_figure(runs_overlay_figure(curves, metric))
        self._show_lineage(ids)
        self._show_health(ids)
        self._show_diff(ids)

    def _show_health(self, ids: list[str]) -> None:
        """The data health each picked run trained with (``health.json``), files per finding, oldest first."""
        from pathlib import Path

        from tl_widgets.core.runs.folder import RunFolder
        from tl_widgets.core.runs.health import health_counts
        from tl_widgets.views.figures.health import health_counts_html

        order = [r["run_id"] for r in self.runs]
        by_id = {r["run_id"]: r for r in self.runs}
        picked = sorted((i for i in ids if i in by_id and by_id[i].get("run_dir")), key=order.index)[:HEALTH_SHOWN]
        columns = []
        for run_id in reversed(picked):
            report = RunFolder(Path(by_id[run_id]["run_dir"])).read_health()
            columns.append((run_id, health_counts(report) if report is not None else None))
        self.health.value = health_counts_html(columns) if columns else ""

    def _show_diff(self, ids: list[str]) -> None:
        """The settings that differ between the two newest picked runs (nothing with fewer than two)."""
        from tl_widgets.core.runs.config_diff import run_config_diff
        from tl_widgets.views.figures.run_diff import config_diff_html

        order = [r["run_id"] for r in self.runs]
        newest = sorted((i for i in ids if i in order), key=order.index)[:2]
        if len(newest) < 2:
            self.diff.value = "" if not self.runs else "<i>" + _(
                "Pick two runs to see which settings differ.") + "</i>"
            return
        b, a = newest  # the older run first: "what changed" reads left to right
        try:
            rows = run_config_diff(self.store, a, b)
        except (OSError, sqlite3.DatabaseError, KeyError, ValueError) as exc:
            self.diff.value = ""
            self.notice.show(_("Cannot compare the settings of {a} and {b}: {error}").format(a=a, b=b, error=exc),
                             "warning")
            return
        self.diff.value = config_diff_html(rows, a, b)

    def _show_lineage(self, ids: list[str]) -> None:
        """Per-class before/after for the last picked child run (evaluated in a worker if not yet)."""
        from tl_widgets.core.runs.lineage import compare_with_parent
        from tl_widgets.views.figures.curate_grid import before_after_html

        by_id = {r["run_id"]: r for r in self.runs}
        children = [i for i in ids if by_id.get(i, {}).get("parent_run_id") and by_id[i].get("run_dir")]
        run_id = children[-1] if children else None
        self._lineage_for = run_id
        if run_id is None:
            self.lineage.value = ""
            return
        if run_id in self._compared:
            self.lineage.value = self._compared[run_id]
            return
        run_dir = by_id[run_id]["run_dir"]
        comparing = _("Comparing {run_id} with its parent, class by class…").format(run_id=run_id)
        self.lineage.value = f"<i>{comparing}</i>"

        def work() -> None:
            try:
                found = compare_with_parent(run_dir, evaluate=self.engine.evaluate)
            except Exception:
                self.lineage.value = ""  # the worker shows the error in the notice
                raise
            table = before_after_html(*found) if found else ""
            self._compared[run_id] = table
            if self._lineage_for == run_id:  # the pick may have changed meanwhile
                self.lineage.value = table

        self._run_in_background(work, name="tlw-runs-lineage", buttons=[],
                                failure=_("Cannot compare {run_id} with its parent: ").format(run_id=run_id))
