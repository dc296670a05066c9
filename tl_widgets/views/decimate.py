"""Min/max decimation: fewer points on screen, spikes still visible.

:func:`decimate_minmax` reduces a whole series at once. :class:`StreamDecimator`
does the same for a series that grows while training runs: it keeps the
display at most ``max_points`` long, tells the chart which points are new (so
only those travel to the browser) and, rarely, when its bucket width doubles,
that the whole display must be replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["decimate_minmax", "DisplayUpdate", "StreamDecimator"]


def _minmax_by_edges(xs: np.ndarray, ys: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keeps the min and max of each bucket ``[edges[i], edges[i+1])``, in x order.

    All buckets must be non-empty and all ``ys`` finite.
    """
    starts = edges[:-1]
    counts = np.diff(edges)
    bucket = np.repeat(np.arange(len(starts)), counts)
    mins = np.minimum.reduceat(ys, starts)
    maxs = np.maximum.reduceat(ys, starts)
    # Position of the first minimum / maximum inside each bucket.
    at_min = np.flatnonzero(ys == mins[bucket])
    at_max = np.flatnonzero(ys == maxs[bucket])
    i_min = at_min[np.searchsorted(at_min, starts)]
    i_max = at_max[np.searchsorted(at_max, starts)]
    first = np.minimum(i_min, i_max)
    second = np.maximum(i_min, i_max)
    pairs = np.stack([first, second], axis=1).ravel()
    keep = np.ones(len(pairs), dtype=bool)
    keep[1::2] = second != first
    idx = pairs[keep]
    return xs[idx], ys[idx]


def decimate_minmax(
    xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray, n_buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduces a series to at most ``2 * n_buckets`` points, keeping extremes.

    The points are split into ``n_buckets`` buckets of (nearly) equal count;
    each bucket keeps its minimum and its maximum, in their original order, so
    a one-step spike survives any amount of decimation. Points whose y is NaN
    or infinite are dropped (Plotly cannot draw them anyway).

    Args:
        xs: The x values, in drawing order.
        ys: The y values, as many as ``xs``.
        n_buckets: How many buckets; at least 1.

    Returns:
        ``(xs, ys)`` as numpy arrays; the input (finite points only) when it
        already has at most ``2 * n_buckets`` points.

    Raises:
        ValueError: Shapes don't match or ``n_buckets < 1``.
    """
    if n_buckets < 1:
        raise ValueError(f"Expected n_buckets >= 1. Received: n_buckets={n_buckets}")
    x_arr = np.asarray(xs)
    y_arr = np.asarray(ys, dtype=np.float64)
    if x_arr.ndim != 1 or x_arr.shape != y_arr.shape:
        raise ValueError(
            f"Expected 1-D xs and ys of equal length. Received shapes {x_arr.shape} and {y_arr.shape}"
        )
    finite = np.isfinite(y_arr)
    if not finite.all():
        x_arr, y_arr = x_arr[finite], y_arr[finite]
    n = len(y_arr)
    if n <= 2 * n_buckets:
        return x_arr, y_arr
    edges = np.linspace(0, n, n_buckets + 1).astype(np.int64)
    edges = np.unique(edges)
    return _minmax_by_edges(x_arr, y_arr, edges)


@dataclass(frozen=True)
class DisplayUpdate:
    """What a chart must do to show a :class:`StreamDecimator`'s display.

    Attributes:
        replace: True when ``xs``/``ys`` are the whole body (redraw it);
            False when they are only new points to append.
        xs: x values (the whole body or the new points).
        ys: y values, as many as ``xs``.
        tail_xs: The partial last bucket (its min, max and latest point, plus
            the body's last point so the line joins): always replaced whole.
        tail_ys: y values of the tail.
    """

    replace: bool
    xs: list[float]
    ys: list[float]
    tail_xs: list[float]
    tail_ys: list[float]


class StreamDecimator:
    """Keeps a growing series displayable in at most ``max_points`` points.

    Raw points are grouped in buckets of ``width`` consecutive points; every
    full bucket is shown as its min and max (``width == 1`` shows raw points).
    When the body would pass ``max_points`` the width jumps (1 -> 4, then x2)
    and the whole body is recomputed from the raw history, which happens only
    ``log2(n / max_points)`` times in a run. The unfinished bucket is reported
    separately as a small "tail" (at most 4 points) so the latest value is
    always on screen.

    Args:
        max_points: Bound on the body's length (at least 8).
    """

    def __init__(self, max_points: int = 2000) -> None:
        if max_points < 8:
            raise ValueError(f"Expected max_points >= 8. Received: max_points={max_points}")
        self.max_points = max_points
        self.width = 1
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._done = 0  # raw points already folded into sent buckets
        self._shown = 0  # points in the body on screen
        self._last_body: tuple[float, float] | None = None
        self._seen = 0  # raw points already reported by update()

    def __len__(self) -> int:
        return len(self._xs)

    def append(self, x: float, y: float) -> None:
        """Adds one raw point (NaN/inf y values are skipped for display)."""
        if np.isfinite(y):
            self._xs.append(float(x))
            self._ys.append(float(y))

    def update(self) -> DisplayUpdate | None:
        """Returns what to draw since the last call, or None if nothing changed."""
        n = len(self._xs)
        if n == self._seen:
            return None
        self._seen = n
        replace = False
        full = n - n % self.width
        if self._shown + self._body_len(full - self._done) > self.max_points:
            while self._body_len(n) > self.max_points:
                self.width = 4 if self.width == 1 else self.width * 2
            full = n - n % self.width
            self._done, self._shown, self._last_body = 0, 0, None
            replace = True
        body_x, body_y = self._fold(self._done, full)
        self._done = full
        self._shown += len(body_x)
        if body_x:
            self._last_body = (body_x[-1], body_y[-1])
        tail_x, tail_y = self._tail(n)
        return DisplayUpdate(replace, body_x, body_y, tail_x, tail_y)

    def _body_len(self, n_raw: int) -> int:
        return n_raw if self.width == 1 else 2 * (n_raw // self.width)

    def _fold(self, start: int, stop: int) -> tuple[list[float], list[float]]:
        if stop <= start:
            return [], []
        xs = np.asarray(self._xs[start:stop])
        ys = np.asarray(self._ys[start:stop])
        if self.width == 1:
            return xs.tolist(), ys.tolist()
        edges = np.arange(0, stop - start + 1, self.width)
        out_x, out_y = _minmax_by_edges(xs, ys, edges)
        return out_x.tolist(), out_y.tolist()

    def _tail(self, n: int) -> tuple[list[float], list[float]]:
        if n <= self._done:
            return [], []
        part_x = np.asarray(self._xs[self._done : n])
        part_y = np.asarray(self._ys[self._done : n])
        idx = sorted({int(np.argmin(part_y)), int(np.argmax(part_y)), len(part_y) - 1})
        tail_x, tail_y = part_x[idx].tolist(), part_y[idx].tolist()
        if self._last_body is not None:
            tail_x.insert(0, self._last_body[0])
            tail_y.insert(0, self._last_body[1])
        return tail_x, tail_y
