"""The series behind :class:`~tl_widgets.views.live.LiveTrainingCharts`.

:class:`ChartSeries` maps metric names to traces of three charts (loss, other
metrics, learning rate), buffers points until the next draw and sends only
what is new: per-batch series go through a :class:`StreamDecimator` (bounded
display, min/max kept), epoch series are appended as they are.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tl_widgets.core.i18n import N_, _
from tl_widgets.views.widgets.chart import PlotlyChart
from tl_widgets.views.decimate import StreamDecimator

__all__ = ["ChartSeries"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_TITLES = {"loss": (N_("Loss"), N_("loss"), False), "metrics": (N_("Metrics"), N_("value"), False),
           "lr": (N_("Learning rate"), "lr", True)}
_LR = "learning_rate"
EPOCH_MARKERS_UP_TO = 60
"""An epoch trace draws a marker per point up to this many points, then lines only (each marker is an SVG node the
page redraws: a run of 1000 fast epochs made every redraw slower until the page stopped answering)."""


def _chart_of(base: str) -> str:
    if base == _LR:
        return "lr"
    return "loss" if base.endswith("loss") else "metrics"


def _base_figure(name: str) -> dict[str, Any]:
    title, y_title, log_y = _TITLES[name]
    grid = {"gridcolor": "#e8e8e8", "zeroline": False}
    return {
        "data": [],
        "layout": {
            "title": {"text": _(title), "x": 0.01, "font": {"size": 14}},
            "margin": {"l": 60, "r": 15, "t": 40, "b": 40},
            "xaxis": {"title": {"text": _("global step")}, **grid},
            "yaxis": {"title": {"text": _(y_title)}, "type": "log" if log_y else "linear", **grid},
            "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
            "plot_bgcolor": "white",
            "hovermode": "closest",
            "showlegend": True,
        },
    }


class ChartSeries:
    """Metric series of a run, the traces that show them and what is left to draw.

    Args:
        max_display_points: Bound on the body of each per-batch trace.
        height: Height of each chart in pixels.
    """

    def __init__(self, max_display_points: int = 2000, height: int = 280) -> None:
        self.max_display_points = max_display_points
        self.charts: dict[str, PlotlyChart] = {
            name: PlotlyChart(_base_figure(name), height=height) for name in _TITLES
        }
        self.reset()

    def reset(self) -> None:
        """Empties every chart and buffer."""
        self._batch: dict[str, StreamDecimator] = {}
        self._epoch: dict[str, tuple[list[float], list[float]]] = {}
        self._epoch_points: dict[str, int] = {}
        self._traces: dict[tuple[str, str], tuple[str, int, int | None]] = {}
        self._tails: dict[str, tuple[list[float], list[float]]] = {}
        self._colors: dict[str, dict[str, str]] = {name: {} for name in _TITLES}
        self._phases: list[tuple[float, str]] = []
        self._phases_dirty = False
        self.steps_in_chunk = 1
        self._chunk_dirty = False
        for name, chart in self.charts.items():
            chart.set_figure(_base_figure(name))

    def add_batch(self, x: float, metrics: Mapping[str, float], lr: float, steps_in_chunk: int) -> None:
        """Buffers the per-batch points of one ``BatchEnd``."""
        if steps_in_chunk != self.steps_in_chunk:
            self.steps_in_chunk = max(1, int(steps_in_chunk))
            self._chunk_dirty = True
        items = list(metrics.items())
        if lr is not None and math.isfinite(lr) and lr > 0:
            items.append((_LR, lr))
        for name, value in items:
            dec = self._batch.get(name)
            if dec is None:
                dec = self._batch[name] = StreamDecimator(self.max_display_points)
            dec.append(x, float(value))

    def add_epoch(self, x: float, metrics: Mapping[str, float]) -> None:
        """Buffers the per-epoch points (training and ``val_``) of one ``EpochEnd``."""
        for name, value in metrics.items():
            xs, ys = self._epoch.setdefault(name, ([], []))
            xs.append(x)
            ys.append(float(value))

    def add_phase(self, x: float, name: str) -> None:
        """Marks the start of a phase at step ``x``."""
        self._phases.append((x, name))
        self._phases_dirty = True

    def flush(self) -> bool:
        """Sends what is new to the charts; returns True if anything was sent."""
        sent = self._add_missing_traces()
        extend: dict[str, dict[int, tuple[list[float], list[float]]]] = {n: {} for n in self.charts}
        replace: dict[str, dict[int, tuple[list[float], list[float]]]] = {n: {} for n in self.charts}
        for name, dec in self._batch.items():
            update = dec.update()
            if update is None:
                continue
            chart, body, tail = self._traces[("batch", name)]
            if update.replace:
                replace[chart][body] = (update.xs, update.ys)
            elif update.xs:
                extend[chart][body] = (update.xs, update.ys)
            new_tail = (update.tail_xs, update.tail_ys)
            if tail is not None and new_tail != self._tails.get(name, ([], [])):
                replace[chart][tail] = new_tail
                self._tails[name] = new_tail
        plain: dict[str, list[int]] = {n: [] for n in self.charts}
        for name, (xs, ys) in self._epoch.items():
            if xs:
                chart, idx, _ = self._traces[("epoch", name)]
                extend[chart][idx] = (list(xs), list(ys))
                before = self._epoch_points.get(name, 0)
                self._epoch_points[name] = before + len(xs)
                if before <= EPOCH_MARKERS_UP_TO < before + len(xs):
                    plain[chart].append(idx)
                xs.clear()
                ys.clear()
        for name, chart in self.charts.items():
            if replace[name]:
                chart.set_data(replace[name])
                sent = True
            if extend[name]:
                chart.extend(extend[name])
                sent = True
            if plain[name]:  # a marker per epoch costs the page an SVG node each: a long run draws lines only
                chart.restyle({"mode": "lines"}, plain[name])
        if self._phases_dirty or self._chunk_dirty:
            for name, chart in self.charts.items():
                chart.relayout(self._decorations(name))
            self._phases_dirty = self._chunk_dirty = False
            sent = True
        return sent

    # -- private ----------------------------------------------------------------------

    def _color(self, chart: str, base: str) -> str:
        colors = self._colors[chart]
        if base not in colors:
            colors[base] = _PALETTE[len(colors) % len(_PALETTE)]
        return colors[base]

    def _add_missing_traces(self) -> bool:
        new: dict[str, list[tuple[tuple[str, str], list[dict[str, Any]]]]] = {n: [] for n in self.charts}
        for kind, names in (("batch", self._batch), ("epoch", self._epoch)):
            for name in names:
                if (kind, name) not in self._traces:
                    chart, traces = self._new_traces(kind, name)
                    new[chart].append(((kind, name), traces))
        for chart, entries in new.items():
            if not entries:
                continue
            indices = self.charts[chart].add_traces([t for _, traces in entries for t in traces])
            pos = 0
            for key, traces in entries:
                tail = indices[pos + 1] if len(traces) == 2 else None
                self._traces[key] = (chart, indices[pos], tail)
                pos += len(traces)
        return any(new.values())

    def _new_traces(self, kind: str, name: str) -> tuple[str, list[dict[str, Any]]]:
        val = name.startswith("val_")
        base = name[4:] if val else name
        chart = _chart_of(base)
        color = self._color(chart, base)
        label = "learning rate" if base == _LR else base
        if kind == "epoch":
            trace = {
                "type": "scatter", "mode": "lines+markers", "name": f"val {label}" if val else f"{label} (epoch)",
                "line": {"color": color, "width": 2, "dash": "dash" if val else "solid"},
                "marker": {"size": 7, "symbol": "diamond" if val else "circle"},
                "hovertemplate": "%{y:.4g} at step %{x}<extra>%{fullData.name}</extra>",
            }
            return chart, [trace]
        note = f" per {self.steps_in_chunk} steps" if self.steps_in_chunk > 1 else ""
        body = {
            "type": "scatter", "mode": "lines", "name": label if base == _LR else f"{label} (batch)",
            "legendgroup": f"batch-{name}", "opacity": 0.55, "line": {"color": color, "width": 1},
            "hovertemplate": f"%{{y:.4g}} at step %{{x}}{note}<extra>%{{fullData.name}}</extra>",
        }
        tail = {**body, "showlegend": False, "name": f"{body['name']} (latest)"}
        return chart, [body, tail]

    def _decorations(self, chart: str) -> dict[str, Any]:
        shapes = [
            {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": "#888", "width": 1, "dash": "dot"}}
            for x, _ in self._phases
        ]
        notes = [
            {"x": x, "xref": "x", "y": 1, "yref": "paper", "text": name, "showarrow": False,
             "xanchor": "left", "yanchor": "top", "font": {"size": 10, "color": "#666"}}
            for x, name in self._phases
        ]
        title = _(_TITLES[chart][0])
        if self.steps_in_chunk > 1:
            per = _("(batch points per {n} steps)").format(n=self.steps_in_chunk)
            title += f" <span style='font-size:11px;color:#666'>{per}</span>"
        return {"shapes": shapes, "annotations": notes, "title.text": title}
