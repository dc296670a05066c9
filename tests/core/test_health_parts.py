"""The health check's parts on their own: adaptive lines, the neighbour index, outlier distances, weak groups."""

from __future__ import annotations

import numpy as np
import pytest

from tl_widgets.core.data.image_quality import QUALITY_FIELDS, QUALITY_RULES, Rule, flag, quality_stats


def test_the_dark_line_adapts_to_a_dark_dataset():
    rng = np.random.default_rng(0)
    tight = np.concatenate([rng.normal(170, 20, 500), [20, 25, 30]])
    mask, line = flag(tight, "dark", QUALITY_RULES["dark"][1])
    assert mask[-3:].all() and mask.sum() == 3 and 80 < line.value < 90  # median - 4 spreads
    wide = np.concatenate([rng.uniform(120, 250, 500), [20, 25, 30]])  # spread too wide for the relative line
    mask, line = flag(wide, "dark", QUALITY_RULES["dark"][1])
    assert mask[-3:].all() and mask.sum() == 3 and line.value == 50  # the absolute floor
    night_set = rng.normal(45, 6, 500)  # night photos: the dataset itself is dark
    mask, line = flag(night_set, "dark", QUALITY_RULES["dark"][1])
    assert mask.sum() <= 2 and line.value < 45 - 24  # only the relative line: median - 4 spreads
    assert "median" in line.rule and "always" not in line.rule


def test_a_uniform_dataset_does_not_flag_tiny_differences():
    values = np.r_[np.full(100, 3.0), 2.9]
    mask, line = flag(values, "entropy", Rule("low", gap=1.0))
    assert not mask.any() and line.value == pytest.approx(2.0)
    mask, _line = flag(np.r_[values, np.nan], "entropy", Rule("low", gap=1.0))
    assert not mask[-1]  # not measured: never flagged


def test_quality_stats_see_blur_darkness_and_flatness():
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(1)
    img = (rng.random((80, 80, 3)) * 255).astype(np.uint8)
    sharp = quality_stats(img)
    blurred = quality_stats(np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(3))))
    dark = quality_stats((img * 0.2).astype(np.uint8))
    flat = quality_stats(np.full((80, 80, 3), 128, np.uint8))
    s, p95, e = (QUALITY_FIELDS.index(k) for k in ("sharpness", "dark", "entropy"))
    assert blurred[s] < sharp[s] - 1.0
    assert dark[p95] < 0.25 * sharp[p95] and abs(dark[s] - sharp[s]) < 0.2  # darker is not blurrier
    assert np.isnan(flat[s]) and flat[e] == 0.0


def test_the_index_keeps_recall_against_the_exact_search():
    from tl_widgets.core.data.neighbours import similar_pairs

    rng = np.random.default_rng(0)
    n, planted = 30_000, 300
    x = rng.standard_normal((n, 64)).astype(np.float32)
    src = rng.choice(n - planted, planted, replace=False)
    x[n - planted:] = x[src] + 0.1 * rng.standard_normal((planted, 64)).astype(np.float32)
    exact = {(i, j) for i, j, _s in similar_pairs(x, 0.95, exact=True)}
    approx = {(i, j) for i, j, _s in similar_pairs(x, 0.95)}  # above EXACT_MAX: the index
    assert len(exact) >= planted
    assert len(exact & approx) / len(exact) >= 0.95 and approx <= exact


def test_knn_distance_finds_the_stranger():
    from tl_widgets.core.data.neighbours import knn_distance

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 16)).astype(np.float32)
    x[7] += 12.0
    d = knn_distance(x, 5)
    assert int(np.argmax(d)) == 7 and np.isfinite(d).all()
    sampled = knn_distance(x, 5, reference=100)  # against a sample: the stranger still stands out
    assert int(np.argmax(sampled)) == 7


def test_weak_groups_name_the_class_and_the_cluster_where_a_run_fails():
    from tl_widgets.core.data.health_groups import weak_groups

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 60)
    emb = rng.standard_normal((180, 8)).astype(np.float32)
    emb[:, 0] += np.where(labels == 2, 6.0, 0.0)  # class 2 forms its own cluster
    right = np.where(labels == 2, rng.random(180) < 0.3, rng.random(180) < 0.95)
    probs = np.full((180, 3), 0.05)
    probs[np.arange(180), np.where(right, labels, (labels + 1) % 3)] = 0.9
    keys = [f"c{c}/{i}.png" for i, c in enumerate(labels)]
    found = weak_groups(keys, labels, probs, emb, ["a", "b", "c"], "run-1")
    kinds = {f.kind: f for f in found}
    assert set(kinds) == {"weak_class", "weak_cluster"}
    assert "'c'" in kinds["weak_class"].message and all(k.startswith("c2/") for k in kinds["weak_class"].files)
    assert kinds["weak_class"].scores == sorted(kinds["weak_class"].scores, reverse=True)  # highest loss first
    assert weak_groups(keys, labels, np.eye(3)[labels], emb, ["a", "b", "c"], "run-1") == []  # a perfect run


def test_bad_inputs_are_clear_errors():
    from tl_widgets.core.data.neighbours import similar_pairs

    with pytest.raises(ValueError, match=r"Expected a cosine threshold in \(-1, 1\]. Received: 1.5"):
        similar_pairs(np.ones((3, 2)), 1.5)
