"""Plotly figures for evaluation: confusion matrix, per-class metrics, image galleries, HTML report.

Plain data in (lists, dicts, numpy arrays, an ``EvalReport.to_dict()``);
``go.Figure`` out. No Keras here.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tl_widgets.core.i18n import _

__all__ = ["confusion_figure", "per_class_figure", "image_grid_figure", "top_losses_figure", "gradcam_figure",
           "report_html"]


def confusion_figure(confusion: Sequence[Sequence[int]], class_names: Sequence[str], *,
                     normalize: bool = False) -> go.Figure:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted).

    Args:
        confusion: ``confusion[i][j]`` counts.
        class_names: Axis labels.
        normalize: Show each row as fractions of its true class (counts stay in the hover).
    """
    cm = np.asarray(confusion, dtype=np.float64)
    n = len(class_names)
    if cm.shape != (n, n):
        raise ValueError(f"Expected a {n}x{n} confusion matrix. Received shape {cm.shape}")
    rows = cm.sum(axis=1, keepdims=True)
    z = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalize else cm
    text = [[f"{v:.2f}" if normalize else str(int(v)) for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=list(class_names), y=list(class_names), text=text, texttemplate="%{text}",
        customdata=cm.astype(int).tolist(), colorscale="Blues", zmin=0, zmax=1 if normalize else None,
        hovertemplate=_("true %{y}<br>predicted %{x}<br>%{customdata} images") + "<extra></extra>",
    ))
    fig.update_layout(
        title=_("Confusion matrix (row-normalised)") if normalize else _("Confusion matrix (counts)"),
        xaxis_title=_("predicted"), yaxis_title=_("true"), yaxis_autorange="reversed", margin=dict(t=50, l=60, r=20, b=50),
    )
    return fig


def per_class_figure(per_class: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Grouped bars of precision, recall and F1 per class (support in the hover)."""
    names = [str(r["class"]) for r in per_class]
    support = [int(r["support"]) for r in per_class]
    fig = go.Figure()
    for metric, label in (("precision", _("precision")), ("recall", _("recall")), ("f1", _("f1"))):
        fig.add_bar(name=label, x=names, y=[float(r[metric]) for r in per_class], customdata=support,
                    hovertemplate=f"%{{x}}<br>{label} %{{y:.3f}}<br>" + _("support %{customdata}") + "<extra></extra>")
    fig.update_layout(title=_("Per-class precision / recall / F1"), barmode="group", yaxis_range=[0, 1.05],
                      margin=dict(t=50, l=50, r=20, b=50))
    return fig


def image_grid_figure(images: Any, captions: Sequence[str], *, title: str, columns: int = 4) -> go.Figure:
    """A grid of uint8 RGB images with one caption each."""
    imgs = np.asarray(images)
    if len(imgs) != len(captions):
        raise ValueError(f"Expected one caption per image ({len(imgs)}). Received: {len(captions)}")
    if columns < 1:
        raise ValueError(f"Expected columns >= 1. Received: columns={columns}")
    if len(imgs) == 0:
        fig = go.Figure()
        fig.update_layout(title=title, annotations=[dict(text=_("nothing to show"), showarrow=False)],
                          xaxis_visible=False, yaxis_visible=False)
        return fig
    cols = min(columns, len(imgs))
    rows = math.ceil(len(imgs) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(captions), vertical_spacing=0.12 / max(rows, 1))
    for i, img in enumerate(imgs):
        fig.add_trace(go.Image(z=np.clip(img, 0, 255).astype(np.uint8)), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    fig.update_layout(title=title, height=max(260, 190 * rows), margin=dict(t=70, l=10, r=10, b=10))
    return fig


def top_losses_figure(images: Any, top_losses: Sequence[Mapping[str, Any]], *, columns: int = 4) -> go.Figure:
    """The most confidently wrong images, captioned ``true -> predicted (p)``."""
    captions = [f"{r['true']} → {r['predicted']} ({float(r['probability']):.2f})" for r in top_losses]
    return image_grid_figure(images, captions, title=_("Top losses: true → predicted (probability)"),
                             columns=columns)


def gradcam_figure(overlays: Any, captions: Sequence[str], *, columns: int = 4) -> go.Figure:
    """Grad-CAM overlays in a grid."""
    return image_grid_figure(overlays, captions, title="Grad-CAM", columns=columns)


def report_html(report: Mapping[str, Any], figures: Sequence[go.Figure], *, title: str = "Evaluation") -> str:
    """A standalone HTML page (Plotly.js inlined once) with the summary numbers and the figures."""
    summary = [
        ("images", str(report.get("count", ""))),
        ("accuracy", f"{float(report.get('accuracy', 0)):.4f}"),
        ("loss", f"{float(report.get('loss', 0)):.4f}"),
        ("macro F1", f"{float(report.get('macro_f1', 0)):.4f}"),
    ] + [(k.replace("_", "-"), f"{float(v):.4f}") for k, v in dict(report.get("top_k", {})).items()]
    cal = dict(report.get("calibration") or {})
    if "ece" in cal:
        summary.append(("expected calibration error", f"{float(cal['ece']):.4f}"))
    if "temperature" in cal and cal.get("applied"):
        summary.append(("temperature (fitted after training)",
                        f"{float(cal['temperature']):.3f} (ECE {float(cal['ece_before']):.4f} before)"))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary)
    parts = []
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    run = html.escape(str(report.get("run_dir") or ""))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{run}</p><table>{rows}</table>"
        + "".join(parts) + "</body></html>\n"
    )
