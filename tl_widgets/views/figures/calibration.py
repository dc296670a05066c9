"""The reliability diagram: how often the model is right at each confidence, before and after calibration.

Plain data in (the bins of :func:`tl_widgets.core.evaluation.calibration.reliability_bins`);
``go.Figure`` out. No Keras here.
"""

from __future__ import annotations

from typing import Any, Mapping

import plotly.graph_objects as go

from tl_widgets.core.i18n import _

__all__ = ["reliability_figure", "reliability_figure_of"]


def _points(bins: Mapping[str, Any]) -> tuple[list[float], list[float], list[int]]:
    keys = ("confidence", "accuracy", "count")
    if not all(k in bins for k in keys) or len({len(bins[k]) for k in keys}) != 1:
        raise ValueError(f"Expected reliability bins with equal-length {list(keys)}. Received keys: {sorted(bins)}")
    rows = [(c, a, n) for c, a, n in zip(bins["confidence"], bins["accuracy"], bins["count"]) if n]
    return [r[0] for r in rows], [r[1] for r in rows], [int(r[2]) for r in rows]


def reliability_figure(bins: Mapping[str, Any], *, before: Mapping[str, Any] | None = None,
                       ece: float | None = None, ece_before: float | None = None,
                       temperature: float | None = None) -> go.Figure:
    """Accuracy against confidence per bin (the diagonal is perfect calibration).

    Args:
        bins: The model's bins now (calibrated when the run was).
        before: The bins before calibration, drawn dashed when given.
        ece: Expected calibration error of ``bins`` (in the title).
        ece_before: ECE before calibration (in the title).
        temperature: The fitted temperature (in the title).
    """
    fig = go.Figure()
    hover = _("confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} images") + "<extra></extra>"
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=_("perfectly calibrated"),
                    line=dict(color="#999", dash="dot"), hoverinfo="skip")
    if before is not None:
        x, y, n = _points(before)
        fig.add_scatter(x=x, y=y, customdata=n, mode="lines+markers", name=_("before calibration"),
                        line=dict(dash="dash", color="#d62728"),
                        hovertemplate=hover)
    x, y, n = _points(bins)
    fig.add_scatter(x=x, y=y, customdata=n, mode="lines+markers", name=_("calibrated") if before is not None else _("model"),
                    marker=dict(size=[6 + min(14, k ** 0.5) for k in n]), line=dict(color="#1f77b4"),
                    hovertemplate=hover)
    parts = []
    if ece_before is not None:
        parts.append(_("ECE before {ece:.3f}").format(ece=ece_before))
    if ece is not None:
        parts.append((_("ECE after {ece:.3f}") if ece_before is not None else _("ECE {ece:.3f}")).format(ece=ece))
    if temperature is not None:
        parts.append(_("temperature {t:.2f}").format(t=temperature))
    fig.update_layout(title=_("Reliability diagram") + (f" ({', '.join(parts)})" if parts else ""),
                      xaxis_title=_("confidence (top-1 probability)"), yaxis_title=_("accuracy"),
                      xaxis_range=[0, 1.02], yaxis_range=[0, 1.02], margin=dict(t=50, l=60, r=20, b=50),
                      legend=dict(x=0.02, y=0.98))
    return fig


def reliability_figure_of(calibration: Mapping[str, Any]) -> go.Figure | None:
    """The diagram for an evaluation's ``calibration`` dict (None when it has no bins).

    When the training-time temperature was applied (``applied``, ``bins_before``, ``ece_before``) the
    uncalibrated curve is drawn too.
    """
    if not calibration or "bins" not in calibration:
        return None
    if not calibration.get("applied"):  # no temperature in the model: only the model as it is
        return reliability_figure(calibration["bins"], ece=calibration.get("ece"))
    return reliability_figure(calibration["bins"], before=calibration.get("bins_before"),
                              ece=calibration.get("ece"), ece_before=calibration.get("ece_before"),
                              temperature=calibration.get("temperature"))
