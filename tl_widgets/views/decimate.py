"""Min/max decimation: fewer points on screen, spikes still visible.

:func:`decimate_minmax` reduces a whole series at once. :class:`StreamDecimator`
does the same for a series that grows while training runs: it keeps the
display at most ``max_points`` long without keeping the raw series, tells the
chart which points are new (so only those travel to the browser) and, rarely,
when its bucket width doubles, that the whole display must be replaced.
"""

from __future__ import annotations

import math
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


_Point = tuple[float, float]


class _Bucket:
    """Consecutive raw points summarised by their (first) minimum, (first) maximum and latest point."""

    __slots__ = ("count", "low", "high", "last")

    def __init__(self, point: _Point) -> None:
        self.count = 1
        self.low = self.high = self.last = point

    def add(self, other: _Bucket) -> None:
        """Takes in the points of ``other``, which come after this bucket's."""
        self.count += other.count
        if other.low[1] < self.low[1]:
            self.low = other.low
        if other.high[1] > self.high[1]:
            self.high = other.high
        self.last = other.last

    def shown(self) -> list[_Point]:
        """The points drawn for a full bucket: its min and max in x order (one when they coincide)."""
        if self.low is self.high:
            return [self.low]
        return sorted((self.low, self.high))

    def tail(self) -> list[_Point]:
        """The points drawn for the unfinished bucket: min, max and latest, in x order."""
        return sorted({self.low, self.high, self.last})


class StreamDecimator:
    """Keeps a growing series displayable in at most ``max_points`` points.

    Raw points are grouped in buckets of ``width`` consecutive points; every
    full bucket is shown as its min and max (``width == 1`` shows raw points).
    When the body would pass ``max_points`` the width jumps (1 -> 4, then x2)
    and neighbouring buckets are merged (the min of two buckets is the smaller
    of their mins, so no raw point is needed): the whole body is then redrawn,
    which happens only ``log2(n / max_points)`` times in a run. The unfinished
    bucket is reported separately as a small "tail" (at most 4 points) so the
    latest value is always on screen.

    Only the display is kept (at most ``max_points`` buckets), never the raw
    series: the run's history is kept once, by
    :class:`~tl_widgets.core.training.history.HistoryRecorder`.

    Args:
        max_points: Bound on the body's length (at least 8).
    """

    def __init__(self, max_points: int = 2000) -> None:
        if max_points < 8:
            raise ValueError(f"Expected max_points >= 8. Received: max_points={max_points}")
        self.max_points = max_points
        self.width = 1
        self._body: list[_Bucket] = []  # full buckets, each ``width`` raw points
        self._open: _Bucket | None = None  # the unfinished bucket
        self._body_points = 0  # points drawn for the body
        self._sent = 0  # buckets of the body already reported
        self._count = 0  # finite raw points appended
        self._seen = 0  # raw points already reported by update()
        self._widened = False

    def __len__(self) -> int:
        return self._count

    def append(self, x: float, y: float) -> None:
        """Adds one raw point (NaN/inf y values are skipped for display)."""
        y = float(y)
        if not math.isfinite(y):
            return
        self._count += 1
        bucket = _Bucket((float(x), y))
        if self._open is None:
            self._open = bucket
        else:
            self._open.add(bucket)
        if self._open.count == self.width:
            self._close(self._open)
            self._open = None
            if self._body_points > self.max_points:
                self._widen()

    def update(self) -> DisplayUpdate | None:
        """Returns what to draw since the last call, or None if nothing changed."""
        if self._count == self._seen:
            return None
        self._seen = self._count
        replace, self._widened = self._widened, False
        start = 0 if replace else self._sent
        body_x: list[float] = []
        body_y: list[float] = []
        for bucket in self._body[start:]:
            for x, y in bucket.shown():
                body_x.append(x)
                body_y.append(y)
        self._sent = len(self._body)
        tail_x: list[float] = []
        tail_y: list[float] = []
        if self._open is not None:
            points = self._open.tail()
            if self._body:
                points.insert(0, self._body[-1].shown()[-1])
            tail_x = [x for x, _ in points]
            tail_y = [y for _, y in points]
        return DisplayUpdate(replace, body_x, body_y, tail_x, tail_y)

    def _close(self, bucket: _Bucket) -> None:
        self._body.append(bucket)
        self._body_points += len(bucket.shown())

    def _widen(self) -> None:
        """Doubles the width (1 -> 4 first) until the body fits, merging neighbouring buckets."""
        while self._body_points > self.max_points:
            factor = 4 if self.width == 1 else 2
            self.width *= factor
            old, pending = self._body, self._open
            self._body, self._open, self._body_points = [], None, 0
            for i in range(0, len(old) - len(old) % factor, factor):
                merged = old[i]
                for other in old[i + 1:i + factor]:
                    merged.add(other)
                self._close(merged)
            leftover = old[len(old) - len(old) % factor:]
            if pending is not None:
                leftover.append(pending)
            for bucket in leftover:
                if self._open is None:
                    self._open = bucket
                else:
                    self._open.add(bucket)
        self._widened = True
        self._sent = 0
