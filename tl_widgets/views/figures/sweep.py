"""Optuna's own Plotly figures of a sweep: optimisation history, parallel coordinates, parameter importances.

Each figure comes from :mod:`optuna.visualization` unchanged except for its
height; a study that cannot have a figure yet (no complete trial, or fewer
than two for importances) gets an empty figure whose title says why.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from tl_widgets.core.i18n import _

__all__ = ["sweep_figures", "FIGURES"]

FIGURES = ("history", "parallel", "importance")
"""The figure keys, in display order."""


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, height=320)
    return fig


def sweep_figures(study: Any) -> dict[str, go.Figure]:
    """``{"history": ..., "parallel": ..., "importance": ...}`` for an Optuna study."""
    import optuna
    from optuna import visualization as vis

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        why = _("No complete trial yet")
        return {key: _empty(why) for key in FIGURES}
    out = {"history": vis.plot_optimization_history(study), "parallel": vis.plot_parallel_coordinate(study)}
    if len(complete) >= 2 and len({tuple(sorted(t.params.items())) for t in complete}) >= 2:
        try:
            out["importance"] = vis.plot_param_importances(study)
        except (RuntimeError, ValueError) as exc:  # e.g. every trial took the same values
            out["importance"] = _empty(_("Parameter importances unavailable: {reason}").format(reason=exc))
    else:
        out["importance"] = _empty(_("Parameter importances need two different complete trials"))
    for fig in out.values():
        fig.update_layout(height=320, margin={"l": 50, "r": 20, "t": 40, "b": 40})
    return out
