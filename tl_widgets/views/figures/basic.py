"""Static Plotly figures: plain data in, a ``plotly.graph_objects.Figure`` out (the image grid is here).

Each function validates its input and raises ``ValueError`` / ``TypeError``
with what it expected and what it received.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tl_widgets.core.i18n import N_, _

_WIDE = re.compile(r"[\u3400-\u9fff]")  # wide (CJK) characters: the mean label needs twice the margin

__all__ = [
    "layer_map_figure",
    "class_counts_figure",
    "lr_finder_figure",
    "runs_overlay_figure",
    "image_grid_figure",
]

_STATE_COLORS = {"trainable": "#f28e2b", "mixed": "#edc948", "frozen": "#8c9aab"}
_STATE_LABELS = {"trainable": N_("trainable"), "mixed": N_("mixed"), "frozen": N_("frozen")}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_BASE_LAYOUT: dict[str, Any] = {"plot_bgcolor": "white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def _state(value: Any, name: str) -> str:
    if value is True:
        return "trainable"
    if value is False:
        return "frozen"
    if value == "mixed":
        return "mixed"
    raise ValueError(f"Expected trainable to be True, False or 'mixed' for block {name!r}. Received: {value!r}")


def _count(block: Mapping[str, Any], key: str) -> int:
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"Expected {key} to be an int >= 0 in block {block.get('name')!r}. Received: {value!r}")
    return int(value)


def layer_map_figure(blocks: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Shows the model's blocks, coloured frozen / trainable / mixed.

    One horizontal bar per block, in model order from top to bottom; its
    length is the block's parameter count and the hover shows trainable and
    frozen parameters and the number of layers.

    Args:
        blocks: Dicts with ``name``, ``trainable`` (True, False or
            ``"mixed"``), ``trainable_params``, ``frozen_params`` and ``n_layers``.

    Returns:
        The figure.
    """
    names, states, trainable, frozen, layers = [], [], [], [], []
    for block in blocks:
        if not isinstance(block, Mapping) or not isinstance(block.get("name"), str):
            raise ValueError(f"Expected a dict with a str 'name' per block. Received: {block!r:.200}")
        names.append(block["name"])
        states.append(_state(block.get("trainable"), block["name"]))
        trainable.append(_count(block, "trainable_params"))
        frozen.append(_count(block, "frozen_params"))
        layers.append(_count(block, "n_layers"))
    if len(set(names)) != len(names):
        raise ValueError(f"Expected unique block names. Received: {names}")
    fig = go.Figure()
    for state, color in _STATE_COLORS.items():
        idx = [i for i, s in enumerate(states) if s == state]
        fig.add_trace(
            go.Bar(
                orientation="h",
                name=_(_STATE_LABELS[state]),
                y=[names[i] for i in idx],
                x=[trainable[i] + frozen[i] for i in idx],
                marker={"color": color, "line": {"color": "#555", "width": 0.5}},
                customdata=[[trainable[i], frozen[i], layers[i]] for i in idx],
                text=[f"{trainable[i] + frozen[i]:,}" for i in idx],
                textposition="outside",
                hovertemplate=(
                    "<b>%{y}</b><br>" + _("trainable: %{customdata[0]:,}<br>frozen: %{customdata[1]:,}<br>layers: "
                                          "%{customdata[2]}") + "<extra>" + _(_STATE_LABELS[state]) + "</extra>"
                ),
            )
        )
    total_t, total_f = sum(trainable), sum(frozen)
    fig.update_layout(
        **_BASE_LAYOUT,
        title={"text": _("Blocks: {trainable:,} trainable, {frozen:,} frozen parameters").format(
            trainable=total_t, frozen=total_f)},
        barmode="overlay",
        height=max(220, 80 + 24 * len(names)),
        xaxis={"title": {"text": _("parameters")}, "gridcolor": "#eee"},
        yaxis={"categoryorder": "array", "categoryarray": names, "autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def class_counts_figure(counts: Mapping[str, int]) -> go.Figure:
    """Bars of examples per class, with the mean as a dashed line.

    Args:
        counts: ``{class_name: count}`` in display order.
    """
    if not counts:
        raise ValueError("Expected at least one class in counts. Received: {}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Expected an int count >= 0 for class {name!r}. Received: {value!r}")
    names = [str(k) for k in counts]
    values = [int(v) for v in counts.values()]
    fig = go.Figure(
        go.Bar(x=names, y=values, text=values, textposition="auto", insidetextanchor="end",
               marker={"color": _PALETTE[0]}, cliponaxis=False, hovertemplate=_("%{x}: %{y:,} images") + "<extra></extra>")
    )
    mean = sum(values) / len(values)
    # Nothing crosses a count: the counts sit inside the bars' tops (above a bar too short to hold one), the mean
    # line runs behind the bars, and its label sits in the right margin beside the line's end.
    mean_text = _("mean {mean:,.1f}").format(mean=mean)
    fig.add_hline(y=mean, line={"dash": "dash", "color": "#888"}, layer="below", annotation_text=mean_text,
                  annotation_position="right", annotation_font={"size": 11, "color": "#555"})
    margin = {**_BASE_LAYOUT["margin"], "r": 12 + 7 * len(mean_text) * (2 if _WIDE.search(mean_text) else 1)}
    fig.update_layout(**{**_BASE_LAYOUT, "margin": margin},
                      title={"text": _("{images:,} images in {classes} classes").format(
                          images=sum(values), classes=len(values))},
                      yaxis={"title": {"text": _("images")}, "gridcolor": "#eee", "range": [0, max(values) * 1.15 or 1]},
                      height=320)
    return fig


def lr_finder_figure(lrs: Sequence[float], losses: Sequence[float], suggested_lr: float | None) -> go.Figure:
    """Loss against learning rate (log x), with the suggestion marked.

    Args:
        lrs: Learning rates tried, increasing.
        losses: Loss at each learning rate.
        suggested_lr: The suggested learning rate, or None.
    """
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
        raise ValueError(f"Expected lrs and losses of equal, non-zero length. Received {x.shape} and {y.shape}")
    if (x <= 0).any():
        raise ValueError("Expected learning rates > 0 (the x axis is logarithmic).")
    y = np.where(np.isfinite(y), y, np.nan)
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name=_("loss"), line={"color": _PALETTE[0]},
                               hovertemplate="lr %{x:.2e}<br>loss %{y:.4g}<extra></extra>"))
    if suggested_lr is not None:
        if not suggested_lr > 0:
            raise ValueError(f"Expected suggested_lr > 0 or None. Received: {suggested_lr!r}")
        at = float(np.interp(np.log10(suggested_lr), np.log10(x), np.nan_to_num(y, nan=np.nanmax(y))))
        fig.add_vline(x=float(suggested_lr), line={"dash": "dash", "color": _PALETTE[3]})
        fig.add_trace(go.Scatter(x=[suggested_lr], y=[at], mode="markers", name=_("suggested {lr:.1e}").format(lr=suggested_lr),
                                 marker={"color": _PALETTE[3], "size": 10}))
    fig.update_layout(**_BASE_LAYOUT, title={"text": _("Learning-rate finder")}, height=320,
                      xaxis={"type": "log", "title": {"text": _("learning rate")}, "gridcolor": "#eee"},
                      yaxis={"title": {"text": _("loss")}, "gridcolor": "#eee"})
    return fig


