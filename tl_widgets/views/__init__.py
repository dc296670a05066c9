"""Views: Plotly figures and the streaming chart widget; plain data in.

Nothing here imports Keras or TensorFlow. Live charts consume the typed events
of :mod:`tl_widgets.core.events`.
"""

from __future__ import annotations

from tl_widgets.views.widgets.chart import PlotlyChart
from tl_widgets.views.decimate import decimate_minmax
from tl_widgets.views.figures.graph import model_graph
from tl_widgets.views.live import EventPump, LiveTrainingCharts, TrainingProgress

__all__ = [
    "PlotlyChart",
    "decimate_minmax",
    "LiveTrainingCharts",
    "EventPump",
    "TrainingProgress",
    "model_graph",
]
