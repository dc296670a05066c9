"""A Plotly chart widget that streams new points instead of resending history.

:class:`PlotlyChart` is an anywidget. Its browser side draws with the Plotly.js
bundled in the installed ``plotly`` package, so it works offline in JupyterLab
and Voilà alike. Every change to the figure travels as a custom message, in
order: ``react`` (full redraw), ``extend`` (only the new points, drawn with
``Plotly.extendTraces``), ``add_traces``, ``restyle`` and ``relayout``.

How Plotly.js reaches the browser: the widget's ``_esm`` is a few kilobytes.
The first chart view on a page asks its kernel for Plotly.js once (naming the
view: a chart answers each view once, and a kernel sends only a few bundles at a
time, :func:`~tl_widgets.views.plotly_bundle.may_send_bundle`); the kernel
answers with the gzipped ``plotly.min.js`` (about 1.5 MB instead of 4.8 MB) as
a binary buffer, the page evaluates it as an ES module and caches it on
``globalThis`` under the Plotly.js version, and every later chart on the page
(any kernel, any notebook) reuses it. ``plotly.FigureWidget`` instead carries
its 5 MB bundle in the synced state of every instance.

The Python side keeps a bounded snapshot of the figure (each trace keeps at
most ``max_points`` points). A view that is created later (a re-rendered
output, a second view of the same widget) asks for that snapshot and so shows
the recent bounded state, never an unbounded history.

The Plotly.js bundle comes from :mod:`tl_widgets.views.plotly_bundle`; figures
become plain JSON through :mod:`tl_widgets.views.figure_json`.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import pathlib
import re
import threading
from typing import Any, Callable, Mapping, Sequence, TypeVar

import anywidget
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import traitlets

from tl_widgets.views.figure_json import apply_relayout, figure_dict, json_values
from tl_widgets.views.plotly_bundle import may_send_bundle, plotly_js_payload, plotly_js_version

__all__ = ["PlotlyChart"]

_log = logging.getLogger(__name__)

_VIEW_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_BUNDLE_VIEWS = 16  # views of one chart that may each ask for Plotly.js once (a page asks once in all)


_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Runs a method under the chart's lock, so state and messages keep one order.

    The pump thread extends while the kernel's main thread answers snapshot
    requests: a snapshot must never miss, or repeat, points already sent.
    """

    @functools.wraps(method)
    def wrapper(self: PlotlyChart, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class PlotlyChart(anywidget.AnyWidget):
    """A Plotly chart that streams points to the browser.

    Example:

    >>> chart = PlotlyChart(go.Figure(go.Scatter(x=[], y=[], mode="lines")))
    >>> chart.extend({0: ([1, 2, 3], [0.9, 0.7, 0.6])})
    >>> chart.snapshot()["data"][0]["y"]
    [0.9, 0.7, 0.6]

    Args:
        figure: The initial figure (a ``go.Figure``, a dict with ``data`` and
            ``layout``, or None for an empty chart).
        height: Height of the chart in pixels.
        max_points: Default bound on points per trace, in the browser and in
            the snapshot, for :meth:`extend` calls that don't give one.
    """

    _esm = pathlib.Path(__file__).with_name("chart.js")
    _figure = traitlets.Dict(help="Bounded figure snapshot, read by a view when it first renders.").tag(sync=True)
    _plotly_version = traitlets.Unicode(help="Version of the Plotly.js the kernel serves.").tag(sync=True)
    height = traitlets.Int(320, help="Height of the chart in pixels.").tag(sync=True)
    label = traitlets.Unicode("", help="Accessible name (what a screen reader says for the chart); empty: the "
                              "figure's title and axis titles.").tag(sync=True)
    max_points = traitlets.Int(10_000, help="Default bound on the points kept per trace.")

    def __init__(
        self,
        figure: go.Figure | Mapping[str, Any] | None = None,
        height: int = 320,
        max_points: int = 10_000,
        **kwargs: Any,
    ) -> None:
        self._lock = threading.RLock()
        self._data: list[dict[str, Any]] = []
        self._points: list[tuple[collections.deque[Any], collections.deque[Any]]] = []
        self._has_xy: list[tuple[bool, bool]] = []
        self._layout: dict[str, Any] = {}
        self.requests_rejected = 0
        self._bundle_views: set[str] = set()
        self._click_handlers: list[Callable[[dict[str, Any]], None]] = []
        self._load(figure_dict(figure))
        super().__init__(
            height=height,
            max_points=max_points,
            _plotly_version=plotly_js_version(),
            _figure=self.snapshot(),
            **kwargs,
        )
        self.on_msg(self._on_browser_msg)
        # A chart inside an HBox otherwise gets a zero-width flex slot and Plotly draws nothing visible.
        if self.layout.width is None:
            self.layout.width = "100%"
        if self.layout.min_width is None:
            self.layout.min_width = "300px"

    @traitlets.validate("height")
    def _check_height(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if not 80 <= value <= 4000:
            raise traitlets.TraitError(f"Expected 80 <= height <= 4000 pixels. Received: height={value}")
        return value

    @traitlets.validate("max_points")
    def _check_max_points(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if value < 1:
            raise traitlets.TraitError(f"Expected max_points >= 1. Received: max_points={value}")
        return value

    @traitlets.validate("_plotly_version")
    def _check_version(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] != plotly_js_version():
            raise traitlets.TraitError(f"_plotly_version is read-only. Received: {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("_figure")
    def _check_figure(self, proposal: dict[str, Any]) -> dict[str, Any]:
        value = proposal["value"]
        if not (isinstance(value.get("data", []), list) and isinstance(value.get("layout", {}), dict)):
            raise traitlets.TraitError("Expected _figure = {'data': [...], 'layout': {...}}.")
        return value

    # -- public API -----------------------------------------------------------------

    @property
    def n_traces(self) -> int:
        """Number of traces in the figure."""
        return len(self._data)

    @_locked
    def snapshot(self) -> dict[str, Any]:
        """Returns the bounded figure state as a plain dict (a copy)."""
        data = []
        for trace, (xs, ys), (has_x, has_y) in zip(self._data, self._points, self._has_xy):
            plain = dict(trace)
            if has_x or xs:
                plain["x"] = list(xs)
            if has_y or ys:
                plain["y"] = list(ys)
            data.append(plain)
        return {"data": data, "layout": json.loads(json.dumps(self._layout))}

    @_locked
    def set_figure(self, figure: go.Figure | Mapping[str, Any] | None) -> None:
        """Replaces the whole figure (drawn with ``Plotly.react``).

        Args:
            figure: A ``go.Figure``, a dict with ``data`` and ``layout``, or None.
        """
        self._load(figure_dict(figure))
        snap = self.snapshot()
        self._figure = snap
        self.send({"type": "react", "figure": snap})

    @_locked
    def extend(
        self,
        points: Mapping[int, tuple[Sequence[Any] | np.ndarray, Sequence[Any] | np.ndarray]],
        max_points: int | None = None,
    ) -> None:
        """Appends points to traces, sending only the new points to the browser.

        Args:
            points: ``{trace_index: (xs, ys)}``; xs and ys of equal length.
            max_points: Keep at most this many points per extended trace (older
                ones scroll out, in the browser and in the snapshot). Defaults to
                the chart's ``max_points``.

        Raises:
            IndexError: A trace index doesn't exist.
            ValueError: xs and ys differ in length, or max_points < 1.
        """
        limit = self.max_points if max_points is None else int(max_points)
        if limit < 1:
            raise ValueError(f"Expected max_points >= 1. Received: max_points={max_points}")
        traces, new_x, new_y = self._validated(points)
        if not traces:
            return
        for idx, xs, ys in zip(traces, new_x, new_y):
            old_x, old_y = self._points[idx]
            if old_x.maxlen != limit:
                old_x, old_y = collections.deque(old_x, maxlen=limit), collections.deque(old_y, maxlen=limit)
                self._points[idx] = (old_x, old_y)
            old_x.extend(xs)
            old_y.extend(ys)
            self._has_xy[idx] = (True, True)
        self.send({"type": "extend", "traces": traces, "x": new_x, "y": new_y, "max": limit})

    @_locked
    def add_traces(self, traces: Sequence[go.Scatter | Mapping[str, Any]]) -> list[int]:
        """Appends traces to the figure (drawn with ``Plotly.addTraces``).

        Args:
            traces: Trace objects or dicts, e.g. ``{"type": "scatter", "name": "loss"}``.

        Returns:
            The indices of the new traces.
        """
        plain = figure_dict({"data": [t.to_plotly_json() if hasattr(t, "to_plotly_json") else dict(t) for t in traces]})
        first = len(self._data)
        added: list[dict[str, Any]] = []
        for trace in plain["data"]:
            self._has_xy.append(("x" in trace, "y" in trace))
            xs, ys = trace.pop("x", None), trace.pop("y", None)
            self._data.append(trace)
            self._points.append((collections.deque(xs or []), collections.deque(ys or [])))
            added.append({**trace, "x": list(xs or []), "y": list(ys or [])})
        self.send({"type": "add_traces", "traces": added})
        return list(range(first, len(self._data)))

    @_locked
    def set_data(self, points: Mapping[int, tuple[Sequence[Any] | np.ndarray, Sequence[Any] | np.ndarray]]) -> None:
        """Replaces the x/y data of some traces (drawn with ``Plotly.restyle``).

        Args:
            points: ``{trace_index: (xs, ys)}`` with the new, complete data.
        """
        traces, new_x, new_y = self._validated(points, keep_empty=True)
        if not traces:
            return
        for idx, xs, ys in zip(traces, new_x, new_y):
            limit = self._points[idx][0].maxlen
            self._points[idx] = (collections.deque(xs, maxlen=limit), collections.deque(ys, maxlen=limit))
            self._has_xy[idx] = (True, True)
        self.send({"type": "restyle", "traces": traces, "update": {"x": new_x, "y": new_y}})

    @_locked
    def restyle(self, update: Mapping[str, Any], traces: Sequence[int]) -> None:
        """Sets plain style attributes of some traces (``{"mode": "lines"}``; the data goes through :meth:`set_data`).

        Raises:
            ValueError: A trace index out of range, or ``x``/``y`` in ``update``.
        """
        idx = [int(i) for i in traces]
        if any(not 0 <= i < len(self._data) for i in idx) or {"x", "y"} & set(update):
            raise ValueError(f"Expected trace indices below {len(self._data)} and no x or y in the update. "
                             f"Received: traces={idx}, update keys={sorted(update)}")
        plain = json.loads(pio.to_json(dict(update), validate=False))
        for i in idx:
            self._data[i].update(plain)
        self.send({"type": "restyle", "traces": idx, "update": plain})

    @_locked
    def relayout(self, update: Mapping[str, Any]) -> None:
        """Updates the layout (``Plotly.relayout`` semantics: dotted keys, None deletes).

        Args:
            update: For example ``{"title.text": "Loss", "shapes": [...]}``.
        """
        plain = json.loads(pio.to_json(dict(update), validate=False))
        if not isinstance(plain, dict):
            raise TypeError(f"Expected a dict of layout updates. Received: {update!r:.200}")
        apply_relayout(self._layout, plain)
        self.send({"type": "relayout", "update": plain})

    # -- private ----------------------------------------------------------------------

    def _load(self, plain: dict[str, Any]) -> None:
        """Splits a plain figure into trace attributes, bounded points and layout."""
        self._data, self._points, self._has_xy = [], [], []
        for trace in plain["data"]:
            self._has_xy.append(("x" in trace, "y" in trace))
            xs = trace.pop("x", None)
            ys = trace.pop("y", None)
            self._data.append(trace)
            self._points.append(
                (collections.deque([] if xs is None else xs), collections.deque([] if ys is None else ys))
            )
        self._layout = plain["layout"]

    def _validated(
        self, points: Mapping[int, tuple[Any, Any]], keep_empty: bool = False
    ) -> tuple[list[int], list[list[Any]], list[list[Any]]]:
        traces: list[int] = []
        new_x: list[list[Any]] = []
        new_y: list[list[Any]] = []
        for key, pair in points.items():
            idx = int(key)
            if not 0 <= idx < len(self._data):
                raise IndexError(f"Expected a trace index in [0, {len(self._data)}). Received: {key!r}")
            xs, ys = pair
            x_list, y_list = json_values(xs, "x values"), json_values(ys, "y values")
            if len(x_list) != len(y_list):
                raise ValueError(
                    f"Expected as many x as y values for trace {idx}. Received: {len(x_list)} x, {len(y_list)} y"
                )
            if x_list or keep_empty:
                traces.append(idx)
                new_x.append(x_list)
                new_y.append(y_list)
        return traces, new_x, new_y

    def on_click(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Calls ``callback({"trace": int, "x": value, "y": value})`` when a point is clicked in the browser.

        The values are checked here (an int trace index within the figure, x and y
        short strings or finite numbers); anything else is counted in
        ``requests_rejected`` and dropped.
        """
        self._click_handlers.append(callback)

    def _click(self, content: dict[str, Any]) -> None:
        trace = content.get("trace")

        def ok(v: Any) -> bool:
            return (isinstance(v, str) and len(v) <= 200) or (
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))

        if not (isinstance(trace, int) and not isinstance(trace, bool) and 0 <= trace < len(self._data)
                and ok(content.get("x")) and ok(content.get("y"))):
            self.requests_rejected += 1
            _log.warning("PlotlyChart ignored a bad click message: %.200r", content)
            return
        event = {"trace": trace, "x": content["x"], "y": content["y"]}
        for handler in list(self._click_handlers):
            handler(event)

    def _on_browser_msg(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        """Answers a view's requests and forwards clicks; everything from the browser is validated."""
        if isinstance(content, dict) and content.get("type") == "click":
            self._click(content)  # outside the lock: a handler may redraw this chart from another thread
            return
        self._answer(content)

    @_locked
    def _answer(self, content: Any) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("plotly?", "snapshot?"):
            self.requests_rejected += 1
            _log.warning("PlotlyChart ignored an unexpected message from the browser: %.200r", content)
            return
        if content["type"] == "plotly?":
            view = content.get("view")
            if not isinstance(view, str) or not _VIEW_ID.match(view) or view in self._bundle_views \
                    or len(self._bundle_views) >= _MAX_BUNDLE_VIEWS or not may_send_bundle():
                self.requests_rejected += 1  # once per view, a few views per chart, a few bundles per kernel
                _log.warning("PlotlyChart refused a Plotly.js request (view %.80r): already answered or over the "
                             "kernel's rate", view)
                return
            self._bundle_views.add(view)
            encoding = "gzip" if content.get("gzip") is True else "identity"
            payload = plotly_js_payload(encoding)
            self.send(
                {"type": "plotly", "encoding": encoding, "version": plotly_js_version()}, buffers=[payload]
            )
            return
        view = content.get("view")
        if not isinstance(view, str) or not _VIEW_ID.match(view):
            self.requests_rejected += 1
            _log.warning("PlotlyChart ignored a snapshot request with a bad view id: %.80r", view)
            return
        snap = self.snapshot()
        self._figure = snap
        self.send({"type": "snapshot", "view": view, "figure": snap})
