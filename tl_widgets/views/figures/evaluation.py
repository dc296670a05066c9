"""Plotly figures for evaluation: confusion matrix, per-class metrics, image galleries, HTML report.

Plain data in (lists, dicts, numpy arrays, an ``EvalReport.to_dict()``);
``go.Figure`` out. No Keras here.
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from tl_widgets.core.i18n import _
from tl_widgets.views.figures.basic import image_grid_figure

__all__ = ["confusion_figure", "per_class_figure", "top_losses_figure", "gradcam_figure", "report_html"]


def confusion_figure(confusion: Sequence[Sequence[int]] | np.ndarray, class_names: Sequence[str],
                     normalize: bool = False) -> go.Figure:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted); the one confusion figure.

    Args:
        confusion: ``confusion[i][j]`` counts (square, one row per class).
        class_names: Axis labels.
        normalize: Show each row as fractions of its true class (rows with no images stay 0; counts stay in
            the hover).

    Raises:
        ValueError: Not a square matrix with one row per class, or a negative or non-finite count.
    """
    from tl_widgets.core.evaluation.metrics import confusion_fractions

    cm, fractions = confusion_fractions(confusion, class_names)
    z = fractions if normalize else cm
    text = [[f"{v:.2f}" if normalize else str(int(v)) for v in row] for row in z]
    names = [str(name) for name in class_names]
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=names, y=names, text=text, texttemplate="%{text}",
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


def top_losses_figure(images: Any, top_losses: Sequence[Mapping[str, Any]], *, columns: int = 4) -> go.Figure:
    """The most confidently wrong images, captioned ``true -> predicted (p)``."""
    captions = [f"{r['true']} → {r['predicted']} ({float(r['probability']):.2f})" for r in top_losses]
    return image_grid_figure(images, captions, cols=columns, title=_("Top losses: true → predicted (probability)"),
                             caption_size=10)


def gradcam_figure(overlays: Any, captions: Sequence[str], *, columns: int = 4) -> go.Figure:
    """Grad-CAM overlays in a grid."""
    return image_grid_figure(overlays, captions, cols=columns, title="Grad-CAM", caption_size=10)


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
