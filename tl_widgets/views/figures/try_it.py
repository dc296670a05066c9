"""Plotly figures for trying a model on new images: the top-k probability bars.

Plain data in (``(class, probability)`` pairs); ``go.Figure`` out. No Keras here.
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from tl_widgets.core.i18n import _

__all__ = ["top_k_figure"]

_BAR = "#1f5fa8"  # the top class (contrast 6.4:1 on white)
_REST = "#8fb3dc"


def top_k_figure(top: Sequence[tuple[str, float]], *, title: str | None = None) -> go.Figure:
    """Horizontal bars of the top-k classes, most probable on top, each labelled with its percentage.

    Args:
        top: ``[(class, probability), ...]`` most probable first (probabilities in 0..1).
        title: Shown above the bars (None: none).

    Raises:
        ValueError: No classes, or a probability outside 0..1.
    """
    if not top:
        raise ValueError("Expected at least one (class, probability) pair. Received: none")
    names = [str(name) for name, _p in top]
    probs = [float(p) for _n, p in top]
    if any(not 0.0 <= p <= 1.0 + 1e-6 for p in probs):
        raise ValueError(f"Expected probabilities in 0..1. Received: {probs}")
    fig = go.Figure(go.Bar(
        x=probs[::-1], y=names[::-1], orientation="h", text=[f"{p:.1%}" for p in probs[::-1]],
        textposition="outside", cliponaxis=False,
        marker_color=[_REST] * (len(probs) - 1) + [_BAR],
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=70 + 26 * len(probs) + (24 if title else 0),
        margin={"l": 10, "r": 50, "t": 34 if title else 8, "b": 30},
        xaxis={"range": [0, 1.0], "tickformat": ".0%", "title": {"text": _("probability")}},
        yaxis={"automargin": True, "type": "category"},
        showlegend=False,
    )
    return fig
