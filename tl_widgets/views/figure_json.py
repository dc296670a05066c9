"""Figures as plain JSON for the chart widget: values, whole figures and layout updates.

:class:`~tl_widgets.views.widgets.chart.PlotlyChart` keeps its figure as plain dicts
and lists and sends only JSON to the browser. These helpers turn a
``go.Figure`` or dict into that form (decoding Plotly's typed-array encoding of
numpy data), turn a 1-D sequence into a JSON list (NaN and inf become None),
and apply Plotly's ``relayout`` semantics to the kept layout.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["json_values", "decode_typed_array", "figure_dict", "apply_relayout"]

_PATH_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def json_values(values: Any, what: str) -> list[Any]:
    """Converts a 1-D sequence to a JSON-ready list; NaN and inf become None."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"Expected a 1-D sequence of {what}. Received shape {arr.shape}.")
    if arr.dtype.kind in "biu":
        return arr.tolist()
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if finite.all():
            return arr.tolist()
        obj = arr.astype(object)
        obj[~finite] = None
        return obj.tolist()
    if arr.dtype.kind in "USO":
        out = arr.tolist()
        for value in out:
            if value is not None and not isinstance(value, (str, int, float)):
                raise TypeError(f"Expected numbers or strings as {what}. Received: {value!r}")
        return out
    raise TypeError(f"Expected numbers or strings as {what}. Received dtype {arr.dtype}.")


def decode_typed_array(value: Any) -> Any:
    """Plotly >= 6 writes numpy arrays as ``{"dtype", "bdata"[, "shape"]}``: back to a list."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            arr = arr.reshape([int(n) for n in str(shape).split(",")])
        return arr.tolist()
    return value


def figure_dict(figure: go.Figure | Mapping[str, Any] | None) -> dict[str, Any]:
    """Returns a plain JSON dict ``{"data": [...], "layout": {...}}``."""
    if figure is None:
        return {"data": [], "layout": {}}
    if isinstance(figure, go.Figure):
        plain = json.loads(pio.to_json(figure, validate=False))
    elif isinstance(figure, Mapping):
        plain = json.loads(pio.to_json(dict(figure), validate=False))
    else:
        raise TypeError(
            f"Expected a plotly Figure, a dict or None. Received: {type(figure).__name__}"
        )
    data = plain.get("data", [])
    layout = plain.get("layout", {})
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise ValueError(f"Expected figure['data'] to be a list of trace dicts. Received: {data!r:.200}")
    for trace in data:  # x/y are kept as Python sequences (bounded deques) on this side
        for key in ("x", "y"):
            if key in trace:
                trace[key] = decode_typed_array(trace[key])
    if not isinstance(layout, dict):
        raise ValueError(f"Expected figure['layout'] to be a dict. Received: {layout!r:.200}")
    return {"data": data, "layout": layout}


def apply_relayout(layout: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Applies Plotly ``relayout`` semantics (dotted keys, ``a[0]``, None deletes)."""
    for key, value in update.items():
        parts = str(key).split(".")
        node: Any = layout
        for i, part in enumerate(parts):
            match = _PATH_PART.match(part)
            if match is None:
                raise ValueError(f"Expected a layout path like 'xaxis.title.text'. Received: {key!r}")
            name, index = match.group(1), match.group(2)
            last = i == len(parts) - 1
            if index is None:
                if last:
                    if value is None:
                        node.pop(name, None)
                    else:
                        node[name] = value
                else:
                    node = node.setdefault(name, {})
                continue
            items = node.setdefault(name, [])
            idx = int(index)
            while len(items) <= idx:
                items.append({})
            if last:
                items[idx] = {} if value is None else value
            else:
                node = items[idx]
