"""Figures: plain data in (lists, arrays, dicts), a Plotly ``Figure`` or an HTML string out. No Keras here.

- :mod:`~tl_widgets.views.figures.basic`: class counts, sample grids, layer map, LR finder, run overlays;
- :mod:`~tl_widgets.views.figures.evaluation`: confusion matrix, per-class metrics, galleries, the HTML report;
- :mod:`~tl_widgets.views.figures.calibration`: the reliability diagram;
- :mod:`~tl_widgets.views.figures.try_it`: the top-k bars of one image;
- :mod:`~tl_widgets.views.figures.sweep`: Optuna's own figures of a sweep;
- :mod:`~tl_widgets.views.figures.graph`: the model's computation graph;
- :mod:`~tl_widgets.views.figures.health`: the health check's findings as HTML;
- :mod:`~tl_widgets.views.figures.run_diff`: the settings that differ between runs, as HTML;
- :mod:`~tl_widgets.views.figures.curate_grid`: the curation grid's prediction bars and before/after table.
"""