def runs_overlay_figure(runs: Mapping[str, Sequence[tuple[int, float]]], metric: str) -> go.Figure:
    """One line per run of ``metric`` against epoch, to compare runs; the legend names the runs.

    Args:
        runs: ``{run_name: [(epoch, value), ...]}``.
        metric: The metric's name (axis and title).
    """
    fig = go.Figure()
    if not any(len(points) for points in runs.values()):  # say so rather than draw empty axes (-1..6)
        fig.add_annotation(text=_("No {metric} recorded yet for the runs picked").format(metric=metric) if runs
                           else _("No runs picked"),
                           x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14})
        fig.update_layout(**_BASE_LAYOUT, height=340, xaxis={"visible": False}, yaxis={"visible": False})
        return fig
    for i, (name, points) in enumerate(runs.items()):
        pts = np.asarray(list(points), dtype=np.float64).reshape(-1, 2) if len(points) else np.zeros((0, 2))
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="lines+markers" if len(pts) < 50 else "lines",
                                 name=str(name), line={"color": _PALETTE[i % len(_PALETTE)]},
                                 hovertemplate=_("epoch %{x}") + "<br>" + metric + " %{y:.4g}<extra>%{fullData.name}</extra>"))
    last = max(x for points in runs.values() for x, _y in points)
    ticks = {"dtick": 1} if last <= 20 else {}  # whole epochs, never 0.5
    fig.update_layout(**_BASE_LAYOUT, title={"text": _("{metric} by run").format(metric=metric)}, height=340,
                      showlegend=True, xaxis={"title": {"text": _("epoch")}, "gridcolor": "#eee", **ticks},
                      yaxis={"title": {"text": metric}, "gridcolor": "#eee"})
    return fig


def image_grid_figure(images: np.ndarray, titles: Sequence[str] | None = None, cols: int | None = None, *,
                      title: str | None = None, caption_size: int | None = None) -> go.Figure:
    """A grid of images, each embedded as a PNG: the one image grid (data samples, augmentation previews,
    top losses, Grad-CAM overlays).

    Args:
        images: ``uint8`` array of shape ``[n, H, W, 3]``; with ``n == 0`` the figure says there is nothing to show.
        titles: One caption per image, or None.
        cols: Columns of the grid; defaults to ``ceil(sqrt(n))``, at most 6 (never more than ``n``).
        title: The figure's title, or None.
        caption_size: The captions' font size (None: Plotly's).

    Raises:
        ValueError: Not a ``uint8 [n, H, W, 3]`` array, not one title per image, or ``cols < 1``.
    """
    from tl_widgets.core.data.images import png_data_uri

    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 array [n, H, W, 3]. Received {arr.dtype} {arr.shape}")
    n, height, width = arr.shape[:3]
    if titles is not None and len(titles) != n:
        raise ValueError(f"Expected {n} titles. Received: {len(titles)}")
    if cols is not None and cols < 1:
        raise ValueError(f"Expected cols >= 1. Received: cols={cols}")
    top = 70 if title else 40
    if n == 0:
        fig = go.Figure()
        fig.update_layout(title=title, annotations=[{"text": _("nothing to show"), "showarrow": False}],
                          xaxis_visible=False, yaxis_visible=False, plot_bgcolor="white")
        return fig
    cols = min(n, cols or min(6, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[str(t) for t in titles] if titles else None,
                        horizontal_spacing=0.02, vertical_spacing=0.08 if titles else 0.02)
    for i in range(n):
        fig.add_trace(go.Image(source=png_data_uri(arr[i]), hoverinfo="skip"), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    if caption_size is not None:
        fig.update_annotations(font_size=caption_size)
    cell = max(90, min(200, 900 // cols))
    fig.update_layout(title=title, margin={"l": 10, "r": 10, "t": top, "b": 10},
                      height=rows * int(cell * height / width) + top + 20, plot_bgcolor="white")
    return fig
