"""Runs panel: the runs recorded in the run store, with chosen runs' curves overlaid."""

from __future__ import annotations

import sqlite3
from typing import Any

import ipywidgets as widgets
import traitlets

from tl_widgets.panels.validation import Guard, Notice, PanelError, check_choice

__all__ = ["RunsPanel"]

METRICS = ("val_accuracy", "accuracy", "val_loss", "loss")


def _label(run: dict[str, Any]) -> str:
    metrics = run.get("metrics") or run.get("final_metrics") or {}
    acc = metrics.get("val_accuracy") if isinstance(metrics, dict) else None
    shown = f"  val_acc {acc:.3f}" if isinstance(acc, (int, float)) else ""
    parent = run.get("parent_run_id")
    child = f"  ← retrained from {parent}" if parent else ""
    return f"{run['run_id']}  [{run.get('status', '?')}]{shown}{child}"


class RunsPanel(widgets.VBox):
    """Lists runs from a :class:`~tl_widgets.core.runs.store.RunStore` and compares their curves.

    Args:
        store: The run store (None: the default home store).
    """

    selected = traitlets.Tuple(help="Run ids whose curves are overlaid.")

    def __init__(self, store: Any = None) -> None:
        from tl_widgets.core.runs.store import RunStore
        from tl_widgets.views.chart import PlotlyChart

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
        self.metric = widgets.Dropdown(options=list(METRICS), value="val_accuracy", description="metric")
        self.metric.add_class("tlw-runs-metric")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("tlw-runs-refresh")
        self.chart = PlotlyChart(height=340)
        self.chart.add_class("tlw-runs-chart")
        self.guard.watch(self.picker, self._check_ids, lambda _: self.draw())
        self.guard.watch(self.metric, lambda v: check_choice(v, "metric", METRICS), lambda _: self.draw())
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__([widgets.HTML("<h3>Runs</h3>"), widgets.HBox([self.refresh_button, self.metric]),
                          self.picker, self.notice, self.chart])
        self.add_class("tlw-runs-panel")
        self.refresh()

    def _check_ids(self, value: Any) -> tuple[str, ...]:
        known = {r["run_id"] for r in self.runs}
        for run_id in value:
            if run_id not in known:
                raise PanelError(f"Expected run ids listed in the run store. Received: {run_id!r}")
        return tuple(value)

    def refresh(self) -> None:
        """Re-reads the run store (keeps the selection that still exists)."""
        try:
            if self.store is None:
                raise OSError(self.store_error)
            self.runs = self.store.list_runs(limit=200)
        except (OSError, sqlite3.DatabaseError) as exc:
            self.runs = []
            self.notice.show(f"Cannot read the run store: {exc}", "warning")
        keep = tuple(r for r in self.picker.value if r in {x["run_id"] for x in self.runs})
        with self.hold_sync():
            self.guard.set_options(self.picker, [(_label(r), r["run_id"]) for r in self.runs], keep)
        self.draw()

    def draw(self) -> None:
        """Overlays the selected runs' per-epoch ``metric``."""
        from tl_widgets.views.figures import runs_overlay_figure

        ids = list(self.picker.value)
        self.selected = tuple(ids)
        metric = self.metric.value
        curves = self.store.compare(ids, metric) if ids else {}
        self.chart.set_figure(runs_overlay_figure(curves, metric))
