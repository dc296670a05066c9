"""Custom widgets, the anywidget way: one ``.py`` (traitlets) and one ``.js`` (``render({ model, el })``) each.

- :mod:`~tl_widgets.views.widgets.chart`: ``PlotlyChart``, a chart that streams new points;
- :mod:`~tl_widgets.views.widgets.webcam`: ``Webcam``, getUserMedia in the page, frames to Python;
- :mod:`~tl_widgets.views.widgets.a11y`: ``AccessibilityHelper``, accessibility fixes for a whole widget box.
"""
