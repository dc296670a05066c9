"""Plotly.js for the chart widget: the bundle shipped with the ``plotly`` package and its version.

:class:`~tl_widgets.views.widgets.chart.PlotlyChart` serves ``plotly.min.js`` to the
browser once per page, gzipped (about 1.5 MB instead of 4.8 MB), and tags it
with the Plotly.js version so every chart on the page reuses the same copy.
Both values are read from disk once per process.
"""

from __future__ import annotations

import functools
import gzip
import pathlib
import re

import plotly

__all__ = ["PLOTLY_JS", "plotly_js_version", "plotly_js_payload"]

PLOTLY_JS = pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@functools.cache
def plotly_js_version() -> str:
    """Returns the version of the bundled Plotly.js, read from its header."""
    head = PLOTLY_JS.read_bytes()[:200].decode("utf-8", "replace")
    match = re.search(r"plotly\.js v([0-9][0-9A-Za-z.+-]*)", head)
    return match.group(1) if match else f"py-{plotly.__version__}"


@functools.cache
def plotly_js_payload(encoding: str) -> bytes:
    """Returns ``plotly.min.js``, gzipped when ``encoding == "gzip"``."""
    if not PLOTLY_JS.is_file():
        raise FileNotFoundError(
            f"Expected Plotly.js at {PLOTLY_JS} (shipped with the plotly package). "
            "Reinstall plotly."
        )
    raw = PLOTLY_JS.read_bytes()
    return gzip.compress(raw, compresslevel=6, mtime=0) if encoding == "gzip" else raw
