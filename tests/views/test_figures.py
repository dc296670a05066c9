"""Every static figure builds from plain data and refuses bad input."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from tl_widgets.views.figures import basic as figures
from tl_widgets.views.figures.evaluation import confusion_figure, gradcam_figure, top_losses_figure

BLOCKS = [
    {"name": "stem", "trainable": False, "trainable_params": 0, "frozen_params": 928, "n_layers": 3},
    {"name": "block_1", "trainable": "mixed", "trainable_params": 500, "frozen_params": 1200, "n_layers": 9},
    {"name": "head", "trainable": True, "trainable_params": 12_810, "frozen_params": 0, "n_layers": 2},
]


def test_layer_map_colours_blocks_by_state():
    fig = figures.layer_map_figure(BLOCKS)
    assert isinstance(fig, go.Figure)
    by_state = {t.name: list(t.y) for t in fig.data}
    assert by_state == {"trainable": ["head"], "mixed": ["block_1"], "frozen": ["stem"]}
    mixed = next(t for t in fig.data if t.name == "mixed")
    assert list(mixed.customdata[0]) == [500, 1200, 9] and mixed.x[0] == 1700
    assert list(fig.layout.yaxis.categoryarray) == ["stem", "block_1", "head"]
    assert "13,310 trainable" in fig.layout.title.text and "2,128 frozen" in fig.layout.title.text


@pytest.mark.parametrize(
    "bad, match",
    [({"trainable": "yes"}, "True, False or 'mixed'"), ({"frozen_params": -1}, "frozen_params"),
     ({"n_layers": 2.5}, "n_layers"), ({"name": None}, "str 'name'")],
)
def test_layer_map_refuses_bad_blocks(bad, match):
    with pytest.raises(ValueError, match=match):
        figures.layer_map_figure([{**BLOCKS[0], **bad}])
    with pytest.raises(ValueError, match="unique"):
        figures.layer_map_figure([BLOCKS[0], BLOCKS[0]])


def test_class_counts():
    fig = figures.class_counts_figure({"cat": 10, "dog": 30})
    assert list(fig.data[0].x) == ["cat", "dog"] and list(fig.data[0].y) == [10, 30]
    assert fig.layout.shapes[0].y0 == 20
    with pytest.raises(ValueError, match="count >= 0"):
        figures.class_counts_figure({"cat": -1})
    with pytest.raises(ValueError, match="at least one class"):
        figures.class_counts_figure({})


def test_confusion_normalised_rows_sum_to_one_and_empty_rows_stay_zero():
    """The one confusion figure (views/figures/evaluation.py): rows as fractions, counts kept in customdata."""
    matrix = [[8, 2, 0], [1, 9, 0], [0, 0, 0]]
    fig = confusion_figure(matrix, ["a", "b", "c"], normalize=True)
    z = np.asarray(fig.data[0].z)
    assert np.allclose(z[:2].sum(axis=1), 1) and z[2].sum() == 0
    assert fig.data[0].text[0][0] == "0.80" and np.asarray(fig.data[0].customdata).tolist() == matrix
    assert "row-normalised" in fig.layout.title.text
    raw = confusion_figure(matrix, ["a", "b", "c"], normalize=False)
    assert np.asarray(raw.data[0].z)[1, 1] == 9 and raw.data[0].text[1][1] == "9"
    assert "counts" in raw.layout.title.text and list(raw.data[0].x) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="square"):
        confusion_figure([[1, 2]], ["a"], normalize=False)
    with pytest.raises(ValueError, match="square 1x1"):
        confusion_figure([[1, 2], [3, 4]], ["a"], normalize=False)
    with pytest.raises(ValueError, match="finite counts >= 0"):
        confusion_figure([[1, -2], [3, 4]], ["a", "b"])


def test_lr_finder_marks_the_suggestion():
    lrs = np.logspace(-6, 0, 50)
    losses = np.concatenate([np.linspace(2, 0.5, 40), np.linspace(0.5, 5, 10)])
    fig = figures.lr_finder_figure(lrs, losses, suggested_lr=1e-3)
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[0].x0 == 1e-3
    assert fig.data[1].x[0] == 1e-3
    assert len(figures.lr_finder_figure(lrs, losses, None).data) == 1
    with pytest.raises(ValueError, match="> 0"):
        figures.lr_finder_figure([0.0, 1.0], [1.0, 2.0], None)


def test_runs_overlay_has_one_line_per_run():
    fig = figures.runs_overlay_figure({"r1": [(1, 0.5), (2, 0.4)], "r2": [(1, 0.6)], "empty": []}, "val_loss")
    assert [t.name for t in fig.data] == ["r1", "r2", "empty"]
    assert list(fig.data[0].y) == [0.5, 0.4] and fig.layout.yaxis.title.text == "val_loss"


def test_image_grid_embeds_pngs():
    images = np.zeros((5, 8, 12, 3), dtype=np.uint8)
    images[2, :, :, 0] = 255
    fig = figures.image_grid_figure(images, titles=[f"img {i}" for i in range(5)])
    assert len(fig.data) == 5 and all(t.source.startswith("data:image/png;base64,") for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == [f"img {i}" for i in range(5)]
    with pytest.raises(ValueError, match="uint8"):
        figures.image_grid_figure(images.astype(np.float32))
    with pytest.raises(ValueError, match="5 titles"):
        figures.image_grid_figure(images, titles=["x"])


def test_the_one_image_grid_serves_the_galleries():
    """Top losses and Grad-CAM use the same grid: captions, a title, PNG sources; an empty set says so."""
    images = np.full((3, 8, 8, 3), 200, dtype=np.uint8)
    fig = top_losses_figure(images, [{"true": "a", "predicted": "b", "probability": 0.9}] * 3, columns=2)
    assert len(fig.data) == 3 and all(t.source.startswith("data:image/png;base64,") for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == ["a → b (0.90)"] * 3 and fig.layout.title.text
    empty = gradcam_figure(np.zeros((0, 8, 8, 3), np.uint8), [])
    assert empty.data == () and empty.layout.annotations[0].text == "nothing to show"
    with pytest.raises(ValueError, match="cols >= 1"):
        figures.image_grid_figure(images, cols=0)


def test_class_counts_mean_label_sits_beside_the_plot_not_over_the_bars():
    """The issue's "mean 179.2" over a bar label: the mean's label is in the right margin, the bars' above them."""
    counts = {f"class {i}": 170 + 2 * i for i in range(10)}  # every bar's height near the mean
    fig = figures.class_counts_figure(counts)
    (note,) = fig.layout.annotations
    assert note.text == "mean 179.0"
    assert note.xref == "x domain" and note.x == 1 and note.xanchor == "left"  # starts where the plot area ends
    assert fig.layout.margin.r >= 7 * len(note.text)  # the margin holds it
    # The counts sit in the bars' tops (above a bar too short for one) and the mean line runs behind the bars.
    assert fig.data[0].textposition == "auto" and fig.data[0].insidetextanchor == "end"
    assert fig.layout.shapes[0].layer == "below"
    assert fig.layout.yaxis.range[1] > max(counts.values())  # room for a label above the tallest bar


