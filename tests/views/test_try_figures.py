"""The top-k bars of "Try it": order, labels, refusals."""

from __future__ import annotations

import pytest

from tl_widgets.views.figures.try_it import top_k_figure


def test_top_k_bars_most_probable_on_top():
    fig = top_k_figure([("cat", 0.7), ("dog", 0.2), ("fox", 0.1)], title="photo.jpg")
    bar = fig.data[0]
    assert list(bar.y) == ["fox", "dog", "cat"]  # Plotly draws the first category at the bottom
    assert list(bar.x) == [0.1, 0.2, 0.7] and list(bar.text) == ["10.0%", "20.0%", "70.0%"]
    assert bar.marker.color[-1] != bar.marker.color[0]  # the top class stands out
    assert fig.layout.title.text == "photo.jpg" and tuple(fig.layout.xaxis.range) == (0, 1)


def test_top_k_bars_refuse_bad_input():
    with pytest.raises(ValueError, match="Expected at least one"):
        top_k_figure([])
    with pytest.raises(ValueError, match=r"Expected probabilities in 0..1. Received: \[1.5\]"):
        top_k_figure([("cat", 1.5)])
