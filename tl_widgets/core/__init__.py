"""The engine: Keras 3 only. Never imports ipywidgets, plotly or IPython.

See ``docs/ARCHITECTURE.md`` for what each module owns.
"""
