"""Min/max decimation keeps spikes and bounds the display."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tl_widgets.views.decimate import StreamDecimator, decimate_minmax


def noisy(n: int, seed: int = 0) -> np.ndarray:
    return 1.0 + 0.01 * np.random.default_rng(seed).standard_normal(n)


def test_a_one_step_spike_survives():
    ys = noisy(100_000)
    ys[43_210] = 25.0
    ys[77_777] = -3.0
    xs, out = decimate_minmax(np.arange(100_000), ys, 200)
    assert len(out) <= 400
    assert out.max() == 25.0 and xs[np.argmax(out)] == 43_210
    assert out.min() == -3.0 and xs[np.argmin(out)] == 77_777
    assert np.all(np.diff(xs) > 0)  # original order kept


def test_short_series_are_returned_whole_and_nan_dropped():
    xs, ys = decimate_minmax([1, 2, 3], [1.0, math.nan, 2.0], 10)
    assert xs.tolist() == [1, 3] and ys.tolist() == [1.0, 2.0]


def test_constant_buckets_give_one_point():
    xs, ys = decimate_minmax(np.arange(1000), np.ones(1000), 10)
    assert len(xs) == 10 and set(ys.tolist()) == {1.0}


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_buckets >= 1"):
        decimate_minmax([1], [1], 0)
    with pytest.raises(ValueError, match="equal length"):
        decimate_minmax([1, 2], [1], 3)


def replay(dec: StreamDecimator, ys: np.ndarray, every: int) -> tuple[list[float], list[float], int, list[float]]:
    """Feeds ``ys`` and applies the updates like a chart would."""
    body_x: list[float] = []
    body_y: list[float] = []
    replaces = 0
    tail: list[float] = []
    for i, y in enumerate(ys):
        dec.append(i + 1, float(y))
        if (i + 1) % every == 0 or i == len(ys) - 1:
            update = dec.update()
            if update is None:
                continue
            if update.replace:
                replaces += 1
                body_x, body_y = list(update.xs), list(update.ys)
            else:
                body_x += update.xs
                body_y += update.ys
            tail = update.tail_ys
            assert len(body_x) <= dec.max_points
            assert len(update.tail_xs) <= 4
    return body_x, body_y, replaces, tail


def test_stream_stays_bounded_keeps_spikes_and_rarely_redraws():
    ys = noisy(50_003, seed=1)
    ys[31_337] = 9.0
    dec = StreamDecimator(max_points=1000)
    body_x, body_y, replaces, tail = replay(dec, ys, every=97)
    assert max(body_y + tail) == 9.0
    assert body_x[body_y.index(9.0)] == 31_338
    assert np.all(np.diff(body_x) > 0)
    assert replaces <= math.ceil(math.log2(50_003 / 1000)) + 1
    assert dec.width >= 64


def test_stream_sends_raw_points_until_the_bound():
    dec = StreamDecimator(max_points=100)
    body_x, body_y, replaces, tail = replay(dec, np.arange(100.0), every=7)
    assert body_y == list(np.arange(100.0)) and replaces == 0 and tail == []
    assert dec.update() is None


def test_tail_shows_the_latest_point():
    dec = StreamDecimator(max_points=8)
    for i in range(11):
        dec.append(i, float(i))
    update = dec.update()
    assert update.replace and dec.width == 4
    assert update.tail_xs[-1] == 10 and update.tail_xs[0] == update.xs[-1]
    with pytest.raises(ValueError, match="max_points >= 8"):
        StreamDecimator(max_points=2)


def test_stream_keeps_only_its_display_and_matches_whole_series_decimation():
    from tl_widgets.views.decimate import _minmax_by_edges

    ys = noisy(30_001, seed=2)
    ys[12_345] = -7.0
    dec = StreamDecimator(max_points=500)
    body_x, body_y, _, _ = replay(dec, ys, every=113)
    assert len(dec) == 30_001 and len(dec._body) <= 500  # buckets, not raw points
    full = len(ys) - len(ys) % dec.width
    xs = np.arange(1, len(ys) + 1, dtype=float)
    want_x, want_y = _minmax_by_edges(xs[:full], ys[:full], np.arange(0, full + 1, dec.width))
    assert body_x == want_x.tolist() and body_y == want_y.tolist()
    assert -7.0 in body_y
