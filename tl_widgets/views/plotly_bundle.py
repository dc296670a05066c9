"""Plotly.js for the chart widget: the bundle shipped with the ``plotly`` package and its version.

:class:`~tl_widgets.views.widgets.chart.PlotlyChart` serves ``plotly.min.js`` to the
browser once per page, gzipped (about 1.5 MB instead of 4.8 MB), and tags it
with the Plotly.js version so every chart on the page reuses the same copy.
Both values are read from disk once per process (a kernel), and :func:`may_send_bundle`
bounds how often a kernel sends the bundle at all: a page asks once, but a hostile page
could ask in a loop (each answer is 1.5-4.8 MB).
"""

from __future__ import annotations

import functools
import gzip
import pathlib
import re
import threading
import time

import plotly

__all__ = ["PLOTLY_JS", "plotly_js_version", "plotly_js_payload", "may_send_bundle", "BUNDLE_BURST",
           "BUNDLE_REFILL_S"]

BUNDLE_BURST = 8
"""Bundles a kernel sends at once before the rate below applies (a page needs one)."""
BUNDLE_REFILL_S = 30.0
"""Seconds for one more bundle once the burst is spent."""

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


class _Bucket:
    """A token bucket: ``capacity`` at once, one more every ``refill_s`` seconds."""

    def __init__(self, capacity: int, refill_s: float) -> None:
        self.capacity, self.refill_s = capacity, refill_s
        self.tokens, self.at = float(capacity), time.monotonic()
        self.lock = threading.Lock()

    def take(self, now: float | None = None) -> bool:
        with self.lock:
            now = time.monotonic() if now is None else now
            self.tokens = min(self.capacity, self.tokens + (now - self.at) / self.refill_s)
            self.at = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


_BUNDLES = _Bucket(BUNDLE_BURST, BUNDLE_REFILL_S)  # this kernel's; what the bundle cache above is to memory


def may_send_bundle(now: float | None = None) -> bool:
    """True when this kernel may send Plotly.js once more (at most :data:`BUNDLE_BURST` at once, then one every
    :data:`BUNDLE_REFILL_S` seconds); each True counts."""
    return _BUNDLES.take(now)