def test_runs_overlay_names_every_run_and_says_when_nothing_is_drawn():
    one = figures.runs_overlay_figure({"20261130-demo-1": [(0, 0.5), (1, 0.7)]}, "val_accuracy")
    assert one.layout.showlegend is True and one.data[0].name == "20261130-demo-1"
    assert one.layout.xaxis.title.text == "epoch" and one.layout.xaxis.dtick == 1  # whole epochs, no 0.5
    empty = figures.runs_overlay_figure({"r1": []}, "val_accuracy")
    assert len(empty.data) == 0 and empty.layout.xaxis.visible is False
    assert "No val_accuracy recorded yet" in empty.layout.annotations[0].text
    assert figures.runs_overlay_figure({}, "loss").layout.annotations[0].text == "No runs picked"


def test_config_diff_table_escapes_and_shows_missing_fields():
    from tl_widgets.core.runs.config_diff import MISSING
    from tl_widgets.views.figures.run_diff import config_diff_html

    html = config_diff_html([("model.dropout", 0.2, 0.5), ("phases[1].epochs", 4, MISSING),
                             ("data.path", None, "<b>x</b>")], "run-a", "run-b")
    assert html.count("<tr>") == 4 and "<code>model.dropout</code>" in html and "—" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html and ">none<" in html
    assert "same settings" in config_diff_html([], "a", "b")
